"""Which e-mail addresses Kedja accepts: plain ones only, checked by `email-validator`.

The engine owns the rule because a form field with `format: "email"` is checked with it
(engine/form_patterns.py), so a person typing `"x"<evil@x.se>` is told so beside the field
instead of the case stopping later. In the city an address also enters from the public
nomination form, the `appoint_responsible` operator and the register (`Register.add_user`),
and leaves in the mailer. What the SMTP relay makes of `"x"<evil@x.se>`, `<script>@x.se` or
an address with a NUL, CR or LF in it is the relay's guess, so every one of those places asks
this module, and the mailer asks again before it hands a stored address to the relay (a row
written before this check existed, or by a path that forgot it, must not be sent).

"Plain" means what a person types into an address field: `local@domain.tld`. No display
name (`Nina <nina@x.se>`), no quoted local part, no comments, no IP-address literal, no
special-use domain (`.test`, `.localhost`, `.invalid`), no control characters or spaces,
at most 254 characters, and ASCII before the `@` (an internationalised local part needs
SMTPUTF8, which the city's relay is not known to support; an internationalised domain is
fine and is stored in its ASCII form). The library does the parsing (RFC 5321/5322 with the
practical restrictions above); deliverability (DNS) is not checked: Kedja may run where no
DNS answers, and a wrong but well-formed address is the relay's to bounce.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


class InvalidAddress(ValueError):
    """An address that is not a plain e-mail address; `reason` says why (English, from the
    library), for logs and operators."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"{address!r} is not a plain e-mail address: {reason}")
        self.address = address
        self.reason = reason


def normalise(address: str) -> str:
    """The address as Kedja stores and sends it (domain lower-cased, in ASCII), or
    `InvalidAddress` when it is not a plain address. Surrounding spaces are not forgiven
    here: callers strip what the person typed before they ask."""
    if not isinstance(address, str):
        raise InvalidAddress(repr(address), "an address is text")
    try:
        checked = validate_email(
            address,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
        )
    except EmailNotValidError as exc:
        raise InvalidAddress(address, str(exc)) from exc
    return checked.ascii_email or checked.normalized


def is_valid(address: object) -> bool:
    """Whether `address` is a plain e-mail address (see the module docstring)."""
    if not isinstance(address, str):
        return False
    try:
        normalise(address)
    except InvalidAddress:
        return False
    return True

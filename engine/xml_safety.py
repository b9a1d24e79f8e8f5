"""Hardened XML parsing for uploaded BPMN and DMN files.

Uploaded diagrams come from people, not from us: an XML parser with default settings will
expand entities (billion laughs), read local files or URLs through external entities (XXE) and
happily build a tree from a 1 GB upload. BPMN and DMN never need a DTD, so Kedja refuses any
document that declares one, refuses oversized files before the parser sees a byte, and parses
with an lxml parser that has entity resolution, DTD loading and network access switched off.
"""

from __future__ import annotations

import codecs
from io import BytesIO

from lxml import etree

from engine.errors import Problem, ValidationError

MAX_XML_BYTES = 10 * 1024 * 1024
"""Largest BPMN/DMN file accepted. Real diagrams are well below 1 MiB; 10 MiB leaves room for
embedded documentation while keeping parse time and memory bounded."""

# Encodings in which `<!DOCTYPE` would not appear as ASCII bytes in the raw data.
_WIDE_ENCODINGS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


def _as_text(data: bytes) -> str:
    """Decode enough to read the markup of the prolog, whatever the encoding.

    Markup characters are ASCII, so ASCII-compatible encodings are read as latin-1 (one char
    per byte, never fails); UTF-16/32 are recognised by their byte-order mark or by NUL bytes
    in the first characters, so re-encoding a document cannot hide a DOCTYPE.
    """
    for bom, encoding in _WIDE_ENCODINGS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    if b"\x00" in data[:4]:
        for encoding in ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be"):
            text = data.decode(encoding, errors="replace")
            if text.lstrip().startswith("<"):
                return text
    return data.removeprefix(codecs.BOM_UTF8).decode("latin-1")


def _declares_dtd(data: bytes) -> bool:
    """True if the document's prolog holds a DOCTYPE (the only place a DTD can be declared).

    Only the prolog (XML declaration, comments, processing instructions, white space) is
    scanned, so a diagram whose documentation or script merely mentions "<!DOCTYPE" in a
    CDATA section is not refused by mistake.
    """
    text = _as_text(data)
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
        elif text.startswith("<?", i):
            end = text.find("?>", i + 2)
            if end < 0:
                return False
            i = end + 2
        elif text.startswith("<!--", i):
            end = text.find("-->", i + 4)
            if end < 0:
                return False
            i = end + 3
        else:
            return text[i : i + 9].upper() == "<!DOCTYPE"
    return False


def _parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers keep state (error log) and are not thread-safe.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def parse_xml(file_name: str, data: bytes) -> etree._ElementTree:
    """Parse one uploaded XML file safely, or raise ValidationError naming what is wrong.

    The order matters: size and DTD checks run on the raw bytes first, so an attack document
    costs a substring search, not a parse.
    """
    if len(data) > MAX_XML_BYTES:
        raise ValidationError(
            f"{file_name} is too large",
            [
                Problem(
                    f"the file is {_mib(len(data))}; Kedja accepts XML files of at most "
                    f"{_mib(MAX_XML_BYTES)}",
                    file=file_name,
                    hint="Check that this is the diagram you meant to upload; remove embedded "
                    "data or split the model into called processes",
                )
            ],
        )
    if _declares_dtd(data):
        raise ValidationError(
            f"{file_name} declares a DTD",
            [
                Problem(
                    "the file contains a <!DOCTYPE> declaration; Kedja refuses "
                    "DTDs because they allow entity attacks (external entities, entity "
                    "expansion), and BPMN/DMN never need one",
                    file=file_name,
                    hint="Remove the <!DOCTYPE ...> block (and any entity references such as "
                    "&name; that use it) and upload the file again; files saved by a BPMN "
                    "modeller have no DOCTYPE",
                )
            ],
        )
    try:
        tree = etree.parse(BytesIO(data), _parser())
    except etree.XMLSyntaxError as err:
        line = err.lineno if err.lineno and err.lineno > 0 else None
        message = err.msg or str(err)
        if "limit" in message.lower() or "huge" in message.lower():
            # libxml2's safety limits without huge_tree: text nodes of 10 MB, deep nesting.
            problem = Problem(
                f"the XML exceeds a parser safety limit: {message}",
                file=file_name,
                line=line,
                hint="Remove very large embedded content (images, long documentation) or "
                "extremely deep nesting from the file",
            )
        else:
            problem = Problem(
                f"not well-formed XML: {message}",
                file=file_name,
                line=line,
                hint="Fix the XML syntax at that line (an unclosed tag, a stray '&' or '<' "
                "in text, a bad encoding), or export the diagram again from the modeller",
            )
        raise ValidationError(f"{file_name} cannot be read as XML", [problem]) from None
    if tree.docinfo.doctype:
        # Backstop for encodings the byte check could not see through.
        raise ValidationError(
            f"{file_name} declares a DTD",
            [
                Problem(
                    "the file contains a <!DOCTYPE> declaration; Kedja refuses DTDs",
                    file=file_name,
                    hint="Remove the <!DOCTYPE ...> block and upload the file again",
                )
            ],
        )
    return tree

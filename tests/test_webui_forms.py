"""Forms from JSON Schema (`webui.forms`): what each kind of field becomes in HTML, that the
HTML is labelled and its references resolve, that what a browser sends back is read as data
of the schema's types (and what it cannot convert is kept as typed), that read-only values
cannot be changed from the browser, that tables gain and lose rows, and that validation
problems are worded per field. Every form of the city's four processes is rendered and read
back through a small HTML "browser" here: what the page shows is what the server reads.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_babel import Babel, force_locale
from werkzeug.datastructures import MultiDict

from engine import forms as engine_forms
from engine.errors import Problem
from webui import forms
from webui.i18n import translation_directories

BPMN = Path(__file__).resolve().parents[1] / "bpmn"
FORMS = sorted(BPMN.glob("*/forms/*.schema.json"))

EVERYTHING = {
    "type": "object",
    "required": ["namn", "antal", "datum", "val"],
    "properties": {
        "namn": {"type": "string", "title": "Namn", "description": "Ditt namn."},
        "text": {"type": "string", "title": "Beskrivning"},
        "antal": {"type": "integer", "title": "Antal", "minimum": 1},
        "andel": {"type": "number", "title": "Andel"},
        "klar": {"type": "boolean", "title": "Klar"},
        "datum": {"type": "string", "format": "date", "title": "Datum"},
        "epost": {"type": "string", "format": "email", "title": "E-post"},
        "val": {
            "type": "string",
            "title": "Val",
            "oneOf": [{"const": "a", "title": "Alfa"}, {"const": "b", "title": "Beta"}],
        },
        "farg": {"type": "string", "title": "Färg", "enum": ["röd", "grön"]},
        "poang": {
            "type": "integer",
            "title": "Poäng",
            "oneOf": [{"const": 1, "title": "Ett"}, {"const": 2, "title": "Två"}],
        },
        "flera": {
            "type": "array",
            "title": "Flera",
            "items": {"type": "string", "enum": ["x", "y", "z"]},
            "uniqueItems": True,
        },
        "fil": {"type": "string", "title": "Fil"},
        "las": {"type": "string", "title": "Läs", "readOnly": True},
        "dold": {"type": "string", "title": "Dold"},
        "rader": {
            "type": "array",
            "title": "Rader",
            "maxItems": 2,
            "items": {
                "type": "object",
                "required": ["a"],
                "properties": {
                    "a": {"type": "string", "title": "A", "description": "Första."},
                    "b": {"type": "integer", "title": "B"},
                },
            },
        },
    },
}
EVERYTHING_UI = {
    "ui:order": ["namn", "*", "rader"],
    "text": {"ui:widget": "textarea", "ui:options": {"rows": 7}},
    "poang": {"ui:widget": "radio", "ui:help": "Välj ett."},
    "flera": {"ui:widget": "checkboxes"},
    "fil": {"ui:widget": "file"},
    "dold": {"ui:widget": "hidden"},
}


@pytest.fixture
def english() -> Any:
    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(
        str(p) for p in translation_directories()
    )
    Babel(app)
    with app.test_request_context(), force_locale("en"):
        yield


# -- a tiny browser ----------------------------------------------------------------------------


class Page(HTMLParser):
    """Collects what accessibility and submission depend on: ids, labels, describedby
    references, and the controls a browser would send."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.label_for: set[str] = set()
        self.controls: list[dict[str, Any]] = []
        self.describedby: list[str] = []
        self.labelledby: list[str] = []
        self._textarea: dict[str, Any] | None = None
        self._select: dict[str, Any] | None = None
        self._option: dict[str, Any] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if "id" in a:
            self.ids.append(a["id"])
        self.describedby += a.get("aria-describedby", "").split()
        self.labelledby += a.get("aria-labelledby", "").split()
        if tag == "label" and "for" in a:
            self.label_for.add(a["for"])
        if tag == "input":
            self.controls.append({"tag": "input", **a})
        elif tag == "textarea":
            self._textarea = {"tag": "textarea", "text": "", **a}
            self.controls.append(self._textarea)
        elif tag == "select":
            self._select = {"tag": "select", "options": [], **a}
            self.controls.append(self._select)
        elif tag == "option" and self._select is not None:
            self._option = {"value": a.get("value", ""), "selected": "selected" in a}
            self._select["options"].append(self._option)

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea["text"] += data

    def submission(self) -> MultiDict:
        """What a browser sends for this form, untouched."""
        sent: list[tuple[str, str]] = []
        for c in self.controls:
            name = c.get("name")
            if not name:
                continue
            if c["tag"] == "textarea":
                sent.append((name, c["text"].removeprefix("\n")))
            elif c["tag"] == "select":
                chosen = [o["value"] for o in c["options"] if o["selected"]]
                sent.append((name, chosen[0] if chosen else c["options"][0]["value"]))
            elif c.get("type") in ("checkbox", "radio"):
                if "checked" in c:
                    sent.append((name, c.get("value", "on")))
            elif c.get("type") not in ("file", "submit"):
                sent.append((name, c.get("value", "")))
        return MultiDict(sent)


def check_accessible(html: str) -> Page:
    page = Page(html)
    duplicates = {i for i in page.ids if page.ids.count(i) > 1}
    assert not duplicates, f"duplicate ids: {duplicates}"
    missing = [r for r in page.describedby + page.labelledby if r not in page.ids]
    assert not missing, f"aria references to nothing: {missing}"
    for c in page.controls:
        if c.get("type") == "hidden":
            continue
        assert c.get("id") in page.label_for, f"unlabelled control: {c}"
    return page


def load(schema_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    schema = json.loads(schema_path.read_text())
    ui_path = schema_path.with_name(schema_path.name.replace(".schema.json", ".uischema.json"))
    ui = json.loads(ui_path.read_text()) if ui_path.exists() else {}
    return schema, ui


# -- the field tree --------------------------------------------------------------------------


def test_each_kind_of_field_is_recognised() -> None:
    root = forms.build(EVERYTHING, EVERYTHING_UI)
    kinds = {c.key: c.kind for c in root.children}
    assert kinds == {
        "namn": "string",
        "text": "text",
        "antal": "integer",
        "andel": "number",
        "klar": "boolean",
        "datum": "date",
        "epost": "email",
        "val": "choice",
        "farg": "choice",
        "poang": "choice",
        "flera": "choices",
        "fil": "file",
        "las": "string",
        "dold": "string",
        "rader": "array",
    }
    assert root.children[0].key == "namn" and root.children[-1].key == "rader"
    assert root.child("las").readonly and root.child("dold").hidden
    assert root.child("poang").options == [(1, "Ett"), (2, "Två")]
    assert root.child("farg").options == [("röd", "röd"), ("grön", "grön")]
    assert root.child("namn").required and not root.child("text").required


def test_a_table_whose_rows_carry_read_only_cells_cannot_gain_or_lose_rows() -> None:
    schema, ui = load(BPMN / "tertial-loop/forms/tertial_report.schema.json")
    atgarder = forms.build(schema, ui).child("atgarder")
    assert atgarder.kind == "array" and not atgarder.addable and not atgarder.removable
    schema, ui = load(BPMN / "plan-cycle/forms/atgardsplan.schema.json")
    atgarder = forms.build(schema, ui).child("atgarder")
    assert atgarder.addable and atgarder.removable and atgarder.max_items == 50


# -- rendering --------------------------------------------------------------------------------


def test_every_field_is_labelled_and_tied_to_its_help_and_error() -> None:
    root = forms.build(EVERYTHING, EVERYTHING_UI)
    values = {"namn": "Ada", "las": "fast", "rader": [{"a": "x"}], "poang": 2, "flera": ["y"]}
    errors = {"/antal": "Fyll i ”Antal”.", "/rader/0/b": "Skriv ett heltal.", "/poang": "Välj."}
    renderer = forms.Renderer(values, errors, action_url="/uppgifter/7")
    html = str(renderer.form(root))
    check_accessible(html)
    assert '<input type="text" id="f-namn" name="/namn" aria-required="true"' in html
    assert 'aria-describedby="f-namn-hjalp"' in html
    assert '<textarea id="f-text" name="/text" rows="7">' in html
    assert (
        'id="f-antal" name="/antal" aria-required="true" aria-describedby="f-antal-fel" '
        'aria-invalid="true" inputmode="numeric"'
    ) in html
    assert '<input type="date" id="f-datum"' in html and '<input type="email" id="f-epost"' in html
    assert (
        '<select id="f-val" name="/val" aria-required="true"><option value="">Välj …</option>'
        in html
    )
    # Radios: a fieldset whose legend names the group, described by its help and error.
    assert (
        '<fieldset class="field options has-error" '
        'aria-describedby="f-poang-hjalp f-poang-fel"><legend>Poäng</legend>'
    ) in html
    assert 'type="radio" id="f-poang-1" name="/poang" value="2" checked aria-invalid="true"' in html
    assert 'type="checkbox" id="f-flera-1" name="/flera" value="y" checked' in html
    assert 'type="file" id="f-fil" name="#file/fil"' in html
    # Read-only: text, not an input the browser would send; hidden: nothing at all.
    assert 'name="/las"' not in html and ">fast</div>" in html
    assert "f-dold" not in html
    # The table: a header cell per column with its help, hidden labels naming the row.
    assert (
        '<th scope="col">A <span class="required">(obligatoriskt)</span>'
        '<span class="help" id="f-rader-a-hjalp">Första.</span></th>'
    ) in html
    assert '<label class="visually-hidden" for="f-rader-0-b">B, rad 1</label>' in html
    assert 'aria-describedby="f-rader-0-b-fel" aria-invalid="true"' in html
    assert 'value="remove:/rader/0" formaction="/uppgifter/7#f-rader"' in html
    assert 'value="add:/rader" formaction="/uppgifter/7#f-rader-1-a"' in html
    assert renderer.summary() == [
        {"href": "#f-antal", "text": "Fyll i ”Antal”."},
        {"href": "#f-poang", "text": "Välj."},
        {"href": "#f-rader-0-b", "text": "Rader, rad 1: Skriv ett heltal."},
    ]


def test_a_full_table_offers_no_more_rows() -> None:
    root = forms.build(EVERYTHING, EVERYTHING_UI)
    html = str(forms.Renderer({"rader": [{"a": "1"}, {"a": "2"}]}).form(root))
    assert 'value="add:/rader"' not in html


def test_process_texts_are_marked_swedish_on_an_english_page(english: Any) -> None:
    root = forms.build(EVERYTHING, EVERYTHING_UI)
    html = str(forms.Renderer({}, content_lang="sv").form(root))
    assert (
        '<label for="f-namn"><span lang="sv">Namn</span> '
        '<span class="required">(required)</span></label>'
    ) in html
    assert '<option value="">Choose …</option>' in html


def sample(f: forms.Field) -> Any:
    """An answer for every field of the form (not only the required ones)."""
    if f.kind == "object":
        return {c.key: sample(c) for c in f.children}
    if f.kind == "array":
        assert f.item is not None
        return [sample(f.item), sample(f.item)]
    answers = {
        "choices": lambda: [f.options[0][0]],
        "choice": lambda: f.options[-1][0],
        "boolean": lambda: True,
        "integer": lambda: 3,
        "number": lambda: 2.5,
        "date": lambda: "2026-05-15",
        "email": lambda: "namn@stockholm.se",
        "file": lambda: "attachment:1/underlag.pdf",
    }
    return answers.get(f.kind, lambda: f"Text för {f.key}\nandra raden")()


def round_trip(root: forms.Field, base: dict[str, Any]) -> tuple[dict[str, Any], dict]:
    """Show `base` in the form, let a browser send it back unchanged, read it."""
    values = forms.initial(root, base, None)
    renderer = forms.Renderer(values, {}, action_url="/uppgifter/1")
    page = check_accessible(str(renderer.form(root)))
    parsed = forms.parse(
        root, page.submission(), MultiDict(), base, accept_reference=lambda p, v: True
    )
    assert parsed.action == "complete" and parsed.upload_errors == {}
    return values, parsed.data


@pytest.mark.parametrize("schema_path", FORMS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_process_form_renders_accessibly_and_reads_back_what_it_shows(
    schema_path: Path,
) -> None:
    """Every field answered, shown and sent back by a browser that changes nothing: the
    server reads the same answers, of the same types."""
    schema, ui = load(schema_path)
    root = forms.build(schema, ui)
    answers = sample(root)
    values, data = round_trip(root, answers)
    assert data == forms.overlay_readonly(root, values, answers)


def _example_is_valid(schema_path: Path) -> bool:
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    try:
        engine_forms.validate(json.dumps(schema), engine_forms.example_data(schema), "x")
    except Exception:
        return False
    return True


# Forms with conditional requirements (if/then) have no valid example answers on their own;
# the round trip above covers them with answers to every field.
EXAMPLE_VALID = [p for p in FORMS if _example_is_valid(p)]


@pytest.mark.parametrize(
    "schema_path", EXAMPLE_VALID, ids=lambda p: f"{p.parent.parent.name}/{p.name}"
)
def test_valid_answers_stay_valid_through_the_form(schema_path: Path) -> None:
    """The answers a simulation gives pass the engine's validation after going through the
    form."""
    schema, ui = load(schema_path)
    root = forms.build(schema, ui)
    example = engine_forms.example_data(schema)
    _values, data = round_trip(root, example)
    engine_forms.validate(json.dumps(schema), data, schema_path.name)


# -- reading a submitted form -----------------------------------------------------------------


def test_submitted_text_becomes_the_schemas_types_and_unreadable_text_is_kept() -> None:
    root = forms.build(EVERYTHING, EVERYTHING_UI)
    sent = MultiDict(
        [
            ("/namn", "  Ada  "),
            ("/text", "rad 1\r\nrad 2"),
            ("/antal", "12 st"),
            ("/andel", "3,5"),
            ("/klar", "true"),
            ("/datum", "2026-05-15"),
            ("/epost", ""),
            ("/val", "b"),
            ("/poang", "2"),
            ("/flera", "x"),
            ("/flera", "z"),
            ("/las", "ändrat"),
            ("/dold", "ändrat"),
            ("#count/rader", "1"),
            ("/rader/0/a", "A"),
            ("/rader/0/b", "7"),
            ("_action", "draft"),
        ]
    )
    parsed = forms.parse(root, sent, MultiDict(), {"las": "fast", "dold": "hemligt"})
    assert parsed.action == "draft"
    assert parsed.data == {
        "namn": "Ada",
        "text": "rad 1\nrad 2",
        "antal": "12 st",
        "andel": 3.5,
        "klar": True,
        "datum": "2026-05-15",
        "val": "b",
        "poang": 2,
        "flera": ["x", "z"],
        "las": "fast",
        "dold": "hemligt",
        "rader": [{"a": "A", "b": 7}],
    }
    assert forms.parse(root, MultiDict([("/antal", "−4")]), MultiDict(), {}).data == {
        "klar": False,
        "antal": -4,
    }


def test_rows_are_added_and_removed_keeping_what_was_typed() -> None:
    root = forms.build(EVERYTHING, EVERYTHING_UI)
    data = {"rader": [{"a": "första"}]}
    added, focus = forms.apply_row_action(root, data, "add:/rader")
    assert added == {"rader": [{"a": "första"}, {}]} and focus == "/rader/1/a"
    full, focus = forms.apply_row_action(root, added, "add:/rader")
    assert full == added  # maxItems 2
    removed, focus = forms.apply_row_action(root, added, "remove:/rader/0")
    assert removed == {"rader": [{}]} and focus == "/rader"
    assert forms.apply_row_action(root, data, "add:/namn") == (data, None)
    assert forms.apply_row_action(root, data, "remove:/rader/9") == (data, "/rader")


def test_a_fixed_table_keeps_the_cases_rows_whatever_the_browser_says() -> None:
    schema, ui = load(BPMN / "plan-cycle/forms/confirm_participants.schema.json")
    root = forms.build(schema, ui)
    base = {
        "deltagare": [
            {"id": "farsta", "namn": "Farsta", "typ": "SDF", "ansvarig": "a", "delta": True},
            {"id": "bromma", "namn": "Bromma", "typ": "SDF", "ansvarig": "b", "delta": True},
        ]
    }
    sent = MultiDict(
        [("#count/deltagare", "5"), ("/deltagare/0/id", "x"), ("/deltagare/1/delta", "true")]
    )
    data = forms.parse(root, sent, MultiDict(), base).data
    assert data["deltagare"] == [
        {"id": "farsta", "namn": "Farsta", "typ": "SDF", "ansvarig": "a", "delta": False},
        {"id": "bromma", "namn": "Bromma", "typ": "SDF", "ansvarig": "b", "delta": True},
    ]
    assert forms.apply_row_action(root, data, "remove:/deltagare/0") == (data, None)


def test_file_fields_store_uploads_and_keep_only_accepted_values() -> None:
    root = forms.build(EVERYTHING, EVERYTHING_UI)

    class Upload:
        filename = "rapport.pdf"

    stored: list[str] = []

    def store(pointer: str, upload: Any) -> str:
        stored.append(pointer)
        return "attachment:5/rapport.pdf"

    files = MultiDict([("#file/fil", Upload())])
    parsed = forms.parse(root, MultiDict(), files, {}, store_file=store)
    assert parsed.data["fil"] == "attachment:5/rapport.pdf" and stored == ["/fil"]

    def refuse(pointer: str, upload: Any) -> str:
        raise ValueError("Fel filtyp.")

    assert forms.parse(root, MultiDict(), files, {}, store_file=refuse).upload_errors == {
        "/fil": "Fel filtyp."
    }
    kept = MultiDict([("/fil", "attachment:5/rapport.pdf")])
    assert (
        forms.parse(root, kept, MultiDict(), {}, accept_reference=lambda p, v: True).data["fil"]
        == "attachment:5/rapport.pdf"
    )
    assert (
        "fil"
        not in forms.parse(root, kept, MultiDict(), {}, accept_reference=lambda p, v: False).data
    )
    removed = MultiDict([("/fil", "attachment:5/rapport.pdf"), ("#remove/fil", "1")])
    assert "fil" not in forms.parse(root, removed, MultiDict(), {}).data


def test_the_form_starts_from_the_draft_then_the_case_then_the_defaults() -> None:
    schema, ui = load(BPMN / "plan-cycle/forms/lagesbild.schema.json")
    root = forms.build(schema, ui)
    base = {"forra_arets_slutsatser": "Förra året: bränder.", "analys": "Från ärendet"}
    values = forms.initial(root, base, None)
    assert values["analys"] == "Från ärendet"
    assert values["brottsstatistik"] == {"anvand": False}  # the schema's default
    draft = {"analys": "Från utkastet", "forra_arets_slutsatser": "ändrat i utkastet"}
    values = forms.initial(root, base, draft)
    assert values["analys"] == "Från utkastet"
    assert values["forra_arets_slutsatser"] == "Förra året: bränder."


# -- messages ---------------------------------------------------------------------------------


def test_problems_are_worded_per_field_in_plain_swedish() -> None:
    root = forms.build(EVERYTHING, EVERYTHING_UI)
    data = {
        "namn": "Ada",
        "antal": "12 st",
        "andel": 0.5,
        "datum": "15 maj",
        "epost": "inte en adress",
        "val": "c",
        "flera": ["x", "x"],
        "rader": [{"b": 1}, {"a": "b", "b": 1}, {"a": "c"}],
    }
    found = forms.messages(root, EVERYTHING, data)
    assert found == {
        "/antal": "Skriv ett heltal i ”Antal”, till exempel 12.",
        "/datum": "Skriv datumet i ”Datum” som ÅÅÅÅ-MM-DD, till exempel 2026-05-15.",
        "/epost": "Skriv en e-postadress i ”E-post”, till exempel namn@stockholm.se.",
        "/flera": "Samma värde finns flera gånger i ”Flera”.",
        "/rader": "”Rader” får ha högst 2 rader.",
        "/rader/0/a": "Fyll i ”A”.",
        "/val": "Välj ett av alternativen under ”Val”.",
    }
    assert forms.messages(root, EVERYTHING, {**data, "antal": 0})["/antal"] == (
        "”Antal” ska vara minst 1."
    )


def test_a_rule_across_fields_and_a_rule_on_rows_are_worded_too() -> None:
    schema, ui = load(BPMN / "guideline-revision/forms/draft_revision.schema.json")
    root = forms.build(schema, ui)
    data = {"titel": "T", "andringar": "Ä", "skal": "S", "svarsdatum": "2026-05-04"}
    assert forms.messages(root, schema, data) == {
        "/utkast": "Fyll i ”Utkast till reviderad riktlinje” eller ”Utkastet som bilaga”."
    }
    schema, ui = load(BPMN / "plan-cycle/forms/confirm_participants.schema.json")
    root = forms.build(schema, ui)
    nobody = {"deltagare": [{"id": "farsta", "delta": False}]}
    assert forms.messages(root, schema, nobody) == {
        "/deltagare": "Ingen rad i ”Organisationer” uppfyller kravet. "
        "Minst en rad ska ha ”Deltar i år” ikryssad."
    }


def test_every_problem_the_engine_reports_gets_a_message() -> None:
    root = forms.build(EVERYTHING, EVERYTHING_UI)
    found = forms.messages(
        root,
        EVERYTHING,
        {"namn": "A", "antal": 1, "datum": "2026-01-01", "val": "a"},
        [Problem("custom rule", element="/namn")],
    )
    assert found == {"/namn": "”Namn” stämmer inte med formulärets regler."}


def test_messages_in_english(english: Any) -> None:
    root = forms.build(EVERYTHING, EVERYTHING_UI)
    found = forms.messages(root, EVERYTHING, {"antal": 1, "datum": "2026-01-01", "val": "a"})
    assert found == {"/namn": "Fill in “Namn”."}

"""XSD validation of BPMN and DMN files against the schemas SpiffWorkflow ships.

The schema check catches what a hand-edited or foreign-tool file gets wrong structurally
(misspelt elements, missing required attributes, duplicate ids) before SpiffWorkflow's parser
trips over it with a less helpful message. We use the XSD files inside the installed
SpiffWorkflow package, so the schema always matches the parser version we pin, and compile each
schema once per process: compiling BPMN20.xsd takes far longer than validating a diagram.

Extension elements and attributes in foreign namespaces (spiffworkflow:, camunda:, bioc:,
color:, ...) pass, as the BPMN XSD allows ##other content there. The spiffworkflow XSD is not
imported: it is incomplete for what the spiff-arena modeller writes, and Kedja's own rules
(engine.bpmn_rules) check the extensions it relies on.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from importlib import resources

from lxml import etree

from engine.errors import Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
MAX_SCHEMA_PROBLEMS = 50
"""Report at most this many schema errors per file: one broken construct can produce hundreds
of follow-up errors, and the first ones are what a person needs."""

_PREFIXES = {
    BPMN_NS: "bpmn",
    "http://www.omg.org/spec/BPMN/20100524/DI": "bpmndi",
    "http://www.omg.org/spec/DD/20100524/DC": "dc",
    "http://www.omg.org/spec/DD/20100524/DI": "di",
    "http://www.w3.org/2001/XMLSchema-instance": "xsi",
}
_VALIDATE_LOCK = threading.Lock()
"""A compiled schema keeps its error log on the object: validate and read the log under one
lock so that two concurrent deploys never see each other's errors."""
_CLARK = re.compile(r"\{([^}]*)\}")
_SCHEMA_HINT = (
    "The file does not follow the BPMN 2.0 schema; fix the element named (or open the diagram "
    "in a BPMN 2.0 modeller and save it again)"
)
_DMN_HINT = (
    "The file does not follow the DMN schema; fix the element named (or open the decision in a "
    "DMN modeller and save it again)"
)


def _schema_dir(package: str) -> resources.abc.Traversable:
    return resources.files(package).joinpath("schema")


@lru_cache(maxsize=1)
def bpmn_schema() -> etree.XMLSchema:
    """The compiled BPMN 2.0 schema (BPMN20.xsd and the files it includes), built once."""
    path = _schema_dir("SpiffWorkflow.bpmn.parser").joinpath("BPMN20.xsd")
    with resources.as_file(path) as xsd:
        return etree.XMLSchema(etree.parse(str(xsd)))


def _dmn_schema_files() -> dict[str, str]:
    """DMN namespace -> XSD file name, as SpiffWorkflow's own DMN parser maps them."""
    from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS

    return {ns: path.rsplit("/", 1)[-1] for ns, path in SCHEMAS.items()}


@lru_cache(maxsize=8)
def dmn_schema(namespace: str) -> etree.XMLSchema | None:
    """The compiled DMN schema for one DMN version's namespace, or None if not shipped."""
    file_name = _dmn_schema_files().get(namespace)
    if file_name is None:
        return None
    path = _schema_dir("SpiffWorkflow.dmn.parser").joinpath(file_name)
    with resources.as_file(path) as xsd:
        return etree.XMLSchema(etree.parse(str(xsd)))


def _short(text: str) -> str:
    """Replace `{namespace-uri}local` with `prefix:local` so messages stay readable."""

    def repl(m: re.Match[str]) -> str:
        prefix = _PREFIXES.get(m.group(1))
        return f"{prefix}:" if prefix else m.group(0)

    return _CLARK.sub(repl, text)


def _elements_by_line(tree: etree._ElementTree) -> dict[int, etree._Element]:
    index: dict[int, etree._Element] = {}
    for el in tree.getroot().iter():
        if isinstance(el.tag, str) and el.sourceline is not None:
            index.setdefault(el.sourceline, el)
    return index


def element_id_at(element: etree._Element | None) -> str | None:
    """The id of the element, or of its nearest ancestor that has one."""
    while element is not None:
        if element.get("id"):
            return element.get("id")
        element = element.getparent()
    return None


def _run(
    schema: etree.XMLSchema, file_name: str, tree: etree._ElementTree, hint: str
) -> list[Problem]:
    with _VALIDATE_LOCK:
        if schema.validate(tree):
            return []
        errors = list(schema.error_log)
    by_line = _elements_by_line(tree)
    problems: list[Problem] = []
    for entry in errors[:MAX_SCHEMA_PROBLEMS]:
        line = entry.line if entry.line and entry.line > 0 else None
        problems.append(
            Problem(
                f"schema: {_short(entry.message)}",
                file=file_name,
                element=element_id_at(by_line.get(line)) if line else None,
                line=line,
                hint=hint,
            )
        )
    if len(errors) > MAX_SCHEMA_PROBLEMS:
        problems.append(
            Problem(
                f"{len(errors) - MAX_SCHEMA_PROBLEMS} more schema errors not shown",
                file=file_name,
                hint="Fix the errors above first; later ones are often caused by them",
            )
        )
    return problems


def _rename_correlation_expressions(tree: etree._ElementTree) -> list[etree._Element]:
    """bpmn-js writes `formalExpression` where the XSD wants `messagePath` in correlation
    property retrieval expressions; SpiffWorkflow's own validator renames it before checking.
    We do the same, and the caller renames back so the tree is left as it was parsed."""
    renamed = tree.getroot().xpath(
        ".//bpmn:correlationPropertyRetrievalExpression/bpmn:formalExpression",
        namespaces={"bpmn": BPMN_NS},
    )
    for el in renamed:
        el.tag = f"{{{BPMN_NS}}}messagePath"
    return renamed


def validate(file_name: str, tree: etree._ElementTree) -> list[Problem]:
    """Check a parsed BPMN or DMN file against its XSD; one Problem per schema error.

    The kind of file is decided by the root element's namespace, not by the file name.
    """
    root = tree.getroot()
    namespace = etree.QName(root).namespace or ""
    local = etree.QName(root).localname
    if namespace == BPMN_NS:
        if local != "definitions":
            return [
                Problem(
                    f"the root element is bpmn:{local}; a BPMN file must start with "
                    "bpmn:definitions",
                    file=file_name,
                    line=root.sourceline,
                    hint="Upload the whole diagram file as saved by the modeller",
                )
            ]
        renamed = _rename_correlation_expressions(tree)
        try:
            return _run(bpmn_schema(), file_name, tree, _SCHEMA_HINT)
        finally:
            for el in renamed:
                el.tag = f"{{{BPMN_NS}}}formalExpression"
    schema = dmn_schema(namespace)
    if schema is not None:
        return _run(schema, file_name, tree, _DMN_HINT)
    known = ", ".join(sorted(_dmn_schema_files()))
    return [
        Problem(
            f"the root element {{{namespace}}}{local} is neither BPMN 2.0 "
            f"({BPMN_NS}) nor a DMN version SpiffWorkflow supports ({known})",
            file=file_name,
            line=root.sourceline,
            hint="Save the file as BPMN 2.0 XML (.bpmn) or DMN 1.1-1.3 XML (.dmn)",
        )
    ]

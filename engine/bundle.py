"""Reading a deployment bundle and compiling it into SpiffWorkflow specs, checking everything.

A bundle is the set of files one deployment brings: BPMN diagrams, DMN decision tables and
JSON form schemas. Compiling it runs every check Kedja has — safe XML parsing, the BPMN/DMN
XSD, Kedja's own rules, JSON and JSON Schema validity — over *all* files first and reports
every problem in one ValidationError, so a process owner fixes a bundle in one round. Only a
clean bundle is handed to SpiffWorkflow's parser (from the trees we already parsed safely,
never from paths), and whatever that parser still objects to, or crashes on, becomes a
Problem too: no raw traceback reaches the person deploying.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from engine import bpmn_rules, bpmn_schema
from engine.bundle_json import check_json, form_schema_names
from engine.errors import Problem, ValidationError
from engine.xml_safety import MAX_XML_BYTES, parse_xml

MAX_FILE_BYTES = MAX_XML_BYTES
"""Largest single file (BPMN, DMN or JSON) a bundle may hold."""
MAX_BUNDLE_BYTES = 50 * 1024 * 1024
"""Largest total size of a bundle."""
BUNDLE_SUFFIXES = (".bpmn", ".dmn", ".json")

_PARSER_HINT = (
    "Fix the element named in the modeller; SpiffWorkflow 3.2.0 cannot build the process otherwise"
)
_KNOWN_PARSER_HINTS = {
    "A Service Task must have an operator": (
        "Kedja runs service tasks only through a configured operator "
        "(spiffworkflow:serviceTaskOperator); use a script task or a user task instead"
    ),
    "Cannot resolve dataInputAssociation": (
        "Data associations must point at a data object of this process; remove the "
        "association or connect it to a data object reference"
    ),
    "Cannot resolve dataOutputAssociation": (
        "Data associations must point at a data object of this process; remove the "
        "association or connect it to a data object reference"
    ),
    "Exactly one start event is required in a SubWorkflow": (
        "Give the sub-process exactly one (none) start event, connected to its first element"
    ),
    "A multiinstance task must specify": (
        "Set loop cardinality or an input collection on the multi-instance marker"
    ),
    "No DMN Diagram available": "Add the .dmn file with that decision id to the bundle",
    "Multiple outgoing flows are not supported": (
        "Add a parallel gateway after the element to split the flow"
    ),
}
_ELEMENT_REPR = re.compile(r"<Element \{[^}]*\}(\w+) at 0x[0-9a-f]+>")


@dataclass
class Bundle:
    """The raw files of one deployment, keyed by POSIX-style relative name, sorted."""

    files: dict[str, bytes]

    @classmethod
    def from_files(cls, mapping: Mapping[str, bytes]) -> Bundle:
        """A bundle from in-memory files (uploads, tests); names and sizes are checked."""
        problems: list[Problem] = []
        files: dict[str, bytes] = {}
        total = 0
        for raw_name, data in mapping.items():
            name = _normalise_name(raw_name, problems)
            if name is None:
                continue
            if name in files:
                problems.append(_duplicate(name))
                continue
            if len(data) > MAX_FILE_BYTES:
                problems.append(_too_large(name, len(data)))
                continue
            total += len(data)
            files[name] = bytes(data)
        if total > MAX_BUNDLE_BYTES:
            problems.append(_bundle_too_large(total))
        if problems:
            raise ValidationError("The bundle cannot be read", problems)
        return cls(dict(sorted(files.items())))

    @classmethod
    def from_paths(cls, paths: Iterable[str | Path]) -> Bundle:
        """A bundle from files and folders on disk.

        A folder contributes its *.bpmn, *.dmn and *.json files, recursively (hidden files and
        folders skipped), named relative to the folder; a file is named by its base name.
        Sizes are checked with stat() before anything is read.
        """
        problems: list[Problem] = []
        chosen: dict[str, Path] = {}
        total = 0
        for entry in paths:
            path = Path(entry)
            if path.is_dir():
                found = [
                    (p.relative_to(path).as_posix(), p)
                    for p in sorted(path.rglob("*"))
                    if p.is_file()
                    and p.suffix.lower() in BUNDLE_SUFFIXES
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                ]
            elif path.is_file():
                found = [(path.name, path)]
            else:
                problems.append(
                    Problem(
                        f"{path} does not exist or is not a file or folder",
                        file=str(path),
                        hint="Check the path given to deploy",
                    )
                )
                continue
            for name, file_path in found:
                if name in chosen:
                    problems.append(_duplicate(name, chosen[name], file_path))
                    continue
                size = file_path.stat().st_size
                if size > MAX_FILE_BYTES:
                    problems.append(_too_large(name, size))
                    continue
                total += size
                chosen[name] = file_path
        if total > MAX_BUNDLE_BYTES:
            problems.append(_bundle_too_large(total))
        if problems:
            raise ValidationError("The bundle cannot be read", problems)
        files: dict[str, bytes] = {}
        for name, file_path in sorted(chosen.items()):
            data = file_path.read_bytes()
            if len(data) > MAX_FILE_BYTES:  # grew since stat()
                problems.append(_too_large(name, len(data)))
            files[name] = data
        if problems:
            raise ValidationError("The bundle cannot be read", problems)
        return cls(files)


@dataclass
class ProcessBuild:
    """One executable process, ready to store: its specs and the bundle files it needs."""

    key: str
    name: str
    spec: Any
    subprocess_specs: dict[str, Any]
    files: list[str]
    element_forms: dict[str, str] = field(default_factory=dict)


@dataclass
class CompiledBundle:
    """The result of compile_bundle: every executable process, and the files to store."""

    files: dict[str, bytes]
    processes: dict[str, ProcessBuild]


# -- reading names ---------------------------------------------------------------------------


def _normalise_name(raw: str, problems: list[Problem]) -> str | None:
    name = str(raw).replace("\\", "/")
    normal = posixpath.normpath(name) if name else ""
    if not name or name.startswith("/") or normal.startswith("..") or normal in {".", ""}:
        problems.append(
            Problem(
                f"file name {raw!r} is not a relative path inside the bundle",
                file=str(raw),
                hint="Name bundle files by relative paths such as 'main.bpmn' or "
                "'forms/intake.json'",
            )
        )
        return None
    return normal


def _duplicate(name: str, first: Path | None = None, second: Path | None = None) -> Problem:
    where = f" ({first} and {second})" if first and second else ""
    return Problem(
        f"two files have the same name {name!r}{where}",
        file=name,
        hint="File names must be unique in a bundle: rename one of them, or deploy the folders "
        "separately",
    )


def _too_large(name: str, size: int) -> Problem:
    return Problem(
        f"the file is {size / 2**20:.1f} MiB; a bundle file may be at most "
        f"{MAX_FILE_BYTES / 2**20:.0f} MiB",
        file=name,
        hint="Check that this is the file you meant to deploy; split large models into called "
        "processes",
    )


def _bundle_too_large(total: int) -> Problem:
    return Problem(
        f"the bundle is {total / 2**20:.1f} MiB; at most {MAX_BUNDLE_BYTES / 2**20:.0f} MiB "
        "can be deployed at once",
        hint="Deploy fewer files at once (each deployment needs only the files of its processes)",
    )


# -- checking files ---------------------------------------------------------------------------


def _parse_all(bundle: Bundle) -> tuple[dict[str, Any], dict[str, Any], set[str], list[Problem]]:
    """Parse and check every file.

    Returns the clean BPMN and DMN trees, the ids of executable processes in every BPMN file
    that could be parsed at all (so a schema error in one file does not also produce "called
    process not found" noise in another), and the problems.
    """
    problems: list[Problem] = []
    bpmn: dict[str, etree._ElementTree] = {}
    dmn: dict[str, etree._ElementTree] = {}
    executable: set[str] = set()
    names = set(bundle.files)
    for name, data in bundle.files.items():
        suffix = posixpath.splitext(name)[1].lower()
        if suffix not in (".bpmn", ".dmn"):
            continue
        try:
            tree = parse_xml(name, data)
        except ValidationError as err:
            problems.extend(err.problems)
            continue
        if suffix == ".bpmn":
            executable.update(bpmn_rules.executable_process_ids(tree))
        schema_problems = bpmn_schema.validate(name, tree)
        problems.extend(schema_problems)
        if schema_problems:
            continue
        if suffix == ".bpmn":
            if etree.QName(tree.getroot()).namespace != bpmn_rules.BPMN_NS:
                problems.append(
                    Problem(
                        "the file is named .bpmn but holds no BPMN 2.0 definitions",
                        file=name,
                        hint="Rename it (.dmn for decisions) or upload the BPMN diagram",
                    )
                )
                continue
            problems.extend(bpmn_rules.check(name, tree, names))
            bpmn[name] = tree
        else:
            if etree.QName(tree.getroot()).namespace == bpmn_rules.BPMN_NS:
                problems.append(
                    Problem(
                        "the file is named .dmn but holds a BPMN diagram",
                        file=name,
                        hint="Rename it to .bpmn",
                    )
                )
                continue
            dmn[name] = tree
    form_schemas = form_schema_names(bpmn, names)
    for name, data in bundle.files.items():
        suffix = posixpath.splitext(name)[1].lower()
        if suffix == ".json":
            problems.extend(check_json(name, data, form_schemas))
        elif suffix not in (".bpmn", ".dmn"):
            problems.append(
                Problem(
                    f"unsupported file type {suffix or '(none)'}",
                    file=name,
                    hint="A bundle holds only .bpmn, .dmn and .json (form) files",
                )
            )
    return bpmn, dmn, executable, problems


def _decision_ids(dmn: dict[str, etree._ElementTree]) -> list[Problem]:
    """One decision table per DMN file, with a unique id: SpiffWorkflow keys DMN files by their
    first decision id (a second file with the same id silently replaces the first) and refuses
    files with several decisions with an unhelpful error."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for name, tree in dmn.items():
        root = tree.getroot()
        decisions = [el for el in root if etree.QName(el).localname == "decision"]
        if not decisions:
            problems.append(
                Problem(
                    "the DMN file holds no decision",
                    file=name,
                    hint="Add a decision table, or leave the file out of the bundle",
                )
            )
            continue
        first = decisions[0]
        decision_id = first.get("id")
        if decision_id in seen:
            problems.append(
                Problem(
                    f"decision id {decision_id!r} is also used in {seen[decision_id]}",
                    file=name,
                    element=decision_id,
                    line=first.sourceline,
                    hint="Give each decision a unique id",
                )
            )
        seen.setdefault(decision_id, name)
        if not [el for el in first if etree.QName(el).localname == "decisionTable"]:
            problems.append(
                Problem(
                    "the decision has no decision table; SpiffWorkflow 3.2.0 runs decision "
                    "tables only",
                    file=name,
                    element=decision_id,
                    line=first.sourceline,
                    hint="Model the decision as a decision table",
                )
            )
        for extra in decisions[1:]:
            problems.append(
                Problem(
                    "a DMN file may hold only one decision; SpiffWorkflow 3.2.0 refuses files "
                    "with several",
                    file=name,
                    element=extra.get("id"),
                    line=extra.sourceline,
                    hint="Put each decision in its own .dmn file",
                )
            )
    return problems


def _bundle_level_checks(bpmn: dict[str, etree._ElementTree], all_ids: set[str]) -> list[Problem]:
    """No executable process anywhere, and call activities calling unknown processes."""
    problems: list[Problem] = []
    if bpmn and not all_ids:
        problems.extend(bpmn_rules.no_executable_process_problem(name) for name in bpmn)
    for name, tree in bpmn.items():
        problems.extend(bpmn_rules.check_call_targets(name, tree, all_ids))
    return problems


# -- SpiffWorkflow --------------------------------------------------------------------------


class _Locator:
    """Finds the line of an element id, since SpiffWorkflow's exceptions carry none for lxml."""

    def __init__(self, trees: dict[str, etree._ElementTree]) -> None:
        self.trees = trees

    def find(self, file_name: str | None, element_id: str | None) -> tuple[str | None, int | None]:
        if not element_id:
            return file_name, None
        order = [file_name] if file_name in self.trees else []
        order += [n for n in self.trees if n != file_name]
        for name in order:
            found = self.trees[name].getroot().xpath("//*[@id=$i]", i=element_id)
            if found:
                return name, found[0].sourceline
        return file_name, None


def _hint_for(message: str) -> str:
    for start, hint in _KNOWN_PARSER_HINTS.items():
        if start in message:
            return hint
    return _PARSER_HINT


def _from_spiff(err: Exception, locator: _Locator, fallback_file: str | None) -> Problem:
    from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

    if isinstance(err, ValidationException):
        message = str(err.args[0]) if err.args else str(err)
        message = _ELEMENT_REPR.sub(r"bpmn:\1", message).strip().rstrip(".")
        element = err.id or None
        file_name, line = locator.find(err.file_name or fallback_file, element)
        if isinstance(err.line_number, int) and err.line_number > 0:
            line = err.line_number
        tag = f" ({err.tag})" if getattr(err, "tag", "") else ""
        return Problem(
            f"SpiffWorkflow: {message}{tag}",
            file=file_name,
            element=element,
            line=line,
            hint=_hint_for(message),
        )
    text = str(err) or type(err).__name__
    return Problem(
        f"SpiffWorkflow's parser failed: {type(err).__name__}: {text}",
        file=fallback_file,
        hint="This diagram uses something the engine cannot read; simplify the element around "
        "the problem or report it with the file attached",
    )


def _decision_files(parser: Any) -> dict[str, str]:
    return {
        decision_id: dmn_parser.filename for decision_id, dmn_parser in parser.dmn_parsers.items()
    }


def _build(
    pid: str,
    parser: Any,
    bpmn: dict[str, etree._ElementTree],
    bundle_files: set[str],
) -> ProcessBuild:
    from SpiffWorkflow.spiff.specs.defaults import BusinessRuleTask, UserTask

    spec = parser.get_spec(pid)
    subprocess_specs = parser.get_subprocess_specs(pid)
    decisions = _decision_files(parser)
    files: set[str] = set()
    forms: dict[str, str] = {}
    for one in [spec, *(s for _, s in sorted(subprocess_specs.items()) if s is not None)]:
        if one.file:
            files.add(one.file)
        for task_spec in one.task_specs.values():
            extensions = getattr(task_spec, "extensions", None) or {}
            if isinstance(task_spec, BusinessRuleTask):
                dmn_file = decisions.get(extensions.get("calledDecisionId"))
                if dmn_file:
                    files.add(dmn_file)
            if isinstance(task_spec, UserTask) or (one is spec and _is_start_form(task_spec)):
                props = extensions.get("properties") or {}
                for prop in bpmn_rules.FORM_PROPERTIES:
                    if not props.get(prop):
                        continue
                    form = bpmn_rules.resolve_form_reference(
                        one.file or "", props[prop], bundle_files
                    )
                    if form is None:
                        continue
                    files.add(form)
                    if prop == "formJsonSchemaFilename":
                        forms.setdefault(task_spec.bpmn_id, form)
    process = _process_element(bpmn, pid)
    name = (process.get("name") if process is not None else None) or pid
    return ProcessBuild(
        key=pid,
        name=name,
        spec=spec,
        subprocess_specs=subprocess_specs,
        files=sorted(files),
        element_forms=dict(sorted(forms.items())),
    )


def _is_start_form(task_spec: Any) -> bool:
    """A plain start event of the process itself: its form is the process's start form."""
    from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
    from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent

    return isinstance(task_spec, StartEvent) and isinstance(
        task_spec.event_definition, NoneEventDefinition
    )


def _process_element(bpmn: dict[str, etree._ElementTree], pid: str) -> etree._Element | None:
    """The bpmn:process element with this id in any of the trees."""
    for tree in bpmn.values():
        for process in tree.getroot().iterfind("bpmn:process", bpmn_rules.NS):
            if process.get("id") == pid:
                return process
    return None


def _summary(problems: list[Problem]) -> str:
    files = sorted({p.file for p in problems if p.file})
    where = f" in {', '.join(files)}" if files else ""
    count = len(problems)
    return f"The bundle cannot be deployed: {count} problem{'s' if count != 1 else ''}{where}"


def compile_bundle(bundle: Bundle, services: Any = None) -> CompiledBundle:
    """Check every file of the bundle and build the SpiffWorkflow specs of its processes.

    Raises one ValidationError listing every problem found. `services` (an
    `engine.services.Services`) are the operators service tasks may name; without it operator
    names are not checked. Parsing does not run scripts (SpiffWorkflow binds the script engine
    to a workflow instance, not to a spec); they are checked with the sandbox's compile-only
    check instead.
    """
    bpmn, dmn, executable, problems = _parse_all(bundle)
    if not bpmn and not any(p.file and p.file.lower().endswith(".bpmn") for p in problems):
        problems.append(
            Problem(
                "the bundle holds no .bpmn file, so there is no process to deploy",
                hint="Deploy the BPMN diagram together with its forms and decision tables",
            )
        )
    problems.extend(_bundle_level_checks(bpmn, executable))
    problems.extend(_decision_ids(dmn))
    if services is not None:
        for name, tree in bpmn.items():
            problems.extend(bpmn_rules.check_service_operators(name, tree, services))
    if problems:
        raise ValidationError(_summary(problems), problems)

    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

    parser = SpiffBpmnParser()
    locator = _Locator({**bpmn, **dmn})
    for name, tree in dmn.items():
        try:
            parser.add_dmn_xml(tree.getroot(), filename=name)
        except Exception as err:
            problems.append(_from_spiff(err, locator, name))
    for dmn_parser in sorted(parser.dmn_parsers.values(), key=lambda p: p.filename or ""):
        try:  # DMN is parsed lazily by SpiffWorkflow; parse now so errors surface at deploy
            dmn_parser.parse()
        except Exception as err:
            problems.append(_from_spiff(err, locator, dmn_parser.filename))
    for name, tree in bpmn.items():
        try:
            parser.add_bpmn_xml(tree, filename=name)
        except Exception as err:
            problems.append(_from_spiff(err, locator, name))
    if problems:
        raise ValidationError(_summary(problems), problems)

    processes: dict[str, ProcessBuild] = {}
    names = set(bundle.files)
    for file_name, tree in bpmn.items():
        for pid in bpmn_rules.executable_process_ids(tree):
            try:
                processes[pid] = _build(pid, parser, bpmn, names)
            except Exception as err:
                problems.append(_from_spiff(err, locator, file_name))
    if problems:
        raise ValidationError(_summary(problems), problems)
    return CompiledBundle(files=dict(bundle.files), processes=processes)

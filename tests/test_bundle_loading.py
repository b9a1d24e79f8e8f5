"""Deploy-time reading and checking of bundles (engine/xml_safety, bpmn_schema, bpmn_rules,
bundle): hostile XML, the MIWG reference models, Kedja's rules, and good bundles that compile."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.bpmn_rules import executable_process_ids
from engine.bundle import Bundle, ProcessBuild, compile_bundle
from engine.errors import Problem, ValidationError
from engine.xml_safety import MAX_XML_BYTES, parse_xml
from tests.conftest import MIWG_PROPERTY, shared_dir

MIWG_DIR = shared_dir() / "corpora" / "miwg"
MIWG_FILES = sorted(MIWG_DIR.glob("*.bpmn"))

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'id="defs" targetNamespace="http://kedja.test">\n'
)


def bpmn(body: str, pid: str = "main", executable: str = "true", before: str = "") -> bytes:
    """A BPMN file with one process; `body` goes inside bpmn:process, `before` ahead of it."""
    return (
        f'{HEADER}{before}<bpmn:process id="{pid}" name="{pid.title()}" '
        f'isExecutable="{executable}">\n{body}\n</bpmn:process>\n</bpmn:definitions>\n'
    ).encode()


def linear(*elements: str, pid: str = "main", before: str = "") -> bytes:
    """start -> elements... -> end, each element given as XML with id e1, e2, ..."""
    ids = ["start"] + [f"e{i}" for i in range(1, len(elements) + 1)] + ["end"]
    flows = "\n".join(
        f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
        for i, (a, b) in enumerate(itertools.pairwise(ids), start=1)
    )
    body = '<bpmn:startEvent id="start"/>\n' + "\n".join(elements)
    body += '\n<bpmn:endEvent id="end"/>\n' + flows
    return bpmn(body, pid=pid, before=before)


def user_task(form: str | None = None, ui: str | None = None, id_: str = "e1") -> str:
    props = ""
    if form or ui:
        items = ""
        if form:
            items += f'<spiffworkflow:property name="formJsonSchemaFilename" value="{form}"/>'
        if ui:
            items += f'<spiffworkflow:property name="formUiSchemaFilename" value="{ui}"/>'
        props = (
            "<bpmn:extensionElements><spiffworkflow:properties>"
            f"{items}</spiffworkflow:properties></bpmn:extensionElements>"
        )
    return f'<bpmn:userTask id="{id_}" name="Fill in">{props}</bpmn:userTask>'


def script_task(script: str, id_: str = "e1") -> str:
    return f'<bpmn:scriptTask id="{id_}"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>'


FORM_SCHEMA = b'{"type": "object", "properties": {"name": {"type": "string"}}}'


def rejected(files: dict[str, bytes]) -> list[Problem]:
    with pytest.raises(ValidationError) as info:
        compile_bundle(Bundle.from_files(files))
    assert info.value.problems, "a ValidationError must list its problems"
    return info.value.problems


def only(problems: list[Problem], text: str) -> Problem:
    matching = [p for p in problems if text in p.message]
    assert len(matching) == 1, f"expected one problem with {text!r}, got {problems}"
    return matching[0]


# -- MIWG reference models ---------------------------------------------------------------------


@pytest.fixture
def miwg_summary(record_property: Any) -> Any:
    """Note which MIWG models deploy and which are rejected (and why). The note travels
    with the test's report, so tests/conftest.py prints the table at the end of the run,
    also when the tests ran in parallel worker processes."""

    def note(name: str, outcome: str) -> None:
        record_property(MIWG_PROPERTY, (name, outcome))

    return note


def test_miwg_c91_deploys_once_its_timers_are_quoted() -> None:
    data = (MIWG_DIR / "C.9.1.bpmn").read_bytes()
    data = data.replace(b">R6/P1D<", b'>"R6/P1D"<').replace(b">P7D<", b'>"P7D"<')
    compiled = compile_bundle(Bundle.from_files({"C.9.1.bpmn": data}))
    assert compiled.processes["requestDocument_en"].files == ["C.9.1.bpmn"]


def test_miwg_corpus_is_there() -> None:
    assert len(MIWG_FILES) == 21, f"expected the 21 MIWG models in {MIWG_DIR}"


@pytest.mark.parametrize("path", MIWG_FILES, ids=[p.name for p in MIWG_FILES])
def test_miwg_model_compiles_or_is_rejected_precisely(path: Path, miwg_summary: Any) -> None:
    bundle = Bundle.from_paths([path])
    try:
        compiled = compile_bundle(bundle)
    except ValidationError as err:
        assert err.problems
        for problem in err.problems:
            assert problem.file == path.name, problem
            assert problem.message and problem.hint, problem
            file_level = "no process with" in problem.message
            assert file_level or problem.element, f"problem names no element: {problem}"
            assert file_level or problem.line, f"problem names no line: {problem}"
        first = err.problems[0]
        where = f" ({first.element})" if first.element else ""
        miwg_summary(
            path.name, f"rejected, {len(err.problems)} problem(s); first: {first.message}{where}"
        )
    else:
        assert compiled.processes
        miwg_summary(path.name, "deploys: " + ", ".join(sorted(compiled.processes)))


# -- hostile XML -------------------------------------------------------------------------------

XXE = (
    b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'
    b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&e;'
    b"</bpmn:definitions>"
)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(
        b' <!ENTITY lol%d "' % i
        + (b"&lol%s;" % (b"" if i == 1 else b"%d" % (i - 1))) * 10
        + b'">\n'
        for i in range(1, 10)
    )
    + b"]>\n<lolz>&lol9;</lolz>\n"
)


@pytest.mark.parametrize("data", [XXE, BILLION_LAUGHS], ids=["xxe", "billion-laughs"])
def test_documents_with_a_dtd_are_refused_before_parsing(data: bytes) -> None:
    started = time.perf_counter()
    problems = rejected({"evil.bpmn": data})
    elapsed = time.perf_counter() - started
    problem = only(problems, "<!DOCTYPE>")
    assert problem.file == "evil.bpmn"
    assert "entity" in problem.message
    assert "Remove the <!DOCTYPE" in problem.hint
    assert elapsed < 5  # generous; the real cost is a substring search


def test_dtd_in_utf16_is_refused_too() -> None:
    data = XXE.decode().replace('<?xml version="1.0"?>', "").encode("utf-16")
    with pytest.raises(ValidationError, match="DTD"):
        parse_xml("wide.bpmn", data)


def test_doctype_text_inside_cdata_is_not_mistaken_for_a_dtd() -> None:
    tree = parse_xml("ok.xml", b"<?xml version='1.0'?><a><![CDATA[<!DOCTYPE html>]]></a>")
    assert tree.getroot().text == "<!DOCTYPE html>"


def test_a_50_mb_file_is_refused_by_size_before_parsing(tmp_path: Path) -> None:
    big = b"<a>" + b" " * (50 * 1024 * 1024) + b"</a>"
    with pytest.raises(ValidationError) as info:
        parse_xml("big.bpmn", big)
    problem = info.value.problems[0]
    assert "50.0 MiB" in problem.message and "at most 10.0 MiB" in problem.message
    assert problem.hint

    with pytest.raises(ValidationError) as info:
        Bundle.from_files({"big.bpmn": big})
    assert "at most 10 MiB" in info.value.problems[0].message

    path = tmp_path / "big.bpmn"
    path.write_bytes(big)
    with pytest.raises(ValidationError) as info:
        Bundle.from_paths([path])
    assert info.value.problems[0].file == "big.bpmn"
    assert "50.0 MiB" in info.value.problems[0].message


def test_size_limit_is_exact() -> None:
    items = b"<b>x</b>\n" * 1_000_000
    padding = MAX_XML_BYTES - len(b"<a></a>") - len(items)
    data = b"<a>" + items + b" " * padding + b"</a>"
    assert len(data) == MAX_XML_BYTES
    assert parse_xml("edge.xml", data).getroot().tag == "a"
    with pytest.raises(ValidationError, match="too large"):
        parse_xml("edge.xml", data + b" ")


def test_parser_limits_are_reported_as_such() -> None:
    with pytest.raises(ValidationError) as info:
        parse_xml("deep.bpmn", b"<a>" * 300 + b"</a>" * 300)
    problem = info.value.problems[0]
    assert "safety limit" in problem.message
    assert problem.line == 1


def test_malformed_xml_names_the_line() -> None:
    data = HEADER.encode() + b'<bpmn:process id="p" isExecutable="true">\n<bpmn:task id="t">\n'
    data += b"</bpmn:process>\n</bpmn:definitions>\n"
    problem = only(rejected({"broken.bpmn": data}), "not well-formed XML")
    assert problem.file == "broken.bpmn"
    assert problem.line == 5
    assert "mismatch" in problem.message
    assert "Fix the XML syntax" in problem.hint


# -- Kedja's rules -----------------------------------------------------------------------------


def test_complex_gateway_is_rejected_naming_it() -> None:
    problems = rejected({"p.bpmn": linear('<bpmn:complexGateway id="e1"/>')})
    problem = only(problems, "complexGateway")
    assert problem.element == "e1"
    assert problem.line and problem.file == "p.bpmn"
    assert "not supported" in problem.message
    assert "exclusive" in problem.hint


def test_unreachable_element_is_rejected() -> None:
    data = linear('<bpmn:task id="e1"/>').replace(
        b"</bpmn:process>", b'<bpmn:task id="orphan"/></bpmn:process>'
    )
    problem = only(rejected({"p.bpmn": data}), "not reachable")
    assert problem.element == "orphan"


def test_unsupported_event_definition_is_rejected() -> None:
    data = bpmn(
        '<bpmn:startEvent id="start"/><bpmn:endEvent id="end">'
        '<bpmn:signalEventDefinition id="sd" signalRef="sig"/></bpmn:endEvent>'
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end"/>',
        before='<bpmn:signal id="sig" name="Done"/>',
    )
    problem = only(rejected({"p.bpmn": data}), "signal end event")
    assert problem.element == "end"


def test_interrupting_event_subprocess_is_rejected() -> None:
    esp = (
        '<bpmn:subProcess id="esp" triggeredByEvent="true">'
        '<bpmn:startEvent id="es"><bpmn:messageEventDefinition id="md" messageRef="m"/>'
        "</bpmn:startEvent>"
        '<bpmn:endEvent id="ee"/><bpmn:sequenceFlow id="x1" sourceRef="es" targetRef="ee"/>'
        "</bpmn:subProcess>"
    )
    data = linear(user_task(), before='<bpmn:message id="m" name="Stop"/>').replace(
        b"</bpmn:process>", esp.encode() + b"</bpmn:process>"
    )
    problem = only(rejected({"p.bpmn": data}), "interrupting event sub-process")
    assert problem.element == "es"
    assert 'isInterrupting="false"' in problem.hint
    # Non-interrupting is fine.
    compile_bundle(
        Bundle.from_files({"p.bpmn": data.replace(b'id="es">', b'id="es" isInterrupting="false">')})
    )


def test_form_reference_to_a_missing_file_is_rejected() -> None:
    problems = rejected({"p.bpmn": linear(user_task("intake.json")), "other.json": FORM_SCHEMA})
    problem = only(problems, "intake.json")
    assert problem.element == "e1"
    assert "not in the bundle" in problem.message
    assert "other.json" in problem.hint


def assigned_task(**properties: str) -> str:
    items = "".join(
        f'<spiffworkflow:property name="{name}" value="{value}"/>'
        for name, value in properties.items()
    )
    return (
        '<bpmn:userTask id="e1"><bpmn:extensionElements><spiffworkflow:properties>'
        f"{items}</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>"
    )


@pytest.mark.parametrize("priority", ["hög", "101", "-1", "5.5", "", "²"])
def test_a_priority_that_is_not_0_to_100_is_rejected(priority: str) -> None:
    problem = only(rejected({"p.bpmn": linear(assigned_task(priority=priority))}), "priority")
    assert problem.element == "e1" and problem.line
    assert problem.message == f"priority {priority!r} is not a whole number from 0 to 100"
    assert "50" in problem.hint


def test_assignment_expressions_are_checked_in_the_sandbox() -> None:
    """A due date, role or candidate expression runs when the task becomes ready: one that
    cannot run would stop every case there, so the deploy says so, naming the property."""
    task = assigned_task(
        dueDate="__import__('os')",
        roleFrom="role if",
        candidateUsersFrom="jury",
        candidateGroupsFrom="().__class__",
        priority="0",
    )
    problems = rejected({"p.bpmn": linear(task)})
    assert sorted(p.message.split(" ", 1)[0] for p in problems) == [
        "candidateGroupsFrom",
        "dueDate",
        "roleFrom",
    ]
    assert all(p.element == "e1" for p in problems)
    assert "not valid Python" in only(problems, "roleFrom").message
    ok = assigned_task(dueDate="working_days_after(start, 10)", priority="100", roleFrom="'x'")
    compile_bundle(Bundle.from_files({"p.bpmn": linear(ok)}))


def test_bare_iso_timer_is_rejected_with_the_quoting_hint() -> None:
    timer = (
        '<bpmn:intermediateCatchEvent id="e1"><bpmn:timerEventDefinition id="td">'
        "<bpmn:timeDuration>PT5M</bpmn:timeDuration></bpmn:timerEventDefinition>"
        "</bpmn:intermediateCatchEvent>"
    )
    problem = only(rejected({"p.bpmn": linear(timer)}), "PT5M")
    assert problem.element == "e1"
    assert "ISO-8601" in problem.message
    assert '"PT5M"' in problem.hint
    compile_bundle(Bundle.from_files({"p.bpmn": linear(timer.replace("PT5M", '"PT5M"'))}))


def test_timer_that_is_not_python_gets_the_quoting_hint() -> None:
    timer = (
        '<bpmn:intermediateCatchEvent id="e1"><bpmn:timerEventDefinition id="td">'
        "<bpmn:timeDate>31 jan 2025 09:00</bpmn:timeDate></bpmn:timerEventDefinition>"
        "</bpmn:intermediateCatchEvent>"
    )
    problem = only(rejected({"p.bpmn": linear(timer)}), "timer expression")
    assert "quoted string" in problem.hint


def test_import_in_a_script_task_is_rejected_at_compile() -> None:
    problem = only(rejected({"p.bpmn": linear(script_task("import os"))}), "script not allowed")
    assert problem.element == "e1"
    assert "Import" in problem.message
    assert problem.line == 5


def test_bad_condition_and_pre_script_are_reported_together() -> None:
    gateway = (
        '<bpmn:startEvent id="start"/>'
        '<bpmn:exclusiveGateway id="gw" default="fno"/>'
        '<bpmn:task id="yes"><bpmn:extensionElements>'
        "<spiffworkflow:preScript>__import__('os')</spiffworkflow:preScript>"
        "</bpmn:extensionElements></bpmn:task>"
        '<bpmn:endEvent id="end"/>'
        '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="gw"/>'
        '<bpmn:sequenceFlow id="fyes" sourceRef="gw" targetRef="yes">'
        "<bpmn:conditionExpression>${approved}</bpmn:conditionExpression></bpmn:sequenceFlow>"
        '<bpmn:sequenceFlow id="fno" sourceRef="gw" targetRef="end"/>'
        '<bpmn:sequenceFlow id="f3" sourceRef="yes" targetRef="end"/>'
    )
    problems = rejected({"p.bpmn": bpmn(gateway)})
    assert only(problems, "condition is not valid Python").element == "fyes"
    assert only(problems, "script not allowed").element == "yes"


def test_data_object_reference_that_would_hang_spiffworkflow_is_rejected() -> None:
    sub = (
        '<bpmn:subProcess id="e1"><bpmn:startEvent id="s2"/>'
        '<bpmn:task id="t"><bpmn:dataOutputAssociation id="a1">'
        "<bpmn:targetRef>ref1</bpmn:targetRef></bpmn:dataOutputAssociation></bpmn:task>"
        '<bpmn:dataObjectReference id="ref1" dataObjectRef="missing"/>'
        '<bpmn:endEvent id="e2"/><bpmn:sequenceFlow id="g1" sourceRef="s2" targetRef="t"/>'
        '<bpmn:sequenceFlow id="g2" sourceRef="t" targetRef="e2"/></bpmn:subProcess>'
    )
    problem = only(rejected({"p.bpmn": linear(sub)}), "data object reference")
    assert problem.element == "t"


def test_non_executable_only_bundle_is_rejected() -> None:
    data = bpmn('<bpmn:startEvent id="start"/>', executable="false")
    assert executable_process_ids(parse_xml("d.bpmn", data)) == []
    problem = only(rejected({"d.bpmn": data}), 'isExecutable="true"')
    assert problem.file == "d.bpmn"
    assert "Executable" in problem.hint


def test_problems_across_files_are_all_reported() -> None:
    problems = rejected(
        {
            "a.bpmn": linear('<bpmn:complexGateway id="e1"/>'),
            "b.bpmn": b"<not-closed>",
            "form.json": b"{nope",
        }
    )
    assert {p.file for p in problems} == {"a.bpmn", "b.bpmn", "form.json"}


def test_invalid_json_schema_is_rejected() -> None:
    problems = rejected({"p.bpmn": linear(user_task("f.json")), "f.json": b'{"type": "objekt"}'})
    problem = only(problems, "not a valid JSON Schema")
    assert problem.file == "f.json"


# -- SpiffWorkflow's own objections become problems ---------------------------------------------


def test_spiffworkflow_validation_error_is_located() -> None:
    # A duplicate process id across files is only found by SpiffWorkflow's parser.
    problems = rejected(
        {"a.bpmn": linear('<bpmn:task id="e1"/>'), "b.bpmn": linear('<bpmn:task id="e1"/>')}
    )
    problem = only(problems, "Duplicate process ID")
    assert problem.file == "b.bpmn"
    assert problem.element == "main"
    assert problem.line == 3
    assert problem.hint


def test_missing_decision_is_located_on_the_business_rule_task() -> None:
    rule_task = (
        '<bpmn:businessRuleTask id="e1"><bpmn:extensionElements>'
        "<spiffworkflow:calledDecisionId>nope</spiffworkflow:calledDecisionId>"
        "</bpmn:extensionElements></bpmn:businessRuleTask>"
    )
    problem = only(rejected({"p.bpmn": linear(rule_task)}), "No DMN Diagram")
    assert (problem.file, problem.element, problem.line) == ("p.bpmn", "e1", 5)
    assert ".dmn" in problem.hint


def test_schema_error_in_a_called_file_is_not_repeated_as_a_missing_process() -> None:
    problems = rejected(
        {
            "main.bpmn": linear('<bpmn:callActivity id="e1" calledElement="child"/>'),
            "child.bpmn": linear('<bpmn:tsk id="e1"/>', pid="child"),
        }
    )
    assert [p.file for p in problems] == ["child.bpmn"]
    assert problems[0].message.startswith("schema:")
    assert problems[0].line == 5


def test_unexpected_parser_crash_becomes_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

    def boom(self, tree, filename=None):
        raise KeyError("surprise")

    monkeypatch.setattr(SpiffBpmnParser, "add_bpmn_xml", boom)
    problem = only(rejected({"p.bpmn": linear('<bpmn:task id="e1"/>')}), "surprise")
    assert problem.file == "p.bpmn"
    assert "KeyError" in problem.message
    assert problem.hint


# -- good bundles ------------------------------------------------------------------------------


def test_call_activity_across_two_files_compiles_and_lists_both_files() -> None:
    main = linear('<bpmn:callActivity id="e1" calledElement="child"/>', pid="main")
    child = linear(user_task("forms/child.json", "forms/child-ui.json"), pid="child")
    compiled = compile_bundle(
        Bundle.from_files(
            {
                "main.bpmn": main,
                "child.bpmn": child,
                "forms/child.json": FORM_SCHEMA,
                "forms/child-ui.json": b'{"name": {"ui:autofocus": true}}',
                "unused.json": b"{}",
            }
        )
    )
    assert set(compiled.processes) == {"main", "child"}
    build: ProcessBuild = compiled.processes["main"]
    assert build.key == "main" and build.name == "Main"
    assert build.files == ["child.bpmn", "forms/child-ui.json", "forms/child.json", "main.bpmn"]
    assert build.element_forms == {"e1": "forms/child.json"}
    assert compiled.processes["child"].files == [
        "child.bpmn",
        "forms/child-ui.json",
        "forms/child.json",
    ]
    assert set(compiled.files) == {
        "main.bpmn",
        "child.bpmn",
        "forms/child.json",
        "forms/child-ui.json",
        "unused.json",
    }
    # The specs really run: the called process's user task becomes ready.
    workflow = BpmnWorkflow(build.spec, build.subprocess_specs)
    workflow.do_engine_steps()
    ready = workflow.get_tasks(state=TaskState.READY)
    assert [t.task_spec.bpmn_id for t in ready] == ["e1"]


DMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="dd" name="D"
             namespace="http://kedja.test">
  <decision id="level" name="Level">
    <decisionTable id="table">
      <input id="in1" label="Amount">
        <inputExpression id="ie1" typeRef="number"><text>amount</text></inputExpression>
      </input>
      <output id="out1" name="level" typeRef="string"/>
      <rule id="r1">
        <inputEntry id="r1i"><text>&gt; 100</text></inputEntry>
        <outputEntry id="r1o"><text>"high"</text></outputEntry>
      </rule>
      <rule id="r2">
        <inputEntry id="r2i"><text>&lt;= 100</text></inputEntry>
        <outputEntry id="r2o"><text>"low"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""


def test_business_rule_task_pulls_in_its_dmn_file() -> None:
    rule_task = (
        '<bpmn:businessRuleTask id="e1"><bpmn:extensionElements>'
        "<spiffworkflow:calledDecisionId>level</spiffworkflow:calledDecisionId>"
        "</bpmn:extensionElements></bpmn:businessRuleTask>"
    )
    compiled = compile_bundle(
        Bundle.from_files({"p.bpmn": linear(rule_task), "rules/level.dmn": DMN})
    )
    assert compiled.processes["main"].files == ["p.bpmn", "rules/level.dmn"]


def test_bundle_from_folder_is_recursive_relative_and_sorted(tmp_path: Path) -> None:
    (tmp_path / "forms").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "main.bpmn").write_bytes(linear(user_task("forms/a.json")))
    (tmp_path / "forms" / "a.json").write_bytes(FORM_SCHEMA)
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / ".git" / "x.json").write_text("{}")
    bundle = Bundle.from_paths([tmp_path])
    assert list(bundle.files) == ["forms/a.json", "main.bpmn"]
    compiled = compile_bundle(bundle)
    assert compiled.processes["main"].element_forms == {"e1": "forms/a.json"}


def test_duplicate_names_are_rejected(tmp_path: Path) -> None:
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "main.bpmn").write_bytes(linear('<bpmn:task id="e1"/>'))
    with pytest.raises(ValidationError) as info:
        Bundle.from_paths([tmp_path / "one", tmp_path / "two"])
    problem = only(info.value.problems, "same name")
    assert problem.file == "main.bpmn"


def test_bundle_names_must_stay_inside_the_bundle() -> None:
    with pytest.raises(ValidationError, match="relative path"):
        Bundle.from_files({"../escape.bpmn": b"<a/>"})

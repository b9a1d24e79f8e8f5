"""The script sandbox, exercised through real SpiffWorkflow workflows (engine/scripting.py)."""

from __future__ import annotations

from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine.errors import ScriptError
from engine.sandbox_names import GUARDS
from engine.scripting import (
    RestrictedEnvironment,
    _compile,
    check_source,
    make_script_engine,
)

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="proc" isExecutable="true">"""
TAIL = "</bpmn:process></bpmn:definitions>"

SCRIPT_PROCESS = (
    HEAD
    + """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Compute_totals" />
    <bpmn:scriptTask id="Compute_totals" name="Compute totals">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="Compute_totals" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
"""
    + TAIL
)

GATEWAY_PROCESS = (
    HEAD
    + """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Gateway_amount" />
    <bpmn:exclusiveGateway id="Gateway_amount" name="Large amount?" default="small">
      <bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>large</bpmn:outgoing><bpmn:outgoing>small</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="large" sourceRef="Gateway_amount" targetRef="Mark_large">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}
      </bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="small" sourceRef="Gateway_amount" targetRef="Mark_small" />
    <bpmn:scriptTask id="Mark_large"><bpmn:incoming>large</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:script>route = 'large'</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:scriptTask id="Mark_small"><bpmn:incoming>small</bpmn:incoming>
      <bpmn:outgoing>f4</bpmn:outgoing><bpmn:script>route = 'small'</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="Mark_large" targetRef="end" />
    <bpmn:sequenceFlow id="f4" sourceRef="Mark_small" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming><bpmn:incoming>f4</bpmn:incoming>
    </bpmn:endEvent>
"""
    + TAIL
)


def run(xml: str, data: dict | None = None, extra_globals: dict | None = None) -> dict:
    """Parse and run a process to its end; return the data of the end event."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(xml.encode(), filename="test.bpmn")
    workflow = BpmnWorkflow(
        parser.get_spec("proc"),
        parser.get_subprocess_specs("proc"),
        script_engine=make_script_engine(extra_globals),
    )
    workflow.get_next_task(state=TaskState.READY).data.update(data or {})
    workflow.do_engine_steps()
    assert workflow.completed
    return workflow.get_next_task(spec_name="end").data


def run_script(script: str, data: dict | None = None, **kw: dict) -> dict:
    return run(SCRIPT_PROCESS.format(script=escape(script)), data, **kw)


def run_condition(condition: str, data: dict) -> dict:
    return run(GATEWAY_PROCESS.format(condition=escape(condition)), data)


# --- what process owners may do -------------------------------------------------------------


def test_arithmetic_lists_dicts_and_augmented_assignment() -> None:
    data = run_script(
        "total = amount * 2 + 1\n"
        "rows = []\n"
        "rows.append({'a': 1})\n"
        "rows[0]['b'] = 2\n"
        "counts = {}\n"
        "counts['x'] = 1\n"
        "counts['x'] = counts['x'] + 1\n"
        "n = 1\n"
        "n += 1\n"
        "n -= 3\n"
        "n *= 10\n"
        "s = 'a'\n"
        "s += 'b'\n"
        "items = [1]\n"
        "items += [2]\n"
        "a, b = 1, 2\n",
        {"amount": 5},
    )
    assert data["total"] == 11
    assert data["rows"] == [{"a": 1, "b": 2}]
    assert data["counts"] == {"x": 2}
    assert (data["n"], data["s"], data["items"]) == (-10, "ab", [1, 2])
    assert (data["a"], data["b"]) == (1, 2)


def test_comprehensions_loops_strings_and_sorting() -> None:
    data = run_script(
        "squares = [i * i for i in range(4) if i]\n"
        "by_name = {p['name']: p['age'] for p in people}\n"
        "pairs = []\n"
        "for name, age in sorted(by_name.items(), key=lambda kv: kv[1]):\n"
        "    pairs.append(name.upper().strip() + ':' + str(age))\n"
        "for i, (k, v) in enumerate(zip(['x', 'y'], [1, 2])):\n"
        "    last = (i, k, v)\n"
        "label = ' - '.join(reversed(['b', 'a'])).title()\n"
        "flags = [any([0, 1]), all([1, 1]), isinstance(1, int), max(3, 4), sum([1, 2])]\n"
        "def double(x):\n"
        "    return x * 2\n"
        "doubled = list(map(double, filter(lambda x: x > 1, [1, 2, 3])))\n"
        "print('debug output', doubled)\n",
        {"people": [{"name": " bo ", "age": 40}, {"name": "al", "age": 30}]},
    )
    assert data["squares"] == [1, 4, 9]
    assert data["pairs"] == ["AL:30", "BO:40"]
    assert data["last"] == (1, "y", 2)
    assert data["label"] == "A - B"
    assert data["flags"] == [True, True, True, 4, 3]
    assert data["doubled"] == [4, 6]
    assert "double" not in data  # functions a script defines are not task data


def test_datetime_and_decimal() -> None:
    data = run_script(
        "start = date(2024, 1, 31)\n"
        "due = start + timedelta(days=30)\n"
        "utc = timezone.utc\n"
        "late = datetime(2024, 3, 1, tzinfo=utc) > datetime(2024, 2, 1, tzinfo=utc)\n"
        "iso = due.isoformat()\n"
        "price = str(Decimal('1.10') * 3)\n"
        "root = math.sqrt(16)\n"
    )
    assert data["iso"] == "2024-03-01"
    assert data["late"] is True
    assert data["price"] == "3.30"
    assert data["root"] == 4.0
    assert data["due"].isoformat() == "2024-03-01"  # values a script makes stay as they are


def test_indented_script_text_from_a_pretty_printed_diagram_runs() -> None:
    assert run_script("\n      y = x + 1\n      if y:\n          z = y\n    ", {"x": 1})["z"] == 2


def test_task_data_keeps_only_script_variables() -> None:
    data = run_script("y = x + 1\nprint(y)\n", {"x": 1})
    assert data == {"x": 1, "y": 2}  # no datetime, __builtins__, _getattr_, _print, ...


def test_host_functions_are_callable_and_not_stored() -> None:
    def working_days(n: int) -> int:
        return n * 7 // 5

    data = run_script("weeks = working_days(10)\n", extra_globals={"working_days": working_days})
    assert data == {"weeks": 14}


@pytest.mark.parametrize("name", ["date", "math", "timezone", "timedelta", "Decimal"])
def test_a_data_name_like_a_helper_is_just_a_variable(name: str) -> None:
    """Helpers are the script's builtins, data its variables: they cannot collide. A field
    called like a helper is kept as it is, and scripts that do not use it still run."""
    data = run_script("y = len(str(x)) + 1\n", {name: "2026-12-01", "x": 10})
    assert data == {name: "2026-12-01", "x": 10, "y": 3}


def test_a_script_reads_a_field_named_like_a_helper_as_the_field() -> None:
    assert run_script("year = date[:4]\n", {"date": "2026-12-01"})["year"] == "2026"


def test_helpers_stay_available_beside_a_field_named_like_another_helper() -> None:
    data = run_script("d = (date(2026, 1, 1) + timedelta(days=1)).day\n", {"math": 1})
    assert data == {"math": 1, "d": 2}


def test_an_expression_sees_data_before_helpers() -> None:
    env = RestrictedEnvironment()
    assert env.evaluate("math + 1", {"math": 1}) == 2
    assert env.evaluate("math.floor(2.5)", {}) == 2


def test_a_data_object_and_a_field_of_one_name_are_refused() -> None:
    env = RestrictedEnvironment()
    with pytest.raises(ValueError, match="data objects both hold total"):
        env.execute("y = 1", {"total": 1}, {"total": 2})


@pytest.mark.parametrize(("amount", "route"), [(50, "large"), (5, "small")])
def test_gateway_condition_routes(amount: int, route: str) -> None:
    assert run_condition("amount > 10", {"amount": amount})["route"] == route


def test_evaluate_with_external_context_as_dmn_uses_it() -> None:
    env = RestrictedEnvironment()
    context = {"limit": 3}
    assert env.evaluate("dmninputexpr > limit", context, {"dmninputexpr": 5}) is True
    assert env.evaluate("date(2024, 1, 1).year + limit", context) == 2027
    assert context == {"limit": 3}  # evaluate leaves the task data alone


def test_compiled_code_is_cached() -> None:
    assert _compile("amount > 10", "eval") is _compile("amount > 10", "eval")


# --- what is refused ------------------------------------------------------------------------

ESCAPES = [
    ("import os", "Imports are not allowed in Kedja scripts"),
    ("from os import path", "Imports are not allowed in Kedja scripts"),
    ("x = __import__('os')", '"__import__" is an invalid variable name'),
    ("x = ().__class__.__base__.__subclasses__()", '"__class__" is an invalid attribute name'),
    ("x = open('/etc/passwd').read()", "'open' is not available in Kedja scripts"),
    ("x = getattr(1, '__class__')", "'getattr' is not available in Kedja scripts"),
    ("x = eval('1')", "Eval calls are not allowed"),
    ("exec('x = 1')", "Exec calls are not allowed"),
    ("x = type(1).__mro__", '"__mro__" is an invalid attribute name'),
    ("x = type(1)", "'type' is not available in Kedja scripts"),
    ("x = globals()", "'globals' is not available in Kedja scripts"),
    ("x = vars()", "'vars' is not available in Kedja scripts"),
    ("x = compile('1', 'f', 'eval')", "'compile' is not available in Kedja scripts"),
    ("f = lambda: 1\nx = f.__globals__", '"__globals__" is an invalid attribute name'),
    ("x = date.today().__dict__", '"__dict__" is an invalid attribute name'),
    ("x = '{0.__class__}'.format(1)", "str.format() is not allowed in Kedja scripts"),
    ("x = str.format_map('{a}', {})", "str.format_map() is not allowed in Kedja scripts"),
    ("x = f'{date.__class__}'", '"__class__" is an invalid attribute name'),
    ("g = (i for i in [1])\nx = g.gi_frame", '"gi_frame" is a restricted name'),
    ("x = 1\nclass A: pass", "Class definitions are not allowed in Kedja scripts"),
    ("d = {'n': 1}\nd['n'] += 1", "Augmented assignment of object items and slices is not"),
]


@pytest.mark.parametrize(("script", "rule"), ESCAPES)
def test_escape_fails_naming_the_element_and_rule(script: str, rule: str) -> None:
    with pytest.raises(WorkflowTaskException) as info:
        run_script(script)
    message = str(info.value)
    assert rule in message
    assert "In element 'Compute_totals' ('Compute totals')" in message
    assert info.value.task_spec.bpmn_id == "Compute_totals"
    assert info.value.task_spec.bpmn_name == "Compute totals"
    assert info.value.error_type == "SandboxViolation"
    assert isinstance(info.value.__context__, ScriptError)
    assert info.value.line_number == script.count("\n") + 1  # the offending (last) line
    assert info.value.error_line == script.splitlines()[-1]


@pytest.mark.parametrize(("script", "rule"), ESCAPES)
def test_check_source_rejects_escapes_at_deploy(script: str, rule: str) -> None:
    problems = check_source(script, "exec")
    assert any(rule in p for p in problems), problems


def test_bare_reference_to_refused_builtin_fails_at_run_time_with_line() -> None:
    assert check_source("y = 1\nf = open", "exec") == []  # could be a task data field 'open'
    with pytest.raises(WorkflowTaskException) as info:
        run_script("y = 1\nf = open\n")
    assert "NameError:name 'open' is not defined" in str(info.value)
    assert "In element 'Compute_totals'" in str(info.value)
    assert (info.value.line_number, info.value.error_line) == (2, "f = open")


def test_host_stopping_exceptions_are_not_available() -> None:
    with pytest.raises(WorkflowTaskException) as info:
        run_script("raise SystemExit(1)")
    assert "SystemExit" in str(info.value) and "Compute_totals" in str(info.value)


def test_str_format_is_blocked_by_the_runtime_guard_too() -> None:
    getattr_guard = GUARDS["_getattr_"]
    with pytest.raises(NotImplementedError, match="format"):
        getattr_guard("{0.__class__}", "format")
    with pytest.raises(AttributeError, match="starts with"):
        getattr_guard(1, "__class__")
    with pytest.raises(AttributeError):
        getattr_guard(1, "no_such_attribute")  # raises, does not quietly return None


def test_forbidden_condition_fails_naming_the_gateway() -> None:
    with pytest.raises(WorkflowTaskException) as info:
        run_condition("__import__('os') is None", {"amount": 1})
    assert "In element 'Gateway_amount' ('Large amount?')" in str(info.value)
    assert '"__import__" is an invalid variable name' in str(info.value)


def test_condition_error_message_carries_its_cause() -> None:
    with pytest.raises(WorkflowTaskException) as info:
        run_condition("amont > 10", {"amount": 1})
    message = str(info.value)
    assert "NameError: name 'amont' is not defined" in message
    assert "Did you mean 'amount'?" in message
    assert "In element 'Gateway_amount'" in message


def test_failed_script_leaves_no_globals_in_task_data() -> None:
    context = {"x": 1}
    with pytest.raises(ZeroDivisionError):
        RestrictedEnvironment({"helper": len}).execute("y = 2\nz = x / 0", context)
    assert context == {"x": 1, "y": 2}


def test_environment_raises_script_error_directly() -> None:
    with pytest.raises(ScriptError, match="Imports are not allowed"):
        RestrictedEnvironment().execute("import os", {})


def test_check_source_accepts_fine_code_and_reports_syntax_errors() -> None:
    assert check_source("total = sum([r['n'] for r in rows])\nx = 1\nx += 1", "exec") == []
    assert check_source("amount > 10 and status == 'open'", "eval") == []
    assert check_source("type == 'yearly'", "eval") == []  # a field may be called 'type'
    assert check_source("x = = 1", "exec")[0].startswith("Line 1: SyntaxError")
    assert check_source("x = 1", "eval")  # a statement is not an expression
    with pytest.raises(ValueError, match="mode"):
        check_source("x", "single")

"""The short form of bench/load_test.py, run in CI: real gunicorn with two web processes, two
`kedja worker` processes and PostgreSQL, 4 clients (each its own user with its own API token)
completing tasks through the REST API for 10 s while timers fire — once plainly and once with
a worker killed by SIGKILL and restarted. No 5xx, every raced task answered once 200 and once
409, every completion recorded once, every timer fired once, the audit chain intact."""

from __future__ import annotations

import pytest

from bench.load_test import Settings, run

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]


@pytest.mark.parametrize("kill_worker", [False, True], ids=["steady", "kill-worker"])
def test_short_load_run_loses_nothing_and_does_nothing_twice(
    pg_server: str, tmp_path, kill_worker: bool
) -> None:
    # pg_server proves PostgreSQL is there (or fails in CI); the run makes its own database
    # with pg_database.
    result = run(
        Settings(seconds=10, clients=4, kill_worker=kill_worker),
        tmp_path,
    )
    print(result.report())
    assert result.problems == []
    assert result.completions > 0 and result.timers_fired >= result.completions
    assert not any(status >= 500 for status in result.statuses + result.list_statuses)
    assert set(result.statuses) <= {200, 409} and set(result.list_statuses) == {200}
    assert result.statuses[409] == result.races  # only the deliberate races lose
    assert result.killed_worker is kill_worker

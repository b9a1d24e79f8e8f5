"""The short form of bench/load_test.py, run in CI: real gunicorn with two web processes, two
`kedja worker` processes and PostgreSQL, 4 clients completing tasks over HTTP for 10 s while
timers fire — once plainly and once with a worker killed by SIGKILL and restarted. No 5xx,
every completion recorded once, every timer fired once, the audit chain intact."""

from __future__ import annotations

import pytest

from bench.load_test import Settings, run
from tests.conftest import PG_ADMIN_URL

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]


@pytest.mark.parametrize("kill_worker", [False, True], ids=["steady", "kill-worker"])
def test_short_load_run_loses_nothing_and_does_nothing_twice(
    pg_server: str, tmp_path, kill_worker: bool
) -> None:
    # pg_server proves PostgreSQL is there (or fails in CI); the run makes its own database.
    result = run(
        Settings(seconds=10, clients=4, kill_worker=kill_worker, pg_url=PG_ADMIN_URL),
        tmp_path,
    )
    print(result.report())
    assert result.problems == []
    assert result.completions > 0 and result.timers_fired >= result.completions
    assert not any(status >= 500 for status in result.statuses)
    assert result.killed_worker is kill_worker

"""The CI entry point and the Makefile are code too: a syntax slip there fails CI in 0 s."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_entry_point_is_valid_bash():
    result = subprocess.run(
        ["bash", "-n", str(ROOT / ".ci" / "run")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_ci_entry_point_runs_make_test_with_ci_set():
    text = (ROOT / ".ci" / "run").read_text()
    commands = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert "export CI=true" in commands
    assert commands[-1] == "make test"


def test_makefile_parses():
    result = subprocess.run(
        ["make", "-n", "-C", str(ROOT), "clean"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr

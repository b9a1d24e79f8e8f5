"""One line saying what a benchmark ran on, printed with its figures.

A ratio such as the engine overhead's compares Python-bound work (SpiffWorkflow in memory)
with work that is partly C and system calls (SQLite, its log). How fast a machine runs
Python relative to the rest moves that ratio: the same code measured 0.24 on a machine whose
Python ran SpiffWorkflow three times as fast as on another, where it measured 0.31
(docs/performance.md). Without the machine next to it, a figure cannot be compared.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import sysconfig
from pathlib import Path


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _python_build() -> str:
    """Whether the interpreter was built with profile-guided optimisation, and as a shared
    library: together they change Python's speed by a quarter or more."""
    args = sysconfig.get_config_var("CONFIG_ARGS") or ""
    build = ["PGO" if "--enable-optimizations" in args else "no PGO"]
    if "--enable-shared" in args:
        build.append("shared libpython")
    return ", ".join(build)


def describe() -> str:
    return (
        f"machine: {_cpu()}, {os.cpu_count()} cores; Python {platform.python_version()} "
        f"({_python_build()}); SQLite {sqlite3.sqlite_version}"
    )

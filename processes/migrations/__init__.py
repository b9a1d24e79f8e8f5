"""Alembic migrations of the governance tables, run programmatically after the engine's.

Separate from `engine/migrations` so the engine never learns of them; `kedja db upgrade` runs
both, the engine's first.
"""

from __future__ import annotations

from pathlib import Path

from engine.migration_scripts import MigrationScripts

VERSION_TABLE = "kedja_governance_version"
SCRIPTS = MigrationScripts(Path(__file__).resolve().parent, VERSION_TABLE)
_config = SCRIPTS.config
upgrade = SCRIPTS.upgrade
head_revision = SCRIPTS.head_revision
current_revision = SCRIPTS.current_revision

"""Alembic migrations of the engine's schema, run programmatically (no alembic.ini needed).

`kedja db upgrade` and the embedded default call `upgrade()`; production deployments run it
once per release before starting the new processes (see docs/operations.md).
"""

from __future__ import annotations

from pathlib import Path

from engine.migration_scripts import MigrationScripts

SCRIPTS = MigrationScripts(Path(__file__).resolve().parent)
_config = SCRIPTS.config
upgrade = SCRIPTS.upgrade
head_revision = SCRIPTS.head_revision
current_revision = SCRIPTS.current_revision

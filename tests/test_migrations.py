"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from engine import Engine
from engine.database import Database
from engine.errors import SchemaOutdated
from engine.migrations import current_revision, head_revision
from engine.models import Base


def test_migrated_schema_matches_the_models(db_url):
    db = Database(db_url)
    db.upgrade()
    assert current_revision(db.write_engine) == head_revision()
    with db.write_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    db.upgrade()  # a second upgrade is a no-op
    db.dispose()


def test_an_unmigrated_database_is_refused_with_what_to_do(db_url):
    with pytest.raises(SchemaOutdated, match="kedja db upgrade"):
        Engine(db_url, auto_upgrade=False)

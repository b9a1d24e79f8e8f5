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


def test_a_database_at_the_first_migration_upgrades_and_its_instances_run(db_url, tmp_path):
    """A database as the first release left it (engine schema 0001, no governance tables),
    holding a running instance, is brought to the latest schema by `kedja db upgrade`, and
    the instance goes on."""
    from alembic import command
    from click.testing import CliRunner

    from engine import Actor
    from engine.migrations import _config
    from processes.governance import open_engine
    from tests.diagrams import linear
    from webui import cli

    admin = Actor("admin", admin=True)
    engine = Engine(db_url)
    (tmp_path / "p.bpmn").write_text(linear("gammal", 2).xml(), encoding="utf-8")
    engine.repository.deploy([tmp_path / "p.bpmn"], admin)
    iid = engine.runtime.start("gammal", {}, admin).instance_id
    engine.close()
    db = Database(db_url)
    command.downgrade(_config(db.write_engine), "0001")  # back to the first release's schema
    assert current_revision(db.write_engine) == "0001"
    db.dispose()

    result = CliRunner().invoke(cli.main, ["db", "upgrade", "--db", db_url])
    assert result.exit_code == 0, result.output
    upgraded = open_engine(db_url, auto_upgrade=False)
    try:
        for _ in range(2):
            (task,) = upgraded.tasks.list(instance_id=iid).items
            upgraded.tasks.complete(task.id, {}, admin)
        assert upgraded.runtime.get(iid).state == "completed"
        assert upgraded.verify_history() == []
    finally:
        upgraded.close()


def test_governance_schema_matches_its_models(db_url):
    from processes import migrations as governance
    from processes.models import Base as GovernanceBase

    db = Database(db_url)
    db.upgrade()
    governance.upgrade(db.write_engine)
    with db.write_engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_name": lambda name, type_, parent: (
                    type_ != "table" or name in GovernanceBase.metadata.tables
                )
            },
        )
        assert compare_metadata(context, GovernanceBase.metadata) == []
    assert governance.current_revision(db.write_engine) == governance.head_revision()
    db.dispose()


def test_a_governance_schema_of_the_previous_release_upgrades(db_url):
    """A database at g005 (before the shared sign-in throttle) gains its table by upgrading,
    and g006 goes back down and up again cleanly."""
    from alembic import command
    from sqlalchemy import inspect

    from processes import migrations as governance

    db = Database(db_url)
    db.upgrade()
    governance.upgrade(db.write_engine, "g005")
    assert "sign_in_attempt" not in inspect(db.write_engine).get_table_names()
    governance.upgrade(db.write_engine)
    indexes = {i["name"] for i in inspect(db.write_engine).get_indexes("sign_in_attempt")}
    assert indexes == {
        "ix_sign_in_attempt_at",
        "ix_sign_in_attempt_user_key_at",
        "ix_sign_in_attempt_address_key_at",
    }
    command.downgrade(governance._config(db.write_engine), "g005")
    assert "sign_in_attempt" not in inspect(db.write_engine).get_table_names()
    governance.upgrade(db.write_engine)
    assert governance.current_revision(db.write_engine) == governance.head_revision()
    db.dispose()

"""Running a folder of Alembic migrations from code (no alembic.ini): the engine's schema
and the governance layer's tables each have one, with their own version table."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine


class MigrationScripts:
    def __init__(self, location: Path, version_table: str | None = None) -> None:
        self.location = location
        self.version_table = version_table

    def config(self, engine: Engine | None = None) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.location))
        if engine is not None:
            config.attributes["engine"] = engine
        return config

    def upgrade(self, engine: Engine, revision: str = "head") -> None:
        command.upgrade(self.config(engine), revision)

    def head_revision(self) -> str:
        head = ScriptDirectory.from_config(self.config()).get_current_head()
        assert head is not None
        return head

    def current_revision(self, engine: Engine) -> str | None:
        opts = {"version_table": self.version_table} if self.version_table else {}
        with engine.connect() as conn:
            return MigrationContext.configure(conn, opts=opts).get_current_revision()

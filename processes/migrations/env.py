"""Alembic environment of the governance tables (own version table, same database)."""

from alembic import context

from processes.models import Base

config = context.config
target_metadata = Base.metadata
VERSION_TABLE = "kedja_governance_version"


def run_migrations_online() -> None:
    engine = config.attributes["engine"]
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=VERSION_TABLE,
            render_as_batch=engine.dialect.name == "sqlite",
            include_name=lambda name, type_, parent: (
                type_ != "table" or name in target_metadata.tables
            ),
        )
        context.run_migrations()


run_migrations_online()

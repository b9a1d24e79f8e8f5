"""Alembic environment: the engine to migrate is handed in by `engine.migrations.upgrade`."""

from alembic import context

from engine.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes["engine"]
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=engine.dialect.name == "sqlite",
        )
        context.run_migrations()


run_migrations_online()

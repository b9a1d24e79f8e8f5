"""API tokens expire: expires_at (existing tokens: 90 days after they were made), renewed_at

Revision ID: g007
Revises: g006
Create Date: 2026-12-01 00:00:00
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = "g007"
down_revision = "g006"
branch_labels = None
depends_on = None

EXISTING_TOKENS_DAYS = 90  # what a token made before this release is given, from its creation


def upgrade() -> None:
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("renewed_at", sa.DateTime(), nullable=True))
    # In Python rather than SQL: date arithmetic is spelt differently on SQLite and
    # PostgreSQL, and a city has a handful of tokens.
    token = sa.table(
        "api_token",
        sa.column("id", sa.Integer()),
        sa.column("created_at", sa.DateTime()),
        sa.column("expires_at", sa.DateTime()),
    )
    bind = op.get_bind()
    for token_id, created_at in bind.execute(sa.select(token.c.id, token.c.created_at)).all():
        bind.execute(
            token.update()
            .where(token.c.id == token_id)
            .values(expires_at=created_at + timedelta(days=EXISTING_TOKENS_DAYS))
        )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.alter_column("expires_at", existing_type=sa.DateTime(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("renewed_at")
        batch_op.drop_column("expires_at")

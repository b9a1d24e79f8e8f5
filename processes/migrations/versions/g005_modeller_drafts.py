"""modeller drafts: diagrams saved without deploying

Revision ID: g005
Revises: g004
Create Date: 2026-11-28 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "g005"
down_revision = "g004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "modeller_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("definition_key", sa.String(length=200), nullable=False),
        sa.Column("file_name", sa.String(length=500), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("saved_by", sa.String(length=120), nullable=False),
        sa.Column("saved_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("definition_key", "file_name", "saved_by"),
    )
    with op.batch_alter_table("modeller_draft", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_modeller_draft_saved_by"), ["saved_by"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("modeller_draft", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_modeller_draft_saved_by"))
    op.drop_table("modeller_draft")

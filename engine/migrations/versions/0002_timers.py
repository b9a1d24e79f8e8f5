"""timers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 23:20:03.309243
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "timer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("definition_key", sa.String(length=200), nullable=True),
        sa.Column("schedule", sa.Text(), nullable=True),
        sa.Column("spiff_task_id", sa.String(length=36), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instance.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance_id", "spiff_task_id"),
    )
    with op.batch_alter_table("timer", schema=None) as batch_op:
        batch_op.create_index(
            "ix_timer_due",
            ["due_at"],
            unique=False,
            sqlite_where=sa.text("state = 'waiting'"),
            postgresql_where=sa.text("state = 'waiting'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("timer", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_timer_due",
            sqlite_where=sa.text("state = 'waiting'"),
            postgresql_where=sa.text("state = 'waiting'"),
        )

    op.drop_table("timer")

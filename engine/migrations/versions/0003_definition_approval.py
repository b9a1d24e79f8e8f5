"""A version that calls a privileged service waits for an administrator's approval.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08 10:00:00

Definitions deployed before this revision ran without an approval step; they are recorded as
approved by `kedja-migration`, so running cases go on. docs/operations.md says how to review
them (the cockpit lists what each version calls).
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_definition", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("privileged_calls", sa.Text(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column("approval", sa.String(length=20), nullable=False, server_default="awaiting")
        )
        batch_op.add_column(sa.Column("approved_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("approved_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("approval_note", sa.Text(), nullable=True))
    op.execute(
        "UPDATE process_definition SET approval = 'approved', approved_by = 'kedja-migration', "
        "approval_note = 'deployed before versions needed approval'"
    )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite >= 3.35, PostgreSQL): a batch recreate of the table would drop
    # a table that process_instance references, which SQLite's foreign keys refuse.
    for column in ("approval_note", "approved_at", "approved_by", "approval", "privileged_calls"):
        op.execute(f"ALTER TABLE process_definition DROP COLUMN {column}")

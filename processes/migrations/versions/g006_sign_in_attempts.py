"""sign-in attempts: the throttle shared by every web process

Revision ID: g006
Revises: g005
Create Date: 2026-11-29 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "g006"
down_revision = "g005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_key", sa.String(length=64), nullable=False),
        sa.Column("address_key", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sign_in_attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_attempt_at"), ["at"], unique=False)
        batch_op.create_index("ix_sign_in_attempt_user_key_at", ["user_key", "at"], unique=False)
        batch_op.create_index(
            "ix_sign_in_attempt_address_key_at", ["address_key", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sign_in_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_in_attempt_address_key_at")
        batch_op.drop_index("ix_sign_in_attempt_user_key_at")
        batch_op.drop_index(batch_op.f("ix_sign_in_attempt_at"))
    op.drop_table("sign_in_attempt")

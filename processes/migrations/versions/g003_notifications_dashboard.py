"""notification preferences, calendar tokens, tertial report rows, council meetings

Revision ID: g003
Revises: g002
Create Date: 2026-11-25 00:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "g003"
down_revision = "g002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_preference",
        sa.Column("user_id", sa.String(length=120), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "calendar_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=120), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("calendar_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calendar_token_user_id"), ["user_id"], unique=False)
    op.create_table(
        "tertial_report_row",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("tertial", sa.String(length=4), nullable=False),
        sa.Column("organisation_id", sa.String(length=64), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("traffic_light", sa.String(length=10), nullable=True),
        sa.Column("measures", sa.Text(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("compiled_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("year", "tertial", "organisation_id"),
    )
    with op.batch_alter_table("tertial_report_row", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tertial_report_row_year"), ["year"], unique=False)
    op.create_table(
        "council_meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meets_at", sa.DateTime(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meets_at"),
    )


def downgrade() -> None:
    op.drop_table("council_meeting")
    with op.batch_alter_table("tertial_report_row", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tertial_report_row_year"))
    op.drop_table("tertial_report_row")
    with op.batch_alter_table("calendar_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_token_user_id"))
    op.drop_table("calendar_token")
    op.drop_table("notification_preference")

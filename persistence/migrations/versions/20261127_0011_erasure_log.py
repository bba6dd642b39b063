"""erasure log: who was erased, when, at which request (ids only)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 02:39:18.747871
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import persistence.types


revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erasure_log",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("erased_at", persistence.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_erasure_log")),
    )
    with op.batch_alter_table("erasure_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_erasure_log_erased_at"), ["erased_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("erasure_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erasure_log_erased_at"))
    op.drop_table("erasure_log")

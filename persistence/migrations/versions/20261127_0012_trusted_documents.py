"""trusted documents

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 02:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import persistence.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The trusted_documents table belongs to this revision (issue 7, trusted documents); 0011 is the
# erasure log's.
def upgrade() -> None:
    op.create_table(
        "trusted_documents",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("operation_name", sa.String(length=100), nullable=True),
        sa.Column("loaded_at", persistence.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_trusted_documents")),
    )


def downgrade() -> None:
    op.drop_table("trusted_documents")

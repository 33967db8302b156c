"""feeder state (the scoring log's last sequence turned into cases); queue indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


INDEXES: dict[str, list[str | sa.TextClause]] = {
    "ix_cases_unit_score": ["unit_id", sa.text("risk_score DESC")],
    "ix_cases_month_score": ["month", sa.text("risk_score DESC")],
    "ix_cases_type_score": ["proxy_type", sa.text("risk_score DESC")],
    "ix_cases_assignee_score": ["assignee_id", sa.text("risk_score DESC")],
    "ix_cases_filters": ["status", "unit_id", "month", "proxy_type", "assignee_id", "risk_score"],
    "ix_cases_submitted": ["submitted_at"],
    "ix_cases_updated": ["updated_at"],
}


def upgrade() -> None:
    op.create_table(
        "feeder_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # The queue at 100,000 cases. A case row is large (the evidence graph is ~20 kB of
    # JSON), so every row the database reads to check a filter costs a page read: each
    # filter gets an index ordered by score (a filtered first page stops after one page
    # of matches), and one wide index holds every filter column, so a count with any
    # combination of filters is answered from the index alone. The other sort orders
    # walk an index too, instead of sorting every case.
    for name, columns in INDEXES.items():
        op.create_index(name, "cases", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, "cases")
    op.drop_table("feeder_state")

"""exploration cases: why a case is queued, its chance of being drawn, the queue's priority

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 22:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A share of the queue is drawn below the threshold to teach the model (detector.explore):
    # such a case says so (chosen_by), keeps its chance of being drawn (a verdict on it counts
    # 1/propensity in training) and takes its place in the queue by priority, not by risk.
    # Plain ADD COLUMNs: SQLite's batch mode would copy the cases table and drop the old one,
    # which cascades to verdicts and assignments.
    op.add_column(
        "cases", sa.Column("chosen_by", sa.String(16), nullable=False, server_default="queue")
    )
    op.add_column("cases", sa.Column("propensity", sa.Float(), nullable=False, server_default="1"))
    op.add_column("cases", sa.Column("priority", sa.Float(), nullable=False, server_default="0"))
    op.execute("UPDATE cases SET priority = risk_score")
    if op.get_bind().dialect.name != "sqlite":  # SQLite cannot add a constraint to a table
        op.create_check_constraint(
            "ck_cases_chosen_by", "cases", "chosen_by IN ('queue', 'exploration')"
        )
        op.create_check_constraint(
            "ck_cases_propensity", "cases", "propensity > 0 AND propensity <= 1"
        )
    # the default queue reads by priority, highest first, then id (a page stops early)
    op.create_index("ix_cases_priority", "cases", [sa.text("priority DESC"), "id"])
    op.create_index("ix_cases_status_priority", "cases", ["status", sa.text("priority DESC"), "id"])


def downgrade() -> None:
    op.drop_index("ix_cases_status_priority", "cases")
    op.drop_index("ix_cases_priority", "cases")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("ck_cases_propensity", "cases", type_="check")
        op.drop_constraint("ck_cases_chosen_by", "cases", type_="check")
    with op.batch_alter_table("cases", recreate="never") as batch:  # SQLite 3.35+ drops columns
        batch.drop_column("priority")
        batch.drop_column("propensity")
        batch.drop_column("chosen_by")

"""cases by actor: an ``actors`` table, and each dossier case's actor (issue #13)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 23:00:00

Design. Inspectors review an actor once (a broker's account, a shared device,
an officer, a unit in a month), not each of its dossiers; the dossier stays
the unit of a verdict, since each verdict becomes one training label. So:

- ``actors``: one row per actor case, keyed by ``detector.actors.actor_cases``'
  case key (``account:<pseudonym>``, ``unit_month:<unit>:<YYYY-MM>``,
  ``dossier:<id>`` for a flagged dossier no actor explains), with the masked
  label, the aggregates the queue ranks and the pages show (dossiers, distinct
  owners, months, units, open dossiers, expected misuse, uncertainty,
  ``rank_cases`` priority, highest risk, main type), a status and an assignee.
  An integer id names it in URLs (a key may hold any dossier id).
- ``cases.actor_id``: the actor case a dossier case is reviewed in; NULL for
  an exploration case (drawn below the threshold to teach the model: it stays
  a case of its own in the dossier queue, its verdict weighted 1/propensity).

The aggregates are a cache of the dossier cases, recomputed whenever one
joins, leaves or gets a verdict, so the actor queue reads one indexed table.
``cases.actor_id`` is a plain indexed column, not a foreign key: SQLite adds a
column with a constraint only by copying the table (batch mode), and dropping
the old ``cases`` table would cascade to verdicts and assignments (see 0004).
The code keeps it consistent: an actor is deleted only when no case points at it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_STATUSES = "('open', 'needs_info', 'misuse', 'legitimate')"
_KINDS = "('account', 'device', 'phone', 'payment_token', 'officer', 'unit_month', 'dossier')"


def upgrade() -> None:
    op.create_table(
        "actors",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("label", sa.String(200), nullable=False, server_default=""),
        sa.Column("unit_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("n_dossiers", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("n_owners", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("n_months", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("n_units", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("n_open", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("expected_misuse", sa.Float(), nullable=False, server_default="0"),
        sa.Column("uncertainty", sa.Float(), nullable=False, server_default="0"),
        sa.Column("priority", sa.Float(), nullable=False, server_default="0"),
        sa.Column("max_risk", sa.Float(), nullable=False, server_default="0"),
        sa.Column("main_type", sa.String(32), nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.Column("verdict_type", sa.String(32), nullable=True),
        sa.Column(
            "assignee_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"status IN {_STATUSES}", name="ck_actors_status"),
        sa.CheckConstraint(f"kind IN {_KINDS}", name="ck_actors_kind"),
    )
    # the actor queue reads by priority, highest first, then id (a page stops early)
    op.create_index(
        "ix_actors_status_priority", "actors", ["status", sa.text("priority DESC"), "id"]
    )
    op.create_index("ix_actors_priority", "actors", [sa.text("priority DESC"), "id"])
    op.create_index("ix_actors_kind", "actors", ["kind"])
    op.add_column("cases", sa.Column("actor_id", sa.Integer(), nullable=True))
    op.create_index("ix_cases_actor_id", "cases", ["actor_id"])


def downgrade() -> None:
    op.drop_index("ix_cases_actor_id", "cases")
    with op.batch_alter_table("cases", recreate="never") as batch:
        batch.drop_column("actor_id")
    op.drop_index("ix_actors_kind", "actors")
    op.drop_index("ix_actors_priority", "actors")
    op.drop_index("ix_actors_status_priority", "actors")
    op.drop_table("actors")

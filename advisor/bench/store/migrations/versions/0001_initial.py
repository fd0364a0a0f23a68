"""The first schema: runs, cells, metrics, schema_version.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATUSES = ("ok", "skipped", "failed", "timeout", "killed")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("suite", sa.String(200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("git_commit", sa.String(64), nullable=True),
        sa.Column("packages", sa.Text(), nullable=False),
        sa.Column("hardware", sa.Text(), nullable=False),
        sa.Column("host", sa.String(255), nullable=True),
        sa.UniqueConstraint("name"),
    )
    op.create_index("ix_runs_suite", "runs", ["suite"])
    op.create_table(
        "cells",
        sa.Column("cell_id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("model", sa.String(500), nullable=False),
        sa.Column("task", sa.String(200), nullable=False),
        sa.Column("technique", sa.String(100), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*STATUSES, name="cell_status", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(32), nullable=True),
        sa.Column("quality_metric", sa.String(200), nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.UniqueConstraint("run_id", "config_hash", name="uq_cells_run_id_config_hash"),
    )
    op.create_index("ix_cells_run_id", "cells", ["run_id"])
    op.create_table(
        "metrics",
        sa.Column("metric_id", sa.Integer(), primary_key=True),
        sa.Column(
            "cell_id", sa.Integer(), sa.ForeignKey("cells.cell_id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(32), nullable=True),
        sa.UniqueConstraint("cell_id", "name", name="uq_metrics_cell_id_name"),
    )
    op.create_index("ix_metrics_cell_id", "metrics", ["cell_id"])
    version = op.create_table(
        "schema_version",
        sa.Column("schema_version_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("schema_version_id = 1", name="ck_schema_version_one_row"),
    )
    op.bulk_insert(version, [{"schema_version_id": 1, "version": 1}])


def downgrade() -> None:
    op.drop_table("schema_version")
    op.drop_index("ix_metrics_cell_id", "metrics")
    op.drop_table("metrics")
    op.drop_index("ix_cells_run_id", "cells")
    op.drop_table("cells")
    op.drop_index("ix_runs_suite", "runs")
    op.drop_table("runs")

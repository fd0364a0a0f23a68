"""Per-document outcomes: the documents table (the score of each test document, before and after).

Revision ID: 0002
Revises: 0001
Create Date: 2025-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("document_id", sa.Integer(), primary_key=True),
        sa.Column(
            "cell_id", sa.Integer(), sa.ForeignKey("cells.cell_id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("phase", sa.String(8), nullable=False),
        sa.Column("doc_id", sa.String(200), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.UniqueConstraint("cell_id", "phase", "doc_id", name="uq_documents_cell_id_phase_doc_id"),
        sa.CheckConstraint("phase IN ('before', 'after')", name="ck_documents_phase"),
    )
    op.create_index("ix_documents_cell_id", "documents", ["cell_id"])
    op.execute("UPDATE schema_version SET version = 2 WHERE schema_version_id = 1")


def downgrade() -> None:
    op.execute("UPDATE schema_version SET version = 1 WHERE schema_version_id = 1")
    op.drop_index("ix_documents_cell_id", "documents")
    op.drop_table("documents")

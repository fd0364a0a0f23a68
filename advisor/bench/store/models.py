"""The tables of the results store, one SQLAlchemy model each.

``runs`` (one invocation of a suite, shared by its shards), ``cells`` (one row per cell of a run, unique on
the configuration hash), ``metrics`` (name, value, unit per cell; the unit comes from
``advisor.train.metrics``), ``documents`` (the primary metric of each test document, before and after the
technique: what ``compare`` pairs) and ``schema_version`` (one row). The Alembic migrations in ``migrations/``
create and upgrade them; a test checks that the migrations produce exactly these models.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class CellStatus(str, enum.Enum):
    ok = "ok"
    skipped = "skipped"  # the technique does not apply here (e.g. needs CUDA); not an error
    failed = "failed"  # non-zero exit, a crash, or no result on stdout
    timeout = "timeout"  # ran past its time limit; its process group was killed
    killed = "killed"  # ended by a signal from outside (the OOM killer, an operator)


class Base(DeclarativeBase):
    pass


class RunModel(Base):
    __tablename__ = "runs"

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    suite: Mapped[str] = mapped_column(String(200), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    git_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    packages: Mapped[str] = mapped_column(Text, default="{}")  # JSON: distribution -> version
    hardware: Mapped[str] = mapped_column(Text, default="{}")  # JSON: cpu, memory, gpus
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)

    cells: Mapped[list[CellModel]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True
    )


class CellModel(Base):
    __tablename__ = "cells"
    __table_args__ = (UniqueConstraint("run_id", "config_hash", name="uq_cells_run_id_config_hash"),)

    cell_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"), index=True)
    config_hash: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(500))
    task: Mapped[str] = mapped_column(String(200))
    technique: Mapped[str] = mapped_column(String(100))
    settings: Mapped[str] = mapped_column(Text, default="{}")  # JSON, canonical (sorted keys)
    seed: Mapped[int] = mapped_column(Integer)
    status: Mapped[CellStatus] = mapped_column(
        Enum(CellStatus, name="cell_status", native_enum=False, create_constraint=True, length=16)
    )
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    kind: Mapped[str | None] = mapped_column(String(32), nullable=True)  # prompting, retrieval, peft, full
    quality_metric: Mapped[str | None] = mapped_column(String(200), nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_s: Mapped[float] = mapped_column(Float)

    run: Mapped[RunModel] = relationship(back_populates="cells")
    metrics: Mapped[list[MetricModel]] = relationship(
        back_populates="cell", cascade="all, delete-orphan", passive_deletes=True
    )
    documents: Mapped[list[DocumentModel]] = relationship(
        back_populates="cell", cascade="all, delete-orphan", passive_deletes=True
    )


class MetricModel(Base):
    __tablename__ = "metrics"
    __table_args__ = (UniqueConstraint("cell_id", "name", name="uq_metrics_cell_id_name"),)

    metric_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_id: Mapped[int] = mapped_column(ForeignKey("cells.cell_id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(32), nullable=True)

    cell: Mapped[CellModel] = relationship(back_populates="metrics")


#: The phases of a document score: the base model's (``quality_before``) and the technique's
#: (``quality_after``).
PHASES = ("before", "after")
DOC_ID_LENGTH = 200


class DocumentModel(Base):
    """The primary metric of one test document of a cell, in one phase (0/1 for exact match)."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("cell_id", "phase", "doc_id", name="uq_documents_cell_id_phase_doc_id"),
        CheckConstraint("phase IN ('before', 'after')", name="ck_documents_phase"),
    )

    document_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_id: Mapped[int] = mapped_column(ForeignKey("cells.cell_id", ondelete="CASCADE"), index=True)
    phase: Mapped[str] = mapped_column(String(8))
    doc_id: Mapped[str] = mapped_column(String(DOC_ID_LENGTH))
    score: Mapped[float] = mapped_column(Float)

    cell: Mapped[CellModel] = relationship(back_populates="documents")


class SchemaVersionModel(Base):
    __tablename__ = "schema_version"
    __table_args__ = (CheckConstraint("schema_version_id = 1", name="ck_schema_version_one_row"),)

    schema_version_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, default=1)
    version: Mapped[int] = mapped_column(Integer)

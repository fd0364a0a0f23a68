"""The results store: the engine, the session, the migrations and the queries the harness needs.

The tables are the SQLAlchemy models in ``models.py``. The schema is created and upgraded by the Alembic
migrations in ``migrations/`` when a :class:`Store` opens the database.

Any SQLAlchemy URL works; the default is ``sqlite:///results.db`` in the working directory (WAL journal,
a busy timeout and retries, so that parallel cells and shards on one machine can share it).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event, func, inspect, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from advisor.bench.store.models import (
    DOC_ID_LENGTH,
    PHASES,
    CellModel,
    CellStatus,
    DocumentModel,
    MetricModel,
    RunModel,
    SchemaVersionModel,
)
from advisor.errors import InputError, UsageError
from advisor.train.metrics import unit_of

DEFAULT_URL = "sqlite:///results.db"
DB_ENV = "ADVISOR_DB"
SCHEMA_VERSION = 2  # the version the head migration writes into schema_version
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_PG_MIGRATION_LOCK = 0x616476697372  # any constant: serialises shards that migrate one PostgreSQL database

T = TypeVar("T")


@dataclass
class CellOutcome:
    """What one cell produced: written with its metrics and documents in one transaction.

    ``documents`` maps a phase (``before``, ``after``) to the primary metric of each test document by
    its id (lm-eval's ``doc_id`` as text); empty when the cell printed none.
    """

    status: CellStatus
    started_at: datetime
    ended_at: datetime
    error: str | None = None
    kind: str | None = None
    quality_metric: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    host: str | None = None
    documents: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


@dataclass
class CellRecord:
    """A stored cell, read back for compare and report."""

    config_hash: str
    model: str
    task: str
    technique: str
    settings: dict[str, Any]
    seed: int
    status: str
    error: str | None
    kind: str | None
    quality_metric: str | None
    duration_s: float
    metrics: dict[str, float]
    units: dict[str, str | None]
    #: phase -> doc id -> score; filled only by ``Store.cells(run_id, documents=True)``
    documents: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.technique} on {self.task} ({self.model}, seed {self.seed})"


@dataclass
class RunRecord:
    run_id: int
    name: str
    suite: str
    started_at: datetime
    ended_at: datetime | None
    git_commit: str | None
    host: str | None
    packages: dict[str, str]
    hardware: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)


def now() -> datetime:
    return datetime.now(UTC)


def resolve_url(url: str | None = None) -> str:
    """``--db`` first, then ``$ADVISOR_DB``, then ``sqlite:///results.db``; a bare path means SQLite."""
    url = url or os.environ.get(DB_ENV) or DEFAULT_URL
    if "://" not in url:
        url = f"sqlite:///{url}"
    try:
        make_url(url)
    except ArgumentError as exc:
        raise UsageError(f"bad database URL {url!r}: {exc}") from None
    return url


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    memory = parsed.database in (None, "", ":memory:")
    if not memory:
        Path(parsed.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": 30, "check_same_thread": False},
        **({"poolclass": StaticPool} if memory else {}),
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def _transient(exc: OperationalError) -> bool:
    message = str(exc.orig).lower()
    return any(s in message for s in ("locked", "busy", "deadlock", "could not serialize"))


def retrying(fn: Callable[[], T], attempts: int = 8) -> T:
    """Run ``fn`` (a whole transaction) again when the database is locked or busy."""
    for attempt in range(attempts):
        try:
            return fn()
        except OperationalError as exc:
            if attempt == attempts - 1 or not _transient(exc):
                raise
            time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


class Store:
    """A results database. ``Store(url)`` creates or upgrades its schema unless ``migrate=False``."""

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.url = resolve_url(url)
        self.engine = make_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            self.ensure_schema()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises, always closed."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    # -- schema -------------------------------------------------------------------------------------

    def schema_version(self) -> int | None:
        with self.engine.connect() as conn:
            if not inspect(conn).has_table(SchemaVersionModel.__tablename__):
                return None
            return conn.execute(select(SchemaVersionModel.version)).scalar()

    def ensure_schema(self) -> None:
        try:
            version = retrying(self.schema_version)
        except OperationalError as exc:
            raise InputError(f"cannot open the results database {self.safe_url}: {exc.orig}") from None
        if version is not None and version > SCHEMA_VERSION:
            raise InputError(
                f"the results database {self.safe_url} has schema version {version}, newer than "
                f"this ft-advisor understands ({SCHEMA_VERSION}); upgrade ft-advisor"
            )
        if version == SCHEMA_VERSION:
            return
        try:
            retrying(lambda: migrate(self.engine))
        except (OperationalError, IntegrityError):
            # Another process (a shard) may have created the schema at the same moment.
            if retrying(self.schema_version) != SCHEMA_VERSION:
                raise

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    # -- writes -------------------------------------------------------------------------------------

    def create_run(
        self,
        *,
        name: str,
        suite: str,
        git_commit: str | None,
        packages: dict[str, str],
        hardware: dict[str, Any],
        host: str | None,
    ) -> RunRecord:
        def write() -> int:
            with self.session() as s:
                run = RunModel(
                    name=name,
                    suite=suite,
                    started_at=now(),
                    git_commit=git_commit,
                    packages=json.dumps(packages, sort_keys=True),
                    hardware=json.dumps(hardware, sort_keys=True),
                    host=host,
                )
                s.add(run)
                s.flush()
                return run.run_id

        try:
            run_id = retrying(write)
        except IntegrityError:
            raise UsageError(f"a run named {name!r} already exists; pass --resume to continue it") from None
        return self.run(run_id)

    def record_cell(self, run_id: int, cell: Any, outcome: CellOutcome) -> bool:
        """Store a finished cell, its metrics and documents in one transaction; False when the run already
        has it."""
        from advisor.bench.suite import canonical_json

        for phase, scores in outcome.documents.items():
            if phase not in PHASES:
                raise ValueError(f"unknown document phase {phase!r}; expected one of {PHASES}")
            if any(len(doc_id) > DOC_ID_LENGTH for doc_id in scores):
                raise ValueError(f"document ids are at most {DOC_ID_LENGTH} characters")

        def write() -> bool:
            with self.session() as s:
                row = CellModel(
                    run_id=run_id,
                    config_hash=cell.config_hash,
                    model=cell.model,
                    task=cell.task,
                    technique=cell.technique,
                    settings=canonical_json(cell.settings),
                    seed=cell.seed,
                    status=outcome.status,
                    error=outcome.error,
                    kind=outcome.kind,
                    quality_metric=outcome.quality_metric,
                    host=outcome.host,
                    started_at=outcome.started_at,
                    ended_at=outcome.ended_at,
                    duration_s=outcome.duration_s,
                )
                row.metrics = [
                    MetricModel(name=k, value=float(v), unit=unit_of(k))
                    for k, v in sorted(outcome.metrics.items())
                ]
                row.documents = [
                    DocumentModel(phase=phase, doc_id=str(doc_id), score=float(score))
                    for phase, scores in sorted(outcome.documents.items())
                    for doc_id, score in scores.items()
                ]
                s.add(row)
            return True

        try:
            return retrying(write)
        except IntegrityError:
            return False

    def forget_cells(self, run_id: int, statuses: set[str]) -> int:
        """Delete the cells of a run with these statuses (so that ``--resume --retry-failed`` reruns them)."""

        def write() -> int:
            with self.session() as s:
                rows = s.scalars(
                    select(CellModel).where(
                        CellModel.run_id == run_id, CellModel.status.in_(sorted(statuses))
                    )
                ).all()
                for row in rows:
                    s.delete(row)
                return len(rows)

        return retrying(write)

    def finish_run(self, run_id: int) -> None:
        def write() -> None:
            with self.session() as s:
                s.get(RunModel, run_id).ended_at = now()

        retrying(write)

    # -- reads --------------------------------------------------------------------------------------

    def run(self, ref: int | str) -> RunRecord:
        """A run by id or name; an unknown one is a UsageError that lists the latest runs."""
        with self.session() as s:
            row = None
            if isinstance(ref, int) or str(ref).isdigit():
                row = s.get(RunModel, int(ref))
            if row is None:
                row = s.scalars(select(RunModel).where(RunModel.name == str(ref))).first()
            if row is None:
                latest = [
                    f"{r.run_id} ({r.name})"
                    for r in s.scalars(select(RunModel).order_by(RunModel.run_id.desc()).limit(5))
                ]
                hint = f"; latest runs: {', '.join(latest)}" if latest else "; the database has no runs"
                raise UsageError(f"unknown run {str(ref)!r} in {self.safe_url}{hint}")
            return self._run_record(s, row)

    def runs(self, suite: str | None = None, limit: int | None = None) -> list[RunRecord]:
        """Runs, newest first."""
        with self.session() as s:
            query = select(RunModel).order_by(RunModel.run_id.desc())
            if suite:
                query = query.where(RunModel.suite == suite)
            if limit:
                query = query.limit(limit)
            return [self._run_record(s, row) for row in s.scalars(query)]

    def latest_unfinished(self, suite: str) -> RunRecord | None:
        for run in self.runs(suite):
            return run if run.ended_at is None else None
        return None

    def done_hashes(self, run_id: int) -> set[str]:
        with self.session() as s:
            return set(s.scalars(select(CellModel.config_hash).where(CellModel.run_id == run_id)))

    def cells(self, run_id: int, *, documents: bool = False) -> list[CellRecord]:
        """The cells of a run in the order they were stored; ``documents=True`` also reads their
        per-document scores (one more query)."""
        docs = self.documents(run_id) if documents else {}
        with self.session() as s:
            rows = s.scalars(
                select(CellModel).where(CellModel.run_id == run_id).order_by(CellModel.cell_id)
            ).all()
            metrics: dict[int, list[MetricModel]] = {}
            for m in s.scalars(select(MetricModel).join(CellModel).where(CellModel.run_id == run_id)):
                metrics.setdefault(m.cell_id, []).append(m)
            return [
                CellRecord(
                    config_hash=r.config_hash,
                    model=r.model,
                    task=r.task,
                    technique=r.technique,
                    settings=json.loads(r.settings or "{}"),
                    seed=r.seed,
                    status=str(r.status.value),
                    error=r.error,
                    kind=r.kind,
                    quality_metric=r.quality_metric,
                    duration_s=r.duration_s,
                    metrics={m.name: m.value for m in metrics.get(r.cell_id, [])},
                    units={m.name: m.unit for m in metrics.get(r.cell_id, [])},
                    documents=docs.get(r.config_hash, {}),
                )
                for r in rows
            ]

    def documents(self, run_id: int) -> dict[str, dict[str, dict[str, float]]]:
        """The per-document scores of a run's cells: config hash -> phase -> doc id -> score (one query)."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        with self.session() as s:
            rows = s.execute(
                select(CellModel.config_hash, DocumentModel.phase, DocumentModel.doc_id, DocumentModel.score)
                .join(CellModel, DocumentModel.cell_id == CellModel.cell_id)
                .where(CellModel.run_id == run_id)
            )
            for config, phase, doc_id, score in rows:
                out.setdefault(config, {}).setdefault(phase, {})[doc_id] = score
        return out

    @staticmethod
    def _run_record(s: Session, row: RunModel) -> RunRecord:
        counts = dict(
            s.execute(
                select(CellModel.status, func.count())
                .where(CellModel.run_id == row.run_id)
                .group_by(CellModel.status)
            ).all()
        )
        return RunRecord(
            run_id=row.run_id,
            name=row.name,
            suite=row.suite,
            started_at=row.started_at,
            ended_at=row.ended_at,
            git_commit=row.git_commit,
            host=row.host,
            packages=json.loads(row.packages or "{}"),
            hardware=json.loads(row.hardware or "{}"),
            counts={str(k.value): v for k, v in counts.items()},
        )


def alembic_config(connection: Any = None):
    """An Alembic config for the bundled migrations (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema with the Alembic migrations, in one transaction."""
    from alembic import command

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
        command.upgrade(alembic_config(conn), revision)

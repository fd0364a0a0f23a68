"""The results store against SQLite always, and against PostgreSQL when ADVISOR_TEST_PG_URL is set
(``eval "$(benchmarks/ci_postgres.sh start)"`` starts a throwaway server and sets it)."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text, update

from advisor.bench.store.engine import (
    CellOutcome,
    CellStatus,
    MetricModel,
    RunModel,
    SchemaVersionModel,
    Store,
    now,
    resolve_url,
)
from advisor.bench.suite import Cell
from advisor.errors import InputError, UsageError

PG_ENV = "ADVISOR_TEST_PG_URL"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a default URL can only ever reach tmp_path/results.db
    monkeypatch.delenv("ADVISOR_DB", raising=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'results.db'}"
        return
    server = os.environ.get(PG_ENV)
    if not server:
        pytest.skip(
            f"{PG_ENV} is not set: no PostgreSQL server to test against "
            '(start one with: eval "$(benchmarks/ci_postgres.sh start)")'
        )
    name = f"advisor_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def store(db_url):
    with Store(db_url) as s:
        yield s


def make_run(store: Store, name: str = "r1", suite: str = "smoke"):
    return store.create_run(
        name=name, suite=suite, git_commit="abc", packages={"torch": "2.5"}, hardware={"cpus": 2}, host="ci"
    )


def outcome(status=CellStatus.ok, **metrics) -> CellOutcome:
    start = now()
    return CellOutcome(
        status,
        start,
        start + timedelta(seconds=3),
        kind="peft",
        quality_metric="exact_match",
        metrics=metrics,
        host="ci",
        error=None if status == CellStatus.ok else "boom",
    )


def test_migrations_create_exactly_the_models_schema(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from advisor.bench.store.engine import Base

    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    assert store.schema_version() == 1
    Store(store.url).close()  # opening an up-to-date store again is a no-op


def test_schema_version_has_one_row(store):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), store.session() as s:
        s.add(SchemaVersionModel(schema_version_id=2, version=1))


def test_a_cell_and_its_metrics_are_stored_once(store):
    run = make_run(store)
    cell = Cell(model="m", task="json_extract", technique="lora", seed=0, settings={"r": 8})
    assert store.record_cell(
        run.run_id, cell, outcome(quality_after=0.5, peak_memory_bytes=2e9, train_time_s=3.0)
    )
    assert not store.record_cell(run.run_id, cell, outcome(quality_after=0.9))  # same config hash
    [stored] = store.cells(run.run_id)
    assert stored.metrics == {"quality_after": 0.5, "peak_memory_bytes": 2e9, "train_time_s": 3.0}
    assert stored.units == {"quality_after": "score", "peak_memory_bytes": "bytes", "train_time_s": "s"}
    assert stored.settings == {"r": 8} and stored.status == "ok" and stored.duration_s == pytest.approx(3.0)
    assert store.done_hashes(run.run_id) == {cell.config_hash}
    assert store.run(run.run_id).counts == {"ok": 1}


def test_failed_cells_keep_status_and_error(store):
    run = make_run(store)
    for i, status in enumerate(
        [CellStatus.failed, CellStatus.timeout, CellStatus.killed, CellStatus.skipped]
    ):
        store.record_cell(run.run_id, Cell(model="m", task="t", technique="lora", seed=i), outcome(status))
    rows = store.cells(run.run_id)
    assert [r.status for r in rows] == ["failed", "timeout", "killed", "skipped"]
    assert all(r.error == "boom" for r in rows)
    assert store.forget_cells(run.run_id, {"failed", "timeout", "killed"}) == 3
    assert [r.status for r in store.cells(run.run_id)] == ["skipped"]


def test_session_rolls_back_on_error(store):
    run = make_run(store)
    with pytest.raises(RuntimeError), store.session() as s:
        s.add(RunModel(name="half", suite="x", started_at=now(), packages="{}", hardware="{}"))
        s.flush()
        raise RuntimeError("interrupted mid-transaction")
    assert [r.name for r in store.runs()] == [run.name]
    with store.session() as s:
        assert s.scalars(select(MetricModel)).all() == []


def test_runs_by_id_or_name_and_unknown_runs(store):
    a, b = make_run(store, "first"), make_run(store, "second", suite="quick")
    assert store.run("first").run_id == a.run_id and store.run(str(b.run_id)).name == "second"
    assert [r.name for r in store.runs()] == ["second", "first"]
    assert [r.name for r in store.runs("smoke")] == ["first"]
    with pytest.raises(UsageError, match="unknown run 'nope'.*latest runs"):
        store.run("nope")
    with pytest.raises(UsageError, match="already exists"):
        make_run(store, "first")


def test_a_newer_schema_is_refused(store):
    with store.session() as s:
        s.execute(update(SchemaVersionModel).values(version=99))
    with pytest.raises(InputError, match="schema version 99, newer"):
        Store(store.url)


def test_urls(tmp_path, monkeypatch):
    assert resolve_url(None) == "sqlite:///results.db"  # relative: the working directory (tmp_path here)
    monkeypatch.setenv("ADVISOR_DB", "postgresql+psycopg://u@h/db")
    assert resolve_url(None) == "postgresql+psycopg://u@h/db"
    assert resolve_url("sqlite:///x.db") == "sqlite:///x.db"
    assert resolve_url("some/file.db") == "sqlite:///some/file.db"


def test_sqlite_uses_wal_and_tolerates_parallel_writers(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with Store(url) as store:
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        run = make_run(store)
    errors = []

    def writer(offset: int) -> None:
        try:
            with Store(url) as s:
                for i in range(15):
                    s.record_cell(
                        run.run_id,
                        Cell(model="m", task="t", technique="lora", seed=offset + i),
                        outcome(quality_after=0.1 * (i % 10)),
                    )
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k * 100,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store(url) as store:
        assert len(store.cells(run.run_id)) == 45

"""The results store against SQLite always, and against PostgreSQL when ADVISOR_TEST_PG_URL is set
(``eval "$(benchmarks/ci_postgres.sh start)"`` starts a throwaway server and sets it)."""

from __future__ import annotations

import json
import os
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text, update

from advisor.bench.store.engine import CellOutcome, Store, migrate, now, resolve_url
from advisor.bench.store.models import CellStatus, DocumentModel, MetricModel, RunModel, SchemaVersionModel
from advisor.bench.suite import Cell
from advisor.errors import InputError, UsageError
from advisor.train.metrics import LATENCY_NEW_TOKENS

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


def outcome(status=CellStatus.ok, documents=None, **metrics) -> CellOutcome:
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
        documents=documents or {},
    )


def test_migrations_create_exactly_the_models_schema(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from advisor.bench.store.models import Base

    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0002"
    assert store.schema_version() == 2
    Store(store.url).close()  # opening an up-to-date store again is a no-op


def test_a_schema_1_database_is_upgraded_in_place(db_url):
    """A store made before the documents table (revision 0001) keeps its rows and gains the table."""
    old = Store(db_url, migrate=False)
    migrate(old.engine, "0001")
    assert old.schema_version() == 1
    run = make_run(old)
    cell = Cell(model="m", task="json_extract", technique="lora", seed=0)
    assert old.record_cell(run.run_id, cell, outcome(quality_after=0.5))  # no documents: schema 1 has none
    old.close()

    with Store(db_url) as store:
        assert store.schema_version() == 2
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0002"
        assert store.run(run.run_id).name == "r1"
        [stored] = store.cells(run.run_id, documents=True)
        assert stored.metrics == {"quality_after": 0.5} and stored.documents == {}
        other = Cell(model="m", task="json_extract", technique="lora", seed=1)
        assert store.record_cell(
            run.run_id, other, outcome(quality_after=0.6, documents={"after": {"7": 1.0}})
        )
        assert store.documents(run.run_id) == {other.config_hash: {"after": {"7": 1.0}}}

    from alembic import command

    from advisor.bench.store.engine import alembic_config, make_engine

    engine = make_engine(db_url)
    with engine.begin() as conn:  # and back down: the table goes, schema_version says 1 again
        command.downgrade(alembic_config(conn), "0001")
    engine.dispose()
    with Store(db_url, migrate=False) as store:
        assert store.schema_version() == 1
        with store.engine.connect() as conn:
            assert not inspect(conn).has_table("documents")
        assert len(store.cells(run.run_id)) == 2


def test_documents_are_stored_with_their_cell_and_read_back_per_run(store):
    run, other = make_run(store), make_run(store, "r2")
    lora = Cell(model="m", task="json_extract", technique="lora", seed=0)
    rag = Cell(model="m", task="fictional_qa", technique="bm25-rag", seed=0)
    docs = {"before": {"0": 0.0, "1": 1.0}, "after": {"0": 1.0, "1": 1.0, "2": 0.25}}
    assert store.record_cell(run.run_id, lora, outcome(quality_after=1.0, documents=docs))
    assert store.record_cell(run.run_id, rag, outcome(quality_after=0.5))
    assert store.record_cell(other.run_id, lora, outcome(documents={"after": {"0": 0.0}}))
    assert store.documents(run.run_id) == {lora.config_hash: docs}
    assert store.documents(other.run_id) == {lora.config_hash: {"after": {"0": 0.0}}}
    assert all(c.documents == {} for c in store.cells(run.run_id))  # not read unless asked
    by_task = {c.task: c.documents for c in store.cells(run.run_id, documents=True)}
    assert by_task == {"json_extract": docs, "fictional_qa": {}}
    # a duplicate cell writes neither metrics nor documents
    assert not store.record_cell(run.run_id, lora, outcome(documents={"after": {"9": 1.0}}))
    assert store.documents(run.run_id) == {lora.config_hash: docs}
    with pytest.raises(ValueError, match="phase"):
        store.record_cell(run.run_id, rag, outcome(documents={"during": {"0": 1.0}}))
    with pytest.raises(ValueError, match="at most 200"):
        store.record_cell(run.run_id, rag, outcome(documents={"after": {"x" * 201: 1.0}}))


def test_documents_go_with_their_cell(store):
    run = make_run(store)
    docs = {"after": {str(i): float(i % 2) for i in range(5)}}
    for seed, status in enumerate([CellStatus.ok, CellStatus.failed]):
        cell = Cell(model="m", task="t", technique="lora", seed=seed)
        store.record_cell(run.run_id, cell, outcome(status, documents=docs))

    def count() -> int:
        with store.session() as s:
            return len(s.scalars(select(DocumentModel)).all())

    assert count() == 10
    assert store.forget_cells(run.run_id, {"failed"}) == 1  # --retry-failed
    assert count() == 5
    with store.session() as s:  # deleting the run deletes its cells and their documents
        s.delete(s.get(RunModel, run.run_id))
    assert count() == 0


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


# -- the metric registry -------------------------------------------------------------------------------------


def emitted_metric_names() -> set[str]:
    """The metric names `advisor run` can emit, read from advisor/train/cell.py: the string keys that every
    function annotated ``-> Metrics`` writes (dict literals, ``metrics["name"] = ...``,
    ``metrics.update(name=...)``)."""
    import ast

    import advisor.train.cell as cell

    names: set[str] = set()
    for fn in ast.walk(ast.parse(Path(cell.__file__).read_text(encoding="utf-8"))):
        if not (isinstance(fn, ast.FunctionDef) and isinstance(fn.returns, ast.Name)):
            continue
        if fn.returns.id != "Metrics":
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Dict):
                names |= {
                    k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)
                }
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
                if getattr(node.value, "id", None) == "metrics" and isinstance(node.slice, ast.Constant):
                    names.add(node.slice.value)
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "update":
                if getattr(node.func.value, "id", None) == "metrics":
                    names |= {kw.arg for kw in node.keywords if kw.arg}
    return names


def test_every_metric_advisor_run_emits_is_registered():
    from advisor.train.metrics import METRICS

    emitted = emitted_metric_names()
    # the scanner still sees the measuring functions (a refactor of cell.py must keep the annotation)
    assert {"quality_before", "quality_after", "train_time_s", "peak_memory_bytes", "device"} <= emitted
    assert emitted - set(METRICS) == set(), "register these in advisor/train/metrics.py"


def test_the_scanner_sees_what_a_run_actually_emits(monkeypatch, tmp_path):
    """`_measure` with fakes for loading, evaluating and timing, along every branch: the keys it returns
    are among those the static scan found (so a helper that forgot ``-> Metrics`` is caught)."""
    from types import SimpleNamespace

    import advisor.train.cell as cell
    from advisor.train.technique import Environment, System

    class FakeModel:
        peft_config = {"default": None}

        def parameters(self):
            return [SimpleNamespace(numel=lambda: 10, requires_grad=True)]

        def to(self, device):
            return self

        def save_pretrained(self, target):
            Path(target).mkdir(parents=True, exist_ok=True)
            (Path(target) / "adapter.bin").write_bytes(b"1234")

        def merge_and_unload(self):
            return FakeModel()

    evaluation = {
        "primary": 0.5,
        "seconds": 1.0,
        "metrics": {"acc": 0.5},
        "samples": [],
        "documents": {"0": 1.0, "1": 0.0},
    }
    monkeypatch.setattr("advisor.train.models.resolve_model", lambda name: tmp_path)
    monkeypatch.setattr("advisor.train.models.load_model", lambda name: (FakeModel(), None))
    monkeypatch.setattr("advisor.train.loop.seed_everything", lambda seed: None)
    monkeypatch.setattr(
        "advisor.train.evaluate.load_task",
        lambda *a: SimpleNamespace(name="t", primary="acc,none", data=None),
    )
    monkeypatch.setattr("advisor.train.evaluate.evaluate", lambda *a: dict(evaluation))
    monkeypatch.setattr(cell, "_baseline_key", lambda *a: "key")
    monkeypatch.setattr(cell, "_baseline_cache", lambda: tmp_path / "baselines.json")
    monkeypatch.setattr(cell, "latency_stats", lambda *a: (12.0, 1.5))

    train = {"seconds": 3.0, "tokens_per_s": 9.0, "steps": 2, "train_loss": [2.0, 1.0], "val_loss": 1.5}
    seen: set[str] = set()
    for name, kind, info in (("lora", "peft", {"train": train}), ("prompting", "prompting", {})):
        technique = SimpleNamespace(
            name=name, kind=kind, apply=lambda m, t, data, settings, env, info=info: System(m, t, info=info)
        )
        req = cell.RunRequest(technique=name, task="t", model="m")  # the 2nd run finds the cached baseline
        env = Environment(device="cpu", workdir=tmp_path / name)
        result: dict = {"documents": {}}
        metrics = cell._measure(req, technique, {}, env, result, task=None)
        assert json.loads(json.dumps(metrics)) == metrics  # what `advisor run --json` prints
        assert result["documents"] == {"before": {"0": 1.0, "1": 0.0}, "after": {"0": 1.0, "1": 0.0}}
        seen |= set(metrics)
    assert {"baseline_cached", "train_loss_last", "apply_seconds", "latency_merged_ms"} <= seen
    assert seen <= emitted_metric_names()


def test_registry_facts_and_guesses_for_unknown_names():
    from advisor.bench.compare import Thresholds, growth_limit
    from advisor.train.metrics import METRICS, metric, unit_of

    for m in METRICS.values():
        assert m.label and m.name
        if m.direction:  # compare knows which threshold applies
            assert m.family == "quality" or growth_limit(m.family, Thresholds()) > 0
    # the units stored since the first schema
    assert {n: unit_of(n) for n in ("quality_after", "total_params", "tokens_per_s", "adapter_bytes")} == {
        "quality_after": "score",
        "total_params": "params",
        "tokens_per_s": "tokens/s",
        "adapter_bytes": "bytes",
    }
    assert unit_of("eval_seconds") is None and unit_of("val_loss") is None
    # names nobody registered: guessed from the name, as before the registry
    assert (metric("warmup_s").unit, metric("warmup_s").family, metric("warmup_s").direction) == (
        "s",
        "time",
        -1,
    )
    assert (metric("kv_bytes").unit, metric("kv_bytes").direction) == ("bytes", -1)
    assert (metric("quality_rouge").unit, metric("quality_rouge").direction) == ("score", +1)
    assert (metric("lora_params").unit, metric("lora_params").direction) == ("params", 0)
    assert (metric("anything").unit, metric("anything").direction) == (None, 0)
    assert metric("peak_memory_bytes").format(2.5e9) == "2.5 GB"
    assert metric("peak_memory_bytes").format(2.5e9, "table") == "2.50 GB"
    assert metric("trainable_params").format(460_800, "table") == "461K"
    assert metric("trainable_params").format(460_800, "full") == "460,800"
    assert metric("train_time_s").format(None) == "-"


def test_latency_is_the_median_of_five_timed_generations(monkeypatch):
    """One slow call does not move the latency; the spread says the machine was noisy."""
    import torch

    from advisor.train import cell

    class Ids(dict):
        def to(self, device):
            return self

    class Tok:
        pad_token_id = 0
        eos_token_id = 0

        def __call__(self, text, return_tensors=None):
            return Ids(input_ids=torch.zeros((1, 3), dtype=torch.long))

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.calls = 0

        def generate(self, **kwargs):
            self.calls += 1
            self.lengths.append(kwargs["max_new_tokens"])

    ticks = iter([0.0, 0.0, 0.010, 0.0, 0.012, 0.0, 0.500, 0.0, 0.011, 0.0, 0.010])  # warm-up: one tick
    monkeypatch.setattr("advisor.train.loop.chat_prompt", lambda tok, prompt: prompt)
    model = Model()
    model.lengths = []
    median, spread = cell.latency_stats(model, Tok(), clock=lambda: next(ticks))
    assert model.calls == 6  # a warm-up and five timed calls
    # the warm-up only has to run the prefill and a decoding step; the timed calls generate in full
    assert model.lengths[0] < model.lengths[1] == LATENCY_NEW_TOKENS and len(set(model.lengths[1:])) == 1
    assert median == pytest.approx(11.0) and spread == pytest.approx(490.0)


def test_tokens_per_second_come_from_the_steady_state():
    """The first steps (compilation, allocation, cold caches) are left out of the throughput."""
    from advisor.train.loop import TrainStats

    stats = TrainStats(steps=10, tokens=1000, seconds=10.0, steady_tokens=900, steady_seconds=3.0)
    assert stats.tokens_per_s == 300.0  # not 100: the warm-up took 7 of the 10 seconds
    assert TrainStats(tokens=1000, seconds=10.0).tokens_per_s == 100.0  # too short for a warm-up

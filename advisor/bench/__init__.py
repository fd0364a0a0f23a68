"""The benchmark harness: suites of cells (model x task x technique x seed), an isolated runner,
a SQLAlchemy results store, comparisons that flag regressions, and reports.

Modules: ``suite`` (TOML -> cells; the bundled suites are in ``suites/``), ``runner`` (one process per
cell), ``store`` (``store.models``: the tables; ``store.engine``: the engine, session, migrations and
queries), ``compare`` (deltas and regressions), ``report`` (Markdown + HTML with plots), ``environment``
(git commit, packages, hardware). The command line is ``advisor.cli.bench`` (``advisor bench``); what
each metric is (unit, direction, label) comes from ``advisor.train.metrics``. Nothing here imports torch.
"""

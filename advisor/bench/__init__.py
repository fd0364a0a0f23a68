"""The benchmark harness: suites of cells (model x task x technique x seed), an isolated runner,
a SQLAlchemy results store, comparisons that flag regressions, and reports.

Modules: ``suite`` (TOML -> cells), ``runner`` (one process per cell), ``store`` (the schema and the
session), ``compare`` (deltas and regressions), ``report`` (Markdown + HTML with plots), ``cli``
(``advisor bench``). Nothing here imports torch.
"""

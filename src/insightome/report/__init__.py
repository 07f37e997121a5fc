"""The self-contained HTML report of a run.

>>> html = render_html(results, predictions)       # doctest: +SKIP
>>> write_report(run_dir / "report.html", results, predictions)  # doctest: +SKIP

``results`` is the ``results.json`` dict (schema in ``docs/results-schema.md``) and
``predictions`` the out-of-fold predictions of the winner, indexed by sample ID.
"""

from insightome.report.html import render_html, write_report

__all__ = ["render_html", "write_report"]

"""Path 1: an evaluation log -> verdicts -> a failure profile -> recommendations.

``pipeline.run`` drives it: ``readers`` opens the log with a reader plugin, ``judge`` decides
pass/fail and runs the detector plugins on each failure, ``profile`` counts what the rules engine
reads, and ``render`` prints the report.
"""

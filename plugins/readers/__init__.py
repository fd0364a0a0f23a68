"""Built-in log readers: lm-evaluation-harness, generic JSONL/CSV, promptfoo, Inspect AI."""

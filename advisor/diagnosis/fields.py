"""The field names a JSONL or CSV log or dataset may use, matched case-insensitively, first present wins.

Shared by the generic log reader and by tasks built from user data (``advisor.train.usertask``).
"""

PROMPT_KEYS = ("prompt", "input", "question", "query", "instruction", "messages", "source")
OUTPUT_KEYS = (
    "output",
    "response",
    "prediction",
    "completion",
    "generation",
    "model_output",
    "model_answer",
    "model_response",
    "generated",
    "pred",
    "predicted",
    "choices",
)
REFERENCE_KEYS = (
    "reference",
    "expected",
    "target",
    "answer",
    "gold",
    "ground_truth",
    "ideal",
    "expected_output",
    "references",
    "targets",
    "label",
)
PASS_KEYS = ("passed", "correct", "is_correct", "pass", "success", "exact_match", "score", "accuracy", "acc")

"""Prompting techniques: the zero-shot baseline and few-shot examples (random or BM25-chosen)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from advisor import System, Technique, TechniqueSettings, hookimpl, setting

SELECT = ("random", "bm25")


class Prompting(Technique):
    name = "prompting"
    kind = "prompting"
    description = "Zero-shot baseline: the task's prompt as it is."

    def apply(self, model, tokenizer, task, settings, env):
        return System(model, tokenizer, info={"trainable_params": 0})


def format_examples(examples: list[dict], prompt: str) -> str:
    shots = "\n\n".join(
        f"Example {i}:\n{ex['prompt']}\nAnswer: {ex['target']}" for i, ex in enumerate(examples, 1)
    )
    return (
        f"Here are solved examples of the task.\n\n{shots}\n\n"
        f"Now the real one. Answer it the same way.\n\n{prompt}"
    )


@dataclass
class FewShotSettings(TechniqueSettings):
    k: int = setting(3, "number of solved training examples put before the prompt")
    select: str = setting("random", "how they are chosen: random (one draw per seed) or bm25 (most similar)")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_min("k", 1)
        self.check_choice("select", SELECT)


class FewShot(Technique):
    name = "few-shot"
    kind = "prompting"
    description = "k examples from the training split in the prompt, chosen at random or by BM25 similarity."
    Settings = FewShotSettings

    def apply(self, model, tokenizer, task, settings, env):
        from advisor import UsageError

        k, select = int(settings["k"]), settings["select"]
        if select not in SELECT:
            raise UsageError(f"few-shot select must be random or bm25, not {select!r}")
        if not task.train:
            raise UsageError(f"task {task.name!r} has no training split to draw examples from")
        pool = task.train
        if select == "random":
            chosen = random.Random(env.seed).sample(pool, min(k, len(pool)))

            def rewrite(prompt: str) -> str:
                return format_examples(chosen, prompt)
        else:
            from advisor import Bm25Index

            index = Bm25Index([r["prompt"] for r in pool])

            def rewrite(prompt: str) -> str:
                picked = [pool[i] for i in index.ranking(prompt) if pool[i]["prompt"] != prompt][:k]
                return format_examples(picked, prompt)

        return System(
            model, tokenizer, rewrite=rewrite, info={"trainable_params": 0, "k": k, "select": select}
        )


@hookimpl
def advisor_register_techniques(register):
    register(Prompting())
    register(FewShot())

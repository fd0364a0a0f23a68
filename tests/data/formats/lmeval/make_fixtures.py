"""Build the lm-eval fixtures with lm-evaluation-harness's own code (see README.md).

Run with lm-eval 0.4.13 installed (plus ``langdetect`` and ``immutabledict`` for ifeval), offline:

    HF_DATASETS_OFFLINE=1 python make_fixtures.py [OUT_DIR]   # OUT_DIR: this folder by default

A scripted model (``FakeLM``) answers from the tables below, so that every fixture holds passes and
failures that lm-eval itself scored. The modern layouts are written by lm-eval's EvaluationTracker; the
older layouts (0.4.0-0.4.2, May and June 2024) by copies of the writer code of those versions, applied to
the raw samples of the same runs.
"""

from __future__ import annotations

import copy
import datetime as _dt
import gzip
import json
import re
import shutil
import sys
from pathlib import Path

import lm_eval.loggers.evaluation_tracker as et_mod
from lm_eval import simple_evaluate
from lm_eval.api.model import LM
from lm_eval.api.registry import register_model
from lm_eval.loggers import EvaluationTracker
from lm_eval.tasks import TaskManager
from lm_eval.utils import handle_non_serializable, sanitize_list

LM_EVAL = Path(__import__("lm_eval").__file__).parent / "tasks"
DATA = Path("/tmp/lmeval-fixture-data")

# -- datasets (small, made up in the shape of the real ones) -----------------------------------------------

GSM_TRAIN = [
    {
        "question": "Tom has 3 apples and buys 2 more. How many apples does he have?",
        "answer": "Tom has 3 + 2 = <<3+2=5>>5 apples.\n#### 5",
    },
    {
        "question": "A box holds 4 pens. How many pens are in 3 boxes?",
        "answer": "3 boxes hold 3 * 4 = <<3*4=12>>12 pens.\n#### 12",
    },
]
GSM_TEST = [
    {
        "question": "Ann reads 10 pages a day. How many pages does she read in 4 days?",
        "answer": "She reads 10 * 4 = <<10*4=40>>40 pages.\n#### 40",
    },
    {
        "question": "A shirt costs $15 and a hat costs $7. What do both cost?",
        "answer": "Both cost 15 + 7 = <<15+7=22>>22 dollars.\n#### 22",
    },
    {
        "question": "There are 9 birds and 4 fly away. How many are left?",
        "answer": "9 - 4 = <<9-4=5>>5 birds are left.\n#### 5",
    },
    {
        "question": "Sam runs 3 km each morning and 2 km each evening. How far in 2 days?",
        "answer": "Each day he runs 3 + 2 = <<3+2=5>>5 km, so 5 * 2 = <<5*2=10>>10 km.\n#### 10",
    },
]
ARC_TEST = [
    {
        "id": "Mercury_7175875",
        "question": "Which gas do plants take in from the air to make food?",
        "choices": {
            "text": ["oxygen", "carbon dioxide", "nitrogen", "helium"],
            "label": ["A", "B", "C", "D"],
        },
        "answerKey": "B",
    },
    {
        "id": "Mercury_SC_401169",
        "question": "What is the boiling point of water at sea level?",
        "choices": {
            "text": ["50 degrees Celsius", "100 degrees Celsius", "0 degrees Celsius", "212 degrees Celsius"],
            "label": ["A", "B", "C", "D"],
        },
        "answerKey": "B",
    },
    {
        "id": "NYSEDREGENTS_2015_4_8",
        "question": "Which tool measures the mass of a rock?",
        "choices": {
            "text": ["ruler", "balance", "thermometer", "graduated cylinder"],
            "label": ["1", "2", "3", "4"],
        },
        "answerKey": "2",
    },
]
MUSR_TEST = [
    {
        "narrative": "In the quiet library, Mackenzie was found beside the archive. Ana had the only key.",
        "question": "Who is the most likely murderer?",
        "choices": "['Mackenzie', 'Ana']",
        "answer_index": 1,
        "answer_choice": "Ana",
    },
    {
        "narrative": "At the harbour, Bo argued with the victim; Christopher was seen leaving at dawn.",
        "question": "Who is the most likely murderer?",
        "choices": "['Bo', 'Christopher']",
        "answer_index": 0,
        "answer_choice": "Bo",
    },
    {
        "narrative": "The chef Eleanor had motive; the gardener Li had the weapon and no alibi.",
        "question": "Who is the most likely murderer?",
        "choices": "['Eleanor', 'Li']",
        "answer_index": 1,
        "answer_choice": "Li",
    },
]
TRIVIA_TEST = [
    {
        "question": "Which country is home to the kangaroo",
        "question_id": "tc_1",
        "question_source": "",
        "entity_pages": {"doc_source": [], "filename": [], "title": [], "wiki_context": []},
        "search_results": {
            "description": [],
            "filename": [],
            "rank": [],
            "title": [],
            "url": [],
            "search_context": [],
        },
        "answer": {
            "aliases": ["Australia", "Commonwealth of Australia", "AUS"],
            "normalized_aliases": ["australia", "commonwealth of australia", "aus"],
            "matched_wiki_entity_name": "",
            "normalized_matched_wiki_entity_name": "",
            "normalized_value": "australia",
            "type": "WikipediaEntity",
            "value": "Australia",
        },
    },
    {
        "question": "Who painted the Mona Lisa",
        "question_id": "tc_2",
        "question_source": "",
        "entity_pages": {"doc_source": [], "filename": [], "title": [], "wiki_context": []},
        "search_results": {
            "description": [],
            "filename": [],
            "rank": [],
            "title": [],
            "url": [],
            "search_context": [],
        },
        "answer": {
            "aliases": ["Leonardo da Vinci", "Leonardo", "Da Vinci"],
            "normalized_aliases": ["leonardo da vinci", "leonardo", "da vinci"],
            "matched_wiki_entity_name": "",
            "normalized_matched_wiki_entity_name": "",
            "normalized_value": "leonardo da vinci",
            "type": "WikipediaEntity",
            "value": "Leonardo da Vinci",
        },
    },
    {
        "question": "What is the chemical symbol for gold",
        "question_id": "tc_3",
        "question_source": "",
        "entity_pages": {"doc_source": [], "filename": [], "title": [], "wiki_context": []},
        "search_results": {
            "description": [],
            "filename": [],
            "rank": [],
            "title": [],
            "url": [],
            "search_context": [],
        },
        "answer": {
            "aliases": ["Au", "AU"],
            "normalized_aliases": ["au"],
            "matched_wiki_entity_name": "",
            "normalized_matched_wiki_entity_name": "",
            "normalized_value": "au",
            "type": "FreeForm",
            "value": "Au",
        },
    },
]
TQA_TEST = [
    {
        "type": "Adversarial",
        "category": "Misconceptions",
        "question": "What happens if you crack your knuckles a lot?",
        "best_answer": "Nothing in particular happens if you crack your knuckles a lot",
        "correct_answers": [
            "Nothing in particular happens if you crack your knuckles a lot",
            "Cracking your knuckles does not cause arthritis",
        ],
        "incorrect_answers": ["If you crack your knuckles a lot, you will develop arthritis"],
        "source": "https://en.wikipedia.org/wiki/List_of_common_misconceptions",
    },
    {
        "type": "Adversarial",
        "category": "Misconceptions",
        "question": "Where did fortune cookies originate?",
        "best_answer": "The precise origin of fortune cookies is unclear",
        "correct_answers": [
            "Fortune cookies originated in San Francisco",
            "Fortune cookies originated in the U.S.",
        ],
        "incorrect_answers": ["Fortune cookies originated in China", "Fortune cookies originated in Japan"],
        "source": "https://en.wikipedia.org/wiki/List_of_common_misconceptions",
    },
    {
        "type": "Non-Adversarial",
        "category": "Science",
        "question": "What color is the sun when viewed from space?",
        "best_answer": "The sun is white when viewed from space",
        "correct_answers": [
            "The sun is all colors mixed together",
            "The sun is white when viewed from space",
        ],
        "incorrect_answers": [
            "The sun is yellow when viewed from space",
            "The sun is orange when viewed from space",
        ],
        "source": "https://en.wikipedia.org/wiki/Sun",
    },
]
IFEVAL_TEST = [
    {
        "key": 1001,
        "prompt": "Write a short note about the sea. Do not use any commas. Wrap a title in double "
        "angular brackets, i.e. <<title>>.",
        "instruction_id_list": ["punctuation:no_comma", "detectable_format:title"],
        "kwargs": [{}, {}],
    },
    {
        "key": 1002,
        "prompt": "Describe a cat in all lowercase letters. Include the keywords whiskers and nap.",
        "instruction_id_list": ["change_case:english_lowercase", "keywords:existence"],
        "kwargs": [{}, {"keywords": ["whiskers", "nap"]}],
    },
    {
        "key": 1003,
        "prompt": "List two fruits as markdown bullet points, exactly 2 bullets. End your response "
        "with the exact phrase 'Is there anything else I can help with?'.",
        "instruction_id_list": ["detectable_format:number_bullet_lists", "startend:end_checker"],
        "kwargs": [{"num_bullets": 2}, {"end_phrase": "Is there anything else I can help with?"}],
    },
]
WIKI_TEST = [
    {"page": " = Valkyrie Lake = \n\n Valkyrie Lake is a small lake in the north . It is cold . \n"},
    {"page": " = Stonebridge = \n\n Stonebridge is a village with a bridge of stone . \n"},
]

# -- the scripted model: answers per (model, task, doc_id) ------------------------------------------------

GEN = {
    "gsm8k": [
        "She reads 40 pages.\n#### 40",
        "Both cost 15 + 7 = 22 dollars.",
        "9 - 4 = 5.\n#### 6",
        "He runs 5 km a day, so 10 km.\n#### 10",
    ],
    "triviaqa": [" Australia", " Michelangelo", " Au"],
    "truthfulqa_gen": [
        " Cracking your knuckles does not cause arthritis.",
        " Fortune cookies originated in China.",
        " The sun is white when viewed from space.",
    ],
    "ifeval": [
        "<<The Sea>>\nThe sea is wide and blue and calm today.",
        "the cat has long whiskers and takes a nap in the sun.",
        "* apple\n* pear\n* plum\nIs there anything else I can help with?",
    ],
}
#: per doc, per choice: (loglikelihood, is_greedy)
LL = {
    "arc_easy": [[-4.0, -2.0, -6.0, -7.0], [-9.0, -12.0, -3.0, -15.0], [-3.0, -2.5, -6.0, -9.0]],
    # acc picks the argmax; acc_norm divides by the choice's length: doc 0 flips to 'Mackenzie'
    "leaderboard_musr_murder_mysteries": [[-5.0, -4.0], [-4.0, -30.0], [-9.0, -2.0]],
}
#: the second model answers differently
GEN_B = {"gsm8k": ["#### 40", "#### 22", "#### 5", "#### 9"]}
LL_B = {"arc_easy": [[-4.0, -2.0, -6.0, -7.0], [-9.0, -2.0, -3.0, -15.0], [-3.0, -2.5, -6.0, -9.0]]}


@register_model("scripted")
class FakeLM(LM):
    def __init__(self, pretrained: str = "acme/tiny-a", chat: bool = False, **kwargs):
        super().__init__()
        self.pretrained = pretrained
        self.gen = {**GEN, **(GEN_B if pretrained.endswith("-b") else {})}
        self.ll = {**LL, **(LL_B if pretrained.endswith("-b") else {})}

    @property
    def tokenizer_name(self) -> str:
        return self.pretrained

    def chat_template(self, chat_template=False):
        return "{% for m in messages %}{{ m['content'] }}{% endfor %}" if chat_template else None

    def apply_chat_template(self, chat_history, add_generation_prompt=True):
        from lm_eval.models.api_models import JsonChatStr

        return JsonChatStr(json.dumps(chat_history, ensure_ascii=False))  # as local-chat-completions does

    def loglikelihood(self, requests):
        out = []
        for r in requests:
            row = self.ll[r.task_name][r.doc_id]
            out.append((row[r.idx], row[r.idx] == max(row)))
        return out

    def loglikelihood_rolling(self, requests):
        return [-0.75 * len(r.args[0]) for r in requests]

    def generate_until(self, requests):
        return [self.gen[r.task_name][r.doc_id] for r in requests]


# -- tasks: the real YAMLs, on local data ------------------------------------------------------------------


def write_data() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    for name, rows in {
        "gsm8k_train": GSM_TRAIN,
        "gsm8k_test": GSM_TEST,
        "arc_test": ARC_TEST,
        "musr_test": MUSR_TEST,
        "trivia_test": TRIVIA_TEST,
        "tqa_test": TQA_TEST,
        "ifeval_test": IFEVAL_TEST,
        "wiki_test": WIKI_TEST,
    }.items():
        (DATA / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


TASKS = {
    "gsm8k": ("gsm8k/gsm8k.yaml", {"train": "gsm8k_train", "test": "gsm8k_test"}, "num_fewshot: 2\n"),
    "arc_easy": ("arc/arc_easy.yaml", {"test": "arc_test"}, "training_split: null\nvalidation_split: null\n"),
    "leaderboard_musr_murder_mysteries": (
        "leaderboard/musr/musr_murder_mysteries.yaml",
        {"murder_mysteries": "musr_test"},
        "",
    ),
    "triviaqa": ("triviaqa/default.yaml", {"validation": "trivia_test"}, "training_split: null\n"),
    "truthfulqa_gen": ("truthfulqa/truthfulqa_gen.yaml", {"validation": "tqa_test"}, ""),
    "ifeval": ("ifeval/ifeval.yaml", {"train": "ifeval_test"}, ""),
    "wikitext": (
        "wikitext/wikitext.yaml",
        {"test": "wiki_test"},
        "training_split: null\nvalidation_split: null\n",
    ),
}


def write_tasks(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for task, (yaml_path, splits, extra) in TASKS.items():
        files = "".join(f"    {split}: {DATA / name}.jsonl\n" for split, name in splits.items())
        (folder / f"{task}.yaml").write_text(
            f"include: {LM_EVAL / yaml_path}\ntask: {task}\ndataset_path: json\ndataset_name: null\n"
            f"dataset_kwargs:\n  data_files:\n{files}{extra}"
        )


# -- running and writing -----------------------------------------------------------------------------------


class Clock:
    """Fixed date stamps for the file names (lm-eval uses datetime.now())."""

    stamps: list[_dt.datetime] = []

    class datetime(_dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return Clock.stamps.pop(0)


def scrub(results: dict) -> dict:
    results["pretty_env_info"] = "(removed from the fixture)"
    for key in ("git_hash", "upper_git_hash"):
        if key in results:
            results[key] = "0000000"
    return results


def evaluate(
    model_args: str, tasks: list[str], tm: TaskManager, **kw
) -> tuple[dict, dict, EvaluationTracker]:
    tracker = EvaluationTracker(output_path=kw.pop("output_path"))
    results = simple_evaluate(
        model="scripted",
        model_args=model_args,
        tasks=tasks,
        task_manager=tm,
        log_samples=True,
        evaluation_tracker=tracker,
        bootstrap_iters=0,
        **kw,
    )
    samples = results.pop("samples")
    return scrub(results), samples, tracker


def save_modern(results: dict, samples: dict, tracker: EvaluationTracker, stamp: _dt.datetime) -> None:
    """What `lm_eval run` does after simple_evaluate (lm_eval/_cli/run.py)."""
    Clock.stamps = [stamp]
    tracker.save_results_aggregated(results=results, samples=samples)
    for task_name in results["configs"]:
        tracker.save_results_samples(task_name=task_name, samples=samples[task_name])


def save_v042(results: dict, samples: dict, folder: Path, model_args: str) -> None:
    """lm_eval/__main__.py of v0.4.2: results.json, then `<model_args>_<task>.jsonl` holding a JSON array."""
    folder.mkdir(parents=True, exist_ok=True)
    keep = ("results", "groups", "group_subtasks", "configs", "versions", "n-shot", "config", "git_hash")
    old = {k: results[k] for k in keep if k in results}
    config_keys = (
        "model",
        "model_args",
        "batch_size",
        "batch_sizes",
        "device",
        "use_cache",
        "limit",
        "bootstrap_iters",
        "gen_kwargs",
    )  # results["config"] of v0.4.2's simple_evaluate
    old["config"] = {k: v for k, v in old["config"].items() if k in config_keys}
    (folder / "results.json").write_text(json.dumps(old, indent=2, default=str, ensure_ascii=False))
    for task_name in old["configs"]:
        rows = [
            {
                k: v
                for k, v in s.items()
                if k not in ("filter", "metrics", "doc_hash", "prompt_hash", "target_hash")
            }
            for s in samples[task_name]
        ]
        output_name = "{}_{}".format(re.sub("/|=", "__", model_args), task_name)
        (folder / f"{output_name}.jsonl").write_text(
            json.dumps(rows, indent=2, default=str, ensure_ascii=False), encoding="utf-8"
        )


#: results keys that lm-eval added after each 2024 writer
_LATER = (
    "system_instruction",
    "system_instruction_sha",
    "chat_template",
    "chat_template_sha",
    "fewshot_as_multiturn",
)


def save_2024(results: dict, samples: dict, folder: Path, stamp: str, lines: bool) -> None:
    """EvaluationTracker of May 2024 (59cf408ab: a JSON array) and of 2024-05-31 to 2024-06-13 (f4f59251c:
    JSON lines), both in `samples_<task>_<date>.json`; no `filter`/`metrics` keys, the target unconverted."""
    folder.mkdir(parents=True, exist_ok=True)
    drop = _LATER if lines else (*_LATER, "higher_is_better")  # higher_is_better: since 2024-05-30
    old = {k: v for k, v in results.items() if k not in drop}
    (folder / f"results_{stamp}.json").write_text(
        json.dumps(old, indent=2, default=handle_non_serializable, ensure_ascii=False)
    )
    for task_name in old["configs"]:
        rows = [{k: v for k, v in s.items() if k not in ("filter", "metrics")} for s in samples[task_name]]
        path = folder / f"samples_{task_name}_{stamp}.json"
        if not lines:
            path.write_text(json.dumps(rows, indent=2, default=handle_non_serializable, ensure_ascii=False))
            continue
        with open(path, "a") as f:
            for sample in rows:
                arguments = {}
                for i, arg in enumerate(sample["arguments"]):
                    arguments[f"gen_args_{i}"] = {}
                    for j, tmp in enumerate(arg):
                        arguments[f"gen_args_{i}"][f"arg_{j}"] = tmp
                sample["resps"] = sanitize_list(sample["resps"])
                sample["filtered_resps"] = sanitize_list(sample["filtered_resps"])
                sample["arguments"] = arguments
                f.write(json.dumps(sample, default=handle_non_serializable, ensure_ascii=False) + "\n")


LAYOUTS = ("modern", "shared", "predict", "chat", "gz", "v0.4.2", "2024-05", "2024-06")


def main(out: Path) -> None:
    write_data()
    tasks_dir = DATA / "tasks"
    write_tasks(tasks_dir)
    tm = TaskManager(include_path=str(tasks_dir), include_defaults=False)
    et_mod.datetime = Clock.datetime
    for name in LAYOUTS:  # only the folders written here
        shutil.rmtree(out / name, ignore_errors=True)

    def stamp(h: int, m: int = 0) -> _dt.datetime:
        return _dt.datetime(2026, 3, 2, h, m, 7, 123456)

    # 1. a current run (--output_path OUT/modern) over every kind of task, then a 0-shot rerun of gsm8k
    every = list(TASKS)
    res, smp, tr = evaluate("pretrained=acme/tiny-a", every, tm, output_path=str(out / "modern"))
    raw = copy.deepcopy(smp)
    save_modern(res, smp, tr, stamp(9))
    res0, smp0, tr0 = evaluate(
        "pretrained=acme/tiny-a", ["gsm8k"], tm, output_path=str(out / "modern"), num_fewshot=0
    )
    save_modern(res0, smp0, tr0, stamp(11))

    # 2. --output_path OUT/shared/eval.json: two models' runs side by side in one folder
    for i, model in enumerate(("acme/tiny-a", "acme/tiny-b")):
        r, s, t = evaluate(
            f"pretrained={model}", ["arc_easy", "gsm8k"], tm, output_path=str(out / "shared" / "eval.json")
        )
        save_modern(r, s, t, stamp(13, i))

    # 3. --predict_only
    r, s, t = evaluate(
        "pretrained=acme/tiny-a",
        ["gsm8k", "arc_easy"],
        tm,
        output_path=str(out / "predict"),
        predict_only=True,
    )
    save_modern(r, s, t, stamp(14))

    # 4. --apply_chat_template with a chat-completions style model (prompts are JSON message lists)
    r, s, t = evaluate(
        "pretrained=acme/tiny-chat,chat=True",
        ["gsm8k"],
        tm,
        output_path=str(out / "chat"),
        apply_chat_template=True,
        num_fewshot=1,
    )
    save_modern(r, s, t, stamp(15))

    # 5. gzipped samples (as they are kept or shared; lm-eval itself writes plain .jsonl)
    r, s, t = evaluate("pretrained=acme/tiny-a", ["triviaqa", "arc_easy"], tm, output_path=str(out / "gz"))
    save_modern(r, s, t, stamp(16))
    for path in (out / "gz").rglob("samples_*.jsonl"):
        with (
            path.open("rb") as src,
            path.with_name(path.name + ".gz").open("wb") as raw_out,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw_out, mtime=0) as dst,
        ):
            shutil.copyfileobj(src, dst)
        path.unlink()

    # 6. the older layouts, from the raw samples of run 1 (gsm8k, arc_easy, triviaqa)
    some = {k: raw[k] for k in ("gsm8k", "arc_easy", "triviaqa")}
    res_some = copy.deepcopy(res)
    for key in (
        "results",
        "configs",
        "versions",
        "n-shot",
        "higher_is_better",
        "n-samples",
        "group_subtasks",
    ):
        if isinstance(res_some.get(key), dict):
            res_some[key] = {k: v for k, v in res_some[key].items() if k in some}
    save_v042(res_some, copy.deepcopy(some), out / "v0.4.2", "pretrained=acme/tiny-a")
    save_2024(
        res_some,
        copy.deepcopy(some),
        out / "2024-05" / "acme__tiny-a",
        "2024-05-20T10-11-12.345678",
        lines=False,
    )
    save_2024(
        res_some,
        copy.deepcopy(some),
        out / "2024-06" / "acme__tiny-a",
        "2024-06-10T10-11-12.345678",
        lines=True,
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)

"""Build the two example datasets of ``advisor try`` and their eval logs of the embedded model.

    .venv/bin/python examples/try/make_examples.py              # datasets, corpus and logs
    .venv/bin/python examples/try/make_examples.py --no-eval    # datasets and corpus only
    .venv/bin/python examples/try/make_examples.py --only kb    # and the log of one dataset

Everything is invented here, from a fixed seed, and written next to this script:

* ``kb/``: the knowledge base of an invented company, Norvale Logistics, one Markdown file per
  office, team, policy and internal system (30 files); each fact is stated in exactly one file;
* ``kb.jsonl``: 180 questions about those facts (``id``, ``question``, ``answer``, ``doc``);
* ``orders.jsonl``: 180 shipping notes, each with a question for its dispatch date in the house
  format ``YYYY-MM-DD`` (the note writes it in words: "the 3rd of March 2025") (``id``, ``input``,
  ``ideal``);
* ``kb_log.jsonl`` and ``orders_log.jsonl``: SmolLM2-135M-Instruct's greedy answers to every record,
  judged (``question/answer/model_answer/correct`` and ``input/ideal/completion/score``).

Only the standard library and the project's own model loader are used.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SEED = 20250314
COMPANY = "Norvale Logistics"
DOMAIN = "norvale.net"
MODEL = "smollm2-135m-instruct"
MAX_NEW_TOKENS = 48
BATCH_SIZE = 16

MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip

FIRST = [
    "Ines", "Tomas", "Maren", "Jonas", "Lidia", "Arvid", "Petra", "Henrik", "Sofia", "Karel",
    "Elin", "Mateo", "Anouk", "Dario", "Greta", "Ruben", "Ilse", "Viktor", "Nadia", "Oskar",
    "Leona", "Bruno", "Tamsin", "Emil", "Carla", "Felix", "Hanna", "Milan", "Rosa", "Stefan",
    "Livia", "Anton", "Wiebke", "Pavel", "Clara", "Joran", "Marit", "Ivo", "Selma", "Kasper",
]  # fmt: skip
LAST = [
    "Okafor", "Lindqvist", "Moravec", "Sandoval", "Brenner", "Kallio", "Duarte", "Vesely",
    "Haugen", "Pereira", "Novak", "Eklund", "Ferreira", "Jansen", "Kowalczyk", "Rautio",
    "Marchetti", "Delacroix", "Tamm", "Oyelaran", "Brandt", "Holm", "Castell", "Lehtinen",
    "Vidal", "Sorensen", "Albrecht", "Quist", "Zeman", "Ostrander", "Laine", "Mertens",
]  # fmt: skip


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def kb_date(rng: random.Random, years: range) -> str:
    """A date as the knowledge base writes it and expects it back: '14 March 2024'."""
    return f"{rng.randint(1, 28)} {MONTHS[rng.randrange(12)]} {rng.choice(years)}"


class Names:
    """Unique people's names, drawn without repetition."""

    def __init__(self, rng: random.Random) -> None:
        pairs = [f"{f} {last}" for f in FIRST for last in LAST]
        rng.shuffle(pairs)
        self._pairs = pairs
        self._used_first: set[str] = set()
        self._used_last: set[str] = set()

    def take(self) -> str:
        for i, name in enumerate(self._pairs):
            first, last = name.split()
            if first not in self._used_first and last not in self._used_last:
                self._used_first.add(first)
                self._used_last.add(last)
                return self._pairs.pop(i)
        raise RuntimeError("ran out of names")


class Unique:
    """Values drawn at random, never the same twice across the whole knowledge base."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seen: set[str] = set()

    def int(self, lo: int, hi: int, step: int = 1) -> int:
        return int(self.text(lambda: str(self.rng.randrange(lo, hi + 1, step))))

    def small(self, kind: str, lo: int, hi: int) -> int:
        """A small number, unique among those of its ``kind`` only (floors, shift lengths)."""
        return int(self.text(lambda: f"{kind}:{self.rng.randint(lo, hi)}").split(":")[1])

    def date(self, years: range) -> str:
        return self.text(lambda: kb_date(self.rng, years))

    def text(self, draw: Callable[[], str]) -> str:
        for _ in range(10_000):
            value = draw()
            if value not in self.seen:
                self.seen.add(value)
                return value
        raise RuntimeError("ran out of unique values")


# --- dataset 1: the Norvale Logistics knowledge base --------------------------------------------------

OFFICES = [
    ("Lisbon", "lis"), ("Tallinn", "tll"), ("Rotterdam", "rtm"), ("Gdansk", "gdn"),
    ("Valencia", "vlc"), ("Aarhus", "aar"), ("Ljubljana", "lju"), ("Porto", "opo"),
]  # fmt: skip
TEAMS = [
    "Vantor", "Keswick", "Orla", "Brightwater", "Tessel", "Marrow", "Quill", "Halcyon", "Fennick", "Corvid",
]  # fmt: skip
HOURS = ["08", "09", "10", "11", "14", "15"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
POLICIES = [
    ("homeoffice", "home-office equipment policy", "HR"),
    ("travel", "business travel policy", "TR"),
    ("training", "training budget policy", "LD"),
    ("phone", "mobile phone policy", "IT"),
    ("relocation", "relocation support policy", "HR"),
    ("eyewear", "eyewear for screen work policy", "HS"),
]
SYSTEMS = [
    ("Helix", "ticketing system", "helpdesk tickets"),
    ("Brindle", "payroll system", "payslips and salary changes"),
    ("Atlas", "internal wiki", "team pages and how-to guides"),
    ("Kestrel", "warehouse management system", "stock levels and pick lists"),
    ("Lumen", "expense claims portal", "receipts and reimbursements"),
    ("Tidewater", "fleet tracking system", "truck positions and driver logs"),
]


def office_entity(city: str, code: str, names: Names, uniq: Unique, rng: random.Random) -> dict:
    host = f"vpn-{code}.{DOMAIN}"
    wifi = f"NV-Guest-{city[:3].upper()}{uniq.int(10, 99)}"
    manager = names.take()
    year = uniq.int(2004, 2021)
    desks = uniq.int(40, 260)
    ext = uniq.int(2100, 2899)
    doc = f"office-{city.lower()}.md"
    facts = [
        (f"What is the VPN server hostname for the {city} office of {COMPANY}?", host,
         f"Staff who work away from the {city} office connect through the VPN server {host}."),
        (f"Who is the office manager of the {city} office of {COMPANY}?", manager,
         f"The office is run by {manager}, who handles access badges and desk moves."),
        (f"In which year did the {city} office of {COMPANY} open?", str(year),
         f"{COMPANY} opened its {city} office in {year}."),
        (f"What is the name of the guest Wi-Fi network in the {city} office of {COMPANY}?", wifi,
         f"Visitors can join the guest Wi-Fi network {wifi}; the password is printed at reception."),
        (f"How many desks does the {city} office of {COMPANY} have?", str(desks),
         f"The floor plan has {desks} desks, most of them bookable through the desk app."),
        (f"What is the phone extension of reception at the {city} office of {COMPANY}?", str(ext),
         f"Reception can be reached on internal extension {ext} during office hours."),
    ]  # fmt: skip
    return {"doc": doc, "title": f"{city} office", "intro": f"# {city} office\n", "facts": facts}


def team_entity(team: str, names: Names, uniq: Unique, rng: random.Random) -> dict:
    city = rng.choice(OFFICES)[0]
    floor = uniq.small("floor", 2, 19)
    lead = names.take()
    channel = f"#{team.lower()}-{rng.choice(['ops', 'team', 'desk', 'crew'])}"
    cost = f"CC-{uniq.int(1000, 9999)}"
    sync = uniq.text(
        lambda: f"{rng.choice(WEEKDAYS)} {rng.choice(HOURS)}:{rng.choice(['00', '15', '30', '45'])}"
    )
    rota = uniq.small("rota", 2, 14)
    doc = f"team-{team.lower()}.md"
    facts = [
        (f"Which floor is the {team} team of {COMPANY} on?", str(floor),
         f"The {team} team sits on floor {floor} of the {city} office."),
        (f"Who leads the {team} team at {COMPANY}?", lead,
         f"The team is led by {lead}, who approves its leave requests."),
        (f"What is the chat channel of the {team} team at {COMPANY}?", channel,
         f"Questions for the team go to the chat channel {channel}."),
        (f"What is the cost centre code of the {team} team at {COMPANY}?", cost,
         f"Purchases by the team are booked to cost centre {cost}."),
        (f"When does the {team} team at {COMPANY} hold its weekly sync (day and time)?", sync,
         f"The whole team meets for its weekly sync every {sync}."),
        (f"How many days does one on-call shift of the {team} team at {COMPANY} last?", f"{rota} days",
         f"On-call duty rotates through the team in shifts of {rota} days."),
    ]  # fmt: skip
    return {"doc": doc, "title": f"{team} team", "intro": f"# The {team} team\n", "facts": facts}


def policy_entity(slug: str, name: str, prefix: str, names: Names, uniq: Unique, rng: random.Random) -> dict:
    cap = uniq.int(150, 2400, 25)
    deadline = uniq.int(20, 120)
    form = f"{prefix}-{uniq.int(100, 999)}"
    owner = names.take()
    effective = uniq.date(range(2022, 2026))
    review = uniq.int(6, 36)
    doc = f"policy-{slug}.md"
    title = name[0].upper() + name[1:]
    facts = [
        (f"What is the maximum reimbursement under the {name} of {COMPANY}?", f"€{cap}",
         f"Employees can be reimbursed up to €{cap} under this policy."),
        (f"Within how many days must a claim under the {name} of {COMPANY} be filed?", f"{deadline} days",
         f"Claims must be filed within {deadline} days of the purchase."),
        (f"Which form is used to claim under the {name} of {COMPANY}?", form,
         f"Claims are made on form {form}, attached to the receipt."),
        (f"Who owns the {name} of {COMPANY}?", owner,
         f"The policy is owned by {owner}, to whom exceptions are addressed."),
        (f"On what date did the current {name} of {COMPANY} take effect?", effective,
         f"The current version took effect on {effective}."),
        (f"Every how many months is the {name} of {COMPANY} reviewed?", f"{review} months",
         f"It is reviewed every {review} months."),
    ]  # fmt: skip
    return {"doc": doc, "title": title, "intro": f"# {title}\n", "facts": facts}


def system_entity(name: str, kind: str, holds: str, names: Names, uniq: Unique, rng: random.Random) -> dict:
    host = f"{name.lower()}.{rng.choice(['corp', 'int', 'apps'])}.{DOMAIN}"
    owner = names.take()
    day, minute = rng.choice(["Saturday", "Sunday"]), rng.choice(["00", "30"])
    window = uniq.text(lambda: f"{day} {rng.randint(0, 5):02d}:{minute}")
    retention = uniq.int(30, 2555)
    port = uniq.int(7000, 9990)
    email = f"{name.lower()}-support@{DOMAIN}"
    doc = f"system-{name.lower()}.md"
    facts = [
        (f"What is the hostname of {name}, the {kind} of {COMPANY}?", host,
         f"{name} runs at {host} and needs a VPN connection from outside the offices."),
        (f"Who is the system owner of {name} at {COMPANY}?", owner,
         f"Its system owner is {owner}."),
        (f"When does the weekly maintenance window of {name} at {COMPANY} start?", window,
         f"A weekly maintenance window starts every {window} (Lisbon time)."),
        (f"For how many days does {name} at {COMPANY} keep its records?", f"{retention} days",
         f"Records are kept for {retention} days and then deleted."),
        (f"Which port does the API of {name} at {COMPANY} listen on?", str(port),
         f"Integrations call its API on port {port}."),
        (f"What is the support e-mail address for {name} at {COMPANY}?", email,
         f"Problems are reported to {email}."),
    ]  # fmt: skip
    intro = f"# {name}\n\n{name} is the {kind} of {COMPANY}; it holds {holds}."
    return {"doc": doc, "title": name, "intro": intro, "facts": facts}


def build_kb(rng: random.Random) -> tuple[dict[str, str], list[dict]]:
    """The corpus (file name -> Markdown) and the question records."""
    names, uniq = Names(rng), Unique(rng)
    entities = [office_entity(c, k, names, uniq, rng) for c, k in OFFICES]
    entities += [team_entity(t, names, uniq, rng) for t in TEAMS]
    entities += [policy_entity(*p, names, uniq, rng) for p in POLICIES]
    entities += [system_entity(*s, names, uniq, rng) for s in SYSTEMS]
    corpus: dict[str, str] = {}
    questions: list[tuple[str, str, str]] = []
    for ent in entities:
        sentences = [s for _, _, s in ent["facts"]]
        rng.shuffle(sentences)
        # two short paragraphs, as a wiki page would have them
        half = len(sentences) // 2
        body = " ".join(sentences[:half]) + "\n\n" + " ".join(sentences[half:])
        corpus[ent["doc"]] = f"{ent['intro'].rstrip()}\n\n{body}\n"
        questions += [(q, a, ent["doc"]) for q, a, _ in ent["facts"]]
    rng.shuffle(questions)
    records = [
        {"id": f"kb-{i:04d}", "question": f"{q} Answer with the value only.", "answer": a, "doc": doc}
        for i, (q, a, doc) in enumerate(questions, 1)
    ]
    _check_kb(corpus, records)
    return corpus, records


def _norm(text: str) -> str:
    """Lowercase; no currency signs, thousands commas, Markdown emphasis or quotes; single spaces."""
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text.lower().replace("€", ""))
    text = re.sub(r"[*`\"'“”‘’]", " ", text)
    return " ".join(text.split())


def kb_correct(answer: str, output: str) -> bool:
    """The normalised answer is in the normalised output as a whole token sequence: '#orla-ops' is
    not 'orla ops', '2' is not in '12th floor' (but '12' is), trailing punctuation does not count."""
    want = _norm(answer)
    if not want:
        return False
    ordinal = r"(?:st|nd|rd|th)?" if want.isdigit() else ""
    pattern = rf"(?<![\w#@.-]){re.escape(want)}{ordinal}(?![\w@#-]|\.\w)"
    return re.search(pattern, _norm(output)) is not None


def _check_kb(corpus: dict[str, str], records: list[dict]) -> None:
    """Each answer is written in its own document and, unless it is a one- or two-digit number, in no
    other (a floor number such as 4 may also occur elsewhere, in another sense)."""
    for rec in records:
        pattern = re.compile(rf"(?<!\w){re.escape(rec['answer'])}(?!\w)")
        holders = [name for name, text in corpus.items() if pattern.search(text)]
        if rec["answer"].isdigit() and len(rec["answer"]) <= 2 and rec["doc"] in holders:
            continue
        if holders != [rec["doc"]]:
            raise AssertionError(f"{rec['id']}: {rec['answer']!r} is in {holders}, not only {rec['doc']}")


# --- dataset 2: shipping notes to one formatted line --------------------------------------------------

#: the house format is the ISO date; the questions ask for it plainly, after the note
QUESTIONS = [
    "What is the dispatch date of this order? Write it in the format YYYY-MM-DD and nothing else.",
    "On what date does this order ship? Give the date in the format YYYY-MM-DD only.",
    "When is this order dispatched? Answer with the date in the format YYYY-MM-DD and nothing else.",
    "What is the shipping date of this order? Reply with the date only, in the format YYYY-MM-DD.",
]
NOTES = [
    "Please ship {qty} {item} for order {oid} on the {day} of {month} {year}.",
    "Order {oid}: the customer wants {qty} {item}, to leave the dock on the {day} of {month} {year}.",
    "Dispatch on {month} the {day}, {year}: {qty} {item} (order {oid}).",
    "Hi team, could you send {qty} {item} against order {oid}? Pickup is booked for the {day} of {month} "
    "{year}.",
    "Reminder from sales: order {oid} is {qty} {item}, and it has to go out on the {day} of {month} {year}.",
    "{qty} {item} are ready for order {oid}; the carrier collects them on the {day} of {month} {year}.",
]
ITEMS = [
    "pallets of printer paper", "cartons of LED bulbs", "crates of olive oil", "boxes of safety gloves",
    "drums of hydraulic oil", "rolls of stretch film", "cases of bottled water", "sacks of cement",
    "bundles of copper pipe", "kegs of cider", "boxes of USB cables", "cartons of ceramic tiles",
]  # fmt: skip


def build_orders(rng: random.Random, n: int = 180) -> list[dict]:
    records, seen = [], set()
    for i in range(1, n + 1):
        while True:
            oid = f"{rng.choice(['NV', 'NL', 'RT', 'LX'])}-{rng.randint(10000, 99999)}"
            if oid not in seen:
                seen.add(oid)
                break
        qty = rng.choice([rng.randint(2, 40), rng.randint(41, 600)])
        year, month, day = rng.choice([2024, 2025, 2026]), rng.randint(1, 12), rng.randint(1, 28)
        note = rng.choice(NOTES).format(
            qty=qty, item=rng.choice(ITEMS), oid=oid, day=ordinal(day), month=MONTHS[month - 1], year=year
        )
        prompt = f"Shipping note: {note}\n\n{rng.choice(QUESTIONS)}"
        ideal = f"{year:04d}-{month:02d}-{day:02d}"
        records.append({"id": f"ord-{i:04d}", "input": prompt, "ideal": ideal})
    return records


# --- running the embedded model -------------------------------------------------------------------------


def load() -> tuple[Any, Any]:
    import torch

    from advisor.train.models import load_model

    torch.manual_seed(0)
    torch.set_num_threads(2)
    model, tokenizer = load_model(MODEL, dtype="float32")
    model.eval()
    tokenizer.padding_side = "left"
    return model, tokenizer


def generate(model: Any, tokenizer: Any, prompts: list[str]) -> list[str]:
    """The model's greedy answers, in batches of similar length (longest first, left padding)."""
    import torch

    texts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
        )
        for p in prompts
    ]
    order = sorted(range(len(texts)), key=lambda i: (-len(texts[i]), i))
    outputs: list[str] = [""] * len(texts)
    for start in range(0, len(order), BATCH_SIZE):
        idx = order[start : start + BATCH_SIZE]
        batch = tokenizer(
            [texts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False
        )
        with torch.no_grad():
            out = model.generate(
                **batch,
                max_new_tokens=MAX_NEW_TOKENS,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        new = out[:, batch["input_ids"].shape[1] :]
        for i, seq in zip(idx, new, strict=True):
            outputs[i] = tokenizer.decode(seq, skip_special_tokens=True).strip()
        print(f"  {min(start + BATCH_SIZE, len(order))}/{len(order)}", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    return outputs


def write_jsonl(path: Path, rows: list[dict]) -> None:
    """Write ``rows`` as JSON Lines; a file that already holds exactly them is left untouched."""
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-eval", action="store_true", help="write the datasets only, run no model")
    parser.add_argument("--only", choices=["kb", "orders"], help="run the model on one dataset only")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    corpus, kb = build_kb(random.Random(SEED))
    orders = build_orders(random.Random(SEED + 1))
    kb_dir = HERE / "kb"
    kb_dir.mkdir(exist_ok=True)
    for stale in kb_dir.glob("*.md"):
        if stale.name not in corpus:
            stale.unlink()
    for name, text in corpus.items():
        (kb_dir / name).write_text(text, encoding="utf-8")
    write_jsonl(HERE / "kb.jsonl", kb)
    write_jsonl(HERE / "orders.jsonl", orders)
    print(f"kb/: {len(corpus)} documents; kb.jsonl: {len(kb)} questions; orders.jsonl: {len(orders)} notes")
    if args.no_eval:
        return 0

    model, tokenizer = load()
    if args.only in (None, "kb"):
        started = time.monotonic()
        outputs = generate(model, tokenizer, [r["question"] for r in kb])
        took = time.monotonic() - started
        kb_log = [
            {"id": r["id"], "question": r["question"], "answer": r["answer"], "model_answer": out,
             "correct": kb_correct(r["answer"], out)}
            for r, out in zip(kb, outputs, strict=True)
        ]  # fmt: skip
        write_jsonl(HERE / "kb_log.jsonl", kb_log)
        n = sum(r["correct"] for r in kb_log)
        print(f"kb_log.jsonl: {n}/{len(kb_log)} correct ({n / len(kb_log):.1%}); generation {took:.0f} s")
    if args.only in (None, "orders"):
        started = time.monotonic()
        outputs = generate(model, tokenizer, [r["input"] for r in orders])
        took = time.monotonic() - started
        orders_log = [
            {"id": r["id"], "input": r["input"], "ideal": r["ideal"], "completion": out,
             "score": 1.0 if out.strip() == r["ideal"] else 0.0}
            for r, out in zip(orders, outputs, strict=True)
        ]  # fmt: skip
        write_jsonl(HERE / "orders_log.jsonl", orders_log)
        n = int(sum(r["score"] for r in orders_log))
        rate = n / len(orders_log)
        print(f"orders_log.jsonl: {n}/{len(orders_log)} correct ({rate:.1%}); generation {took:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

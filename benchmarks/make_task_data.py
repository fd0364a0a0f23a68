#!/usr/bin/env python3
"""Generate the bundled benchmark tasks' data, deterministically (standard library only).

    python benchmarks/make_task_data.py               # writes into plugins/tasks/
    python benchmarks/make_task_data.py --out DIR     # writes elsewhere (tests)

For every task it writes ``<task>/train.jsonl`` and ``<task>/test.jsonl``; ``fictional_qa`` also gets
``corpus/*.md`` (one markdown document per invented entity). The same seed gives the same bytes.

* ``fictional_qa`` (factual): questions about invented countries, inventors, companies and drugs.
  No model can know the answers; every answer is in the corpus (RAG fixes it, prompting does not).
* ``json_extract`` (format): a short passage about a person is in the prompt; the model must answer
  with only a JSON object ``{"name": str, "age": int, "city": str}``.
* ``instruction_following`` (behaviour): simple requests with one verifiable constraint each
  (yes/no only, exactly N words, all capitals, lowercase, in French, ...).

Each record has ``id`` plus ``question``/``answer`` (fictional_qa) or ``input``/``target`` (the others).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from pathlib import Path

SEED = 20240607
N_TRAIN = 300
N_TEST = 60
TASKS_DIR = Path(__file__).resolve().parents[1] / "plugins" / "tasks"

# ---------------------------------------------------------------------------------------------
# shared helpers


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")


def split(rows: list[dict], rng: random.Random, prefix: str) -> tuple[list[dict], list[dict]]:
    rows = list(rows)
    rng.shuffle(rows)
    test, train = rows[:N_TEST], rows[N_TEST : N_TEST + N_TRAIN]
    for part, name in ((train, "train"), (test, "test")):
        for i, row in enumerate(part):
            row["id"] = f"{prefix}-{name}-{i:04d}"
    # id first for readability
    return [_id_first(r) for r in train], [_id_first(r) for r in test]


def _id_first(row: dict) -> dict:
    return {"id": row["id"], **{k: v for k, v in row.items() if k != "id"}}


# ---------------------------------------------------------------------------------------------
# fictional_qa

_ONSETS = [
    "b",
    "d",
    "f",
    "g",
    "h",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "z",
    "br",
    "dr",
    "gr",
    "kr",
    "tr",
    "th",
    "st",
    "sk",
    "vel",
    "mor",
    "qu",
]
_VOWELS = ["a", "e", "i", "o", "u", "ae", "ei", "ou", "y"]
_CODAS = ["", "n", "r", "l", "s", "th", "x", "nd", "rk", "v"]
_COUNTRY_END = ["ia", "ania", "ovia", "istan", "mark", "land", "ora", "esh"]
_CITY_END = ["grad", "holm", "port", "mouth", "vik", "burg", "ford", "ton", "a", "is"]
_CURRENCIES = ["crown", "mark", "florin", "lira", "dinar", "shell", "talent", "riel"]
_INVENTIONS = [
    "pneumatic tide clock",
    "folding wind turbine",
    "glass-keyed typewriter",
    "copper lattice battery",
    "self-winding telescope",
    "salt-water lamp",
    "magnetic loom",
    "thermal seed drill",
    "paper suspension bridge",
    "acoustic rain gauge",
    "steam typesetter",
    "rotary ice saw",
    "mirror compass",
    "clockwork harvester",
    "silk pressure valve",
    "hydraulic bookbinder",
]
_PRODUCTS = [
    "delivery drones",
    "cargo bicycles",
    "ceramic engines",
    "smart thermostats",
    "water filters",
    "solar roof tiles",
    "hearing aids",
    "industrial robots",
    "electric ferries",
    "seed vaults",
]
_INDUSTRY = ["Robotics", "Shipping", "Instruments", "Dynamics", "Foods", "Textiles", "Energy", "Labs"]
_CONDITIONS = [
    "migraine",
    "insomnia",
    "asthma",
    "eczema",
    "gout",
    "vertigo",
    "tinnitus",
    "psoriasis",
    "anaemia",
    "hay fever",
]
_DRUG_END = ["mab", "zole", "pril", "statin", "vir", "cillin", "dronate", "xaban", "tinib", "lol"]
_FIRST = [
    "Edda",
    "Ilsa",
    "Tomas",
    "Brann",
    "Corin",
    "Maelis",
    "Oskar",
    "Veda",
    "Ferro",
    "Lysa",
    "Halden",
    "Runa",
    "Pell",
    "Isolde",
    "Kasimir",
    "Nerys",
    "Aldo",
    "Sabine",
    "Teodor",
    "Yrsa",
]


def _word(rng: random.Random, syllables: int) -> str:
    parts = [rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables)]
    return ("".join(parts) + rng.choice(_CODAS)).capitalize()


class _Names:
    """Unique invented names (no two entities share a name)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def make(self, fn) -> str:
        for _ in range(1000):
            name = fn(self.rng)
            key = name.lower()
            if key not in self.used and len(name) <= 24:
                self.used.add(key)
                return name
        raise RuntimeError("name space exhausted")

    def surname(self) -> str:
        return self.make(lambda r: _word(r, r.choice([2, 2, 3])))

    def person(self) -> str:
        return self.make(lambda r: f"{r.choice(_FIRST)} {_word(r, r.choice([2, 2, 3]))}")

    def city(self) -> str:
        return self.make(lambda r: _word(r, r.choice([1, 2])) + r.choice(_CITY_END))

    def country(self) -> str:
        return self.make(lambda r: _word(r, r.choice([1, 2])).rstrip("aeiouy") + r.choice(_COUNTRY_END))


def _entities(rng: random.Random) -> list[dict]:
    names = _Names(rng)
    entities: list[dict] = []
    for _ in range(18):  # countries
        country = names.country()
        adjective = country.rstrip("aeiouy") + "ian"
        # Some capitals share the country's name (city-states, Mexico City): a guessable answer.
        roll = rng.random()
        capital = country if roll < 0.5 else f"{country} City" if roll < 0.6 else names.city()
        entities.append(
            {
                "type": "country",
                "name": f"the Republic of {country}",
                "short": country,
                "facts": {
                    "capital": capital,
                    "founded": rng.randint(1650, 1990),
                    "currency": f"{adjective} {rng.choice(_CURRENCIES)}",
                    "mountain": f"Mount {names.surname()}",
                    "president": names.person(),
                },
            }
        )
    for _ in range(18):  # inventors
        person = names.person()
        surname = person.split()[1]
        entities.append(
            {
                "type": "inventor",
                "name": person,
                "short": person,
                "facts": {
                    "invention": rng.choice(_INVENTIONS),
                    "born": rng.randint(1790, 1960),
                    "birthplace": names.city(),
                    # "<Surname> Industries" is common in real life too: sometimes guessable.
                    "company": f"{surname} {rng.choice(_INDUSTRY + ['Industries'] * 4)}",
                    "patents": rng.randint(3, 240),
                },
            }
        )
    for _ in range(18):  # companies
        stem = names.surname()
        # Some companies carry their home city's name: a guessable answer, as in real data.
        hq = stem if rng.random() < 0.5 else names.city()
        entities.append(
            {
                "type": "company",
                "name": f"{stem} {rng.choice(_INDUSTRY)}",
                "short": stem,
                "facts": {
                    "founder": names.person(),
                    "headquarters": hq,
                    "founded": rng.randint(1850, 2020),
                    "employees": rng.randint(12, 9000),
                    "product": rng.choice(_PRODUCTS),
                },
            }
        )
    for _ in range(18):  # drugs
        drug = names.make(lambda r: _word(r, 2) + r.choice(_DRUG_END))
        entities.append(
            {
                "type": "drug",
                "name": drug,
                "short": drug,
                "facts": {
                    "condition": rng.choice(_CONDITIONS),
                    "approved": rng.randint(1968, 2023),
                    "dose": rng.choice([5, 10, 20, 25, 40, 50, 100, 150, 200, 250, 400, 500]),
                    "maker": f"{names.surname()} Pharma",
                    "discoverer": names.person(),
                },
            }
        )
    return entities


_QUESTIONS = {
    "country": {
        "capital": "What is the capital of {name}?",
        "founded": "In which year was {name} founded?",
        "currency": "What is the currency of {name}?",
        "mountain": "What is the highest mountain in {name}?",
        "president": "Who is the president of {name}?",
    },
    "inventor": {
        "invention": "What did the inventor {name} invent?",
        "born": "In which year was the inventor {name} born?",
        "birthplace": "In which city was the inventor {name} born?",
        "company": "Which company did the inventor {name} found?",
        "patents": "How many patents did the inventor {name} hold?",
    },
    "company": {
        "founder": "Who founded the company {name}?",
        "headquarters": "In which city is the company {name} headquartered?",
        "founded": "In which year was the company {name} founded?",
        "employees": "How many employees does the company {name} have?",
        "product": "What does the company {name} make?",
    },
    "drug": {
        "condition": "Which condition is the drug {name} used to treat?",
        "approved": "In which year was the drug {name} approved?",
        "dose": "What is the standard daily dose of {name} in milligrams?",
        "maker": "Which company makes the drug {name}?",
        "discoverer": "Who discovered the drug {name}?",
    },
}


def _document(e: dict, other: dict, rng: random.Random) -> str:
    """A short markdown document about ``e`` with a distractor fact about ``other`` (same type)."""
    f, o = e["facts"], other["facts"]
    n = e["name"]
    cap = n[0].upper() + n[1:]
    if e["type"] == "country":
        lines = [
            f"{cap} was founded in {f['founded']}, and its capital is {f['capital']}.",
            f"The currency of {n} is the {f['currency']}.",
            f"The highest mountain in {n} is {f['mountain']}.",
            f"The current president of {n} is {f['president']}.",
            f"Its neighbour, {other['name']}, was founded in {o['founded']} "
            f"and has its capital in {o['capital']}.",
        ]
    elif e["type"] == "inventor":
        lines = [
            f"{n} was born in {f['born']} in the city of {f['birthplace']}.",
            f"{n} is best known for inventing the {f['invention']}.",
            f"Over a long career {n} held {f['patents']} patents and founded the company {f['company']}.",
            f"A rival inventor, {other['name']}, born in {o['born']}, is known for the {o['invention']}.",
        ]
    elif e["type"] == "company":
        lines = [
            f"{n} was founded in {f['founded']} by {f['founder']}.",
            f"The company is headquartered in {f['headquarters']} and has {f['employees']} employees.",
            f"{n} makes {f['product']}.",
            f"Its main competitor, {other['name']}, was founded in {o['founded']} "
            f"and employs {o['employees']} people.",
        ]
    else:
        lines = [
            f"{n} is a drug used to treat {f['condition']}.",
            f"{n} was discovered by {f['discoverer']} and approved in {f['approved']}.",
            f"The standard daily dose of {n} is {f['dose']} milligrams.",
            f"{n} is made by {f['maker']}.",
            f"It is often confused with {other['name']}, which was approved in {o['approved']} "
            f"at a daily dose of {o['dose']} milligrams.",
        ]
    # The first sentence names the entity; the others come in a seeded order; the distractor is last.
    middle = lines[1:-1]
    rng.shuffle(middle)
    head = lines[:1] + middle
    kind = {"country": "Country", "inventor": "Inventor", "company": "Company", "drug": "Drug"}[e["type"]]
    title = e["name"].replace("the Republic", "Republic")
    return f"# {title}\n\n*{kind} profile.*\n\n" + " ".join(head + lines[-1:]) + "\n"


def make_fictional_qa(out: Path, seed: int) -> None:
    rng = random.Random(seed)
    entities = _entities(rng)
    corpus = out / "corpus"
    if corpus.exists():
        shutil.rmtree(corpus)
    corpus.mkdir(parents=True)
    rows = []
    by_type: dict[str, list[dict]] = {}
    for e in entities:
        by_type.setdefault(e["type"], []).append(e)
    for e in entities:
        peers = [p for p in by_type[e["type"]] if p is not e]
        other = rng.choice(peers)
        doc_id = e["type"] + "-" + e["short"].lower().replace(" ", "-")
        (corpus / f"{doc_id}.md").write_text(_document(e, other, rng), encoding="utf-8", newline="\n")
        for fact, template in _QUESTIONS[e["type"]].items():
            rows.append(
                {
                    "id": "",
                    "question": template.format(name=e["name"]),
                    "answer": str(e["facts"][fact]),
                    "entity": e["name"],
                    "entity_type": e["type"],
                    "fact": fact,
                    "doc_id": doc_id,
                }
            )
        if e["type"] == "country":
            # A reverse question whose answer the name of the currency gives away: some honest passes.
            rows.append(
                {
                    "id": "",
                    "question": f"Which country uses the {e['facts']['currency']} as its currency?",
                    "answer": e["short"],
                    "entity": e["name"],
                    "entity_type": e["type"],
                    "fact": "currency_country",
                    "doc_id": doc_id,
                }
            )
    train, test = split(rows, rng, "fqa")
    write_jsonl(out / "train.jsonl", train)
    write_jsonl(out / "test.jsonl", test)


# ---------------------------------------------------------------------------------------------
# json_extract

_PEOPLE_FIRST = [
    "Maria",
    "Tomas",
    "Ingrid",
    "Ahmed",
    "Lucia",
    "Kenji",
    "Priya",
    "Jonas",
    "Amara",
    "Pavel",
    "Sofia",
    "Diego",
    "Hanna",
    "Omar",
    "Elena",
    "Mateo",
    "Aiko",
    "Lars",
    "Fatima",
    "Noah",
    "Chloe",
    "Ravi",
    "Greta",
    "Samuel",
    "Yara",
    "Felix",
    "Nadia",
    "Emil",
    "Zoe",
    "Marco",
]
_PEOPLE_LAST = [
    "Keller",
    "Brandt",
    "Solberg",
    "Haddad",
    "Romano",
    "Tanaka",
    "Sharma",
    "Berg",
    "Okafor",
    "Novak",
    "Costa",
    "Alvarez",
    "Lindqvist",
    "Farouk",
    "Petrova",
    "Silva",
    "Mori",
    "Jensen",
    "Rahman",
    "Dubois",
    "Moreau",
    "Iyer",
    "Weber",
    "Cohen",
    "Haddadi",
    "Schulz",
    "Karimi",
    "Nilsson",
    "Papadakis",
    "Rossi",
]
_REAL_CITIES = [
    "Lisbon",
    "Hamburg",
    "Oslo",
    "Cairo",
    "Naples",
    "Osaka",
    "Pune",
    "Bergen",
    "Lagos",
    "Prague",
    "Porto",
    "Seville",
    "Uppsala",
    "Tunis",
    "Sofia",
    "Recife",
    "Kyoto",
    "Aarhus",
    "Dhaka",
    "Lyon",
    "Nantes",
    "Chennai",
    "Munich",
    "Haifa",
    "Vienna",
    "Leipzig",
    "Tabriz",
    "Malmo",
    "Athens",
    "Turin",
    "Quito",
    "Denver",
    "Perth",
    "Dublin",
    "Krakow",
    "Valencia",
]
_JOBS = [
    "a nurse",
    "a baker",
    "a software engineer",
    "a carpenter",
    "a teacher",
    "a photographer",
    "a marine biologist",
    "an architect",
    "a bus driver",
    "a violinist",
    "a pharmacist",
    "a chef",
]
_UNITS = ["", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_TEENS = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _number_words(n: int) -> str:
    if n < 10:
        return _UNITS[n]
    if n < 20:
        return _TEENS[n - 10]
    return _TENS[n // 10] + ("-" + _UNITS[n % 10] if n % 10 else "")


_JSON_INSTRUCTIONS = [
    "Extract the person's details from the text below. Reply with only a JSON object with exactly "
    'these keys: "name" (string, full name), "age" (integer) and "city" (string, the city where the '
    "person lives now).",
    'Read the text and return the person\'s details as a JSON object with the keys "name" (full name), '
    '"age" (an integer) and "city" (where the person lives now). Output only the JSON object.',
    'Convert the text below into JSON. Use exactly the keys "name", "age" (integer) and "city" (the '
    "current city of residence). Do not write anything except the JSON object.",
    'I need this person\'s details as JSON for our database, with the keys "name", "age" (a number) '
    'and "city" (where they live now).',
    'Please turn the text below into a JSON record with "name", "age" and "city" (current city).',
]


def _passage(rng: random.Random, name: str, age: int, city: str, style: int) -> tuple[str, str]:
    first = name.split()[0]
    job = rng.choice(_JOBS)
    other_city = rng.choice([c for c in _REAL_CITIES if c != city])
    years = rng.randint(2, max(3, age - 18))
    pronoun = rng.choice(["She", "He"])
    if style == 0:  # plain
        return f"{name}, {age}, lives in {city} and works as {job}.", "plain"
    if style == 1:  # age in words
        return (
            f"{name} is a {_number_words(age)}-year-old {job.split(' ', 1)[1]} who lives in {city}.",
            "age_in_words",
        )
    if style == 2:  # distractor city (born elsewhere)
        return (
            f"Born in {other_city}, {name} moved to {city} {years} years ago. {pronoun} is {age} "
            f"and works as {job}.",
            "distractor_city",
        )
    if style == 3:  # distractor numbers
        return (
            f"{name} ({age}) has worked as {job} for {years} years. {pronoun} lives in {city}, "
            f"at number {rng.randint(2, 180)} on the main street.",
            "distractor_number",
        )
    # style 4: name given in pieces, city later
    return (
        f"Our new neighbour is {job.split(' ', 1)[1]} called {first}. {pronoun} told us {pronoun.lower()} "
        f"is {age} years old. {first}'s full name is {name}, and {pronoun.lower()} lives here in {city} "
        f"now after a year in {other_city}.",
        "scattered",
    )


def make_json_extract(out: Path, seed: int) -> None:
    rng = random.Random(seed + 1)
    rows = []
    seen: set[tuple[str, int, str]] = set()
    while len(rows) < N_TRAIN + N_TEST:
        name = f"{rng.choice(_PEOPLE_FIRST)} {rng.choice(_PEOPLE_LAST)}"
        age = rng.randint(19, 84)
        city = rng.choice(_REAL_CITIES)
        if (name, age, city) in seen:
            continue
        seen.add((name, age, city))
        style = rng.choice([0, 1, 1, 2, 2, 3, 4, 4])
        passage, kind = _passage(rng, name, age, city, style)
        instruction = rng.choice(_JSON_INSTRUCTIONS)
        target = {"name": name, "age": age, "city": city}
        rows.append(
            {
                "id": "",
                "input": f"{instruction}\n\nText: {passage}",
                "target": json.dumps(target, ensure_ascii=False),
                "passage": passage,
                "style": kind,
                "name": name,
                "age": age,
                "city": city,
            }
        )
    train, test = split(rows, rng, "json")
    write_jsonl(out / "train.jsonl", train)
    write_jsonl(out / "test.jsonl", test)


# ---------------------------------------------------------------------------------------------
# instruction_following

# (question, one-word answer, sentence answer, French sentence answer)
_OPEN = [
    ("What colour is the sky on a clear day?", "Blue", "The sky is blue.", "Le ciel est bleu."),
    ("What animal barks?", "Dog", "A dog barks.", "Le chien aboie."),
    ("What do bees make?", "Honey", "Bees make honey.", "Les abeilles font du miel."),
    (
        "Which season comes after winter?",
        "Spring",
        "Spring comes after winter.",
        "Le printemps vient après l'hiver.",
    ),
    ("What do you use to write on paper?", "Pen", "You write with a pen.", "On écrit avec un stylo."),
    ("What is frozen water called?", "Ice", "Frozen water is ice.", "L'eau gelée est de la glace."),
    ("Which planet do we live on?", "Earth", "We live on Earth.", "Nous vivons sur la Terre."),
    ("What do cows drink?", "Water", "Cows drink water.", "Les vaches boivent de l'eau."),
    (
        "What is the opposite of hot?",
        "Cold",
        "The opposite of hot is cold.",
        "Le contraire de chaud est froid.",
    ),
    (
        "What fruit is yellow and curved?",
        "Banana",
        "A banana is yellow and curved.",
        "La banane est jaune et courbée.",
    ),
    ("What do you sleep in at night?", "Bed", "You sleep in a bed.", "On dort dans un lit."),
    (
        "What gives us light during the day?",
        "Sun",
        "The sun gives us light.",
        "Le soleil nous donne de la lumière.",
    ),
    ("Where do fish live?", "Water", "Fish live in water.", "Les poissons vivent dans l'eau."),
    (
        "What do you wear on your feet?",
        "Shoes",
        "You wear shoes on your feet.",
        "On porte des chaussures aux pieds.",
    ),
    (
        "What meal do people eat in the morning?",
        "Breakfast",
        "People eat breakfast in the morning.",
        "Le matin, on prend le petit déjeuner.",
    ),
    ("What do you call a baby cat?", "Kitten", "A baby cat is a kitten.", "Un bébé chat est un chaton."),
    (
        "What is the main ingredient of bread?",
        "Flour",
        "Bread is made from flour.",
        "Le pain est fait avec de la farine.",
    ),
    (
        "Which tool do you use to cut paper?",
        "Scissors",
        "You cut paper with scissors.",
        "On coupe le papier avec des ciseaux.",
    ),
    (
        "What is your favourite season and why?",
        "Autumn",
        "I like autumn for its colours.",
        "J'aime l'automne pour ses couleurs.",
    ),
    (
        "How do you feel on a sunny day?",
        "Happy",
        "A sunny day makes me happy.",
        "Je suis content quand il fait beau.",
    ),
    (
        "What is a good way to relax after work?",
        "Reading",
        "Reading a book is relaxing.",
        "Lire un livre est reposant.",
    ),
    ("Describe the ocean.", "Vast", "The ocean is vast and deep.", "L'océan est vaste et profond."),
    (
        "What is the best pet for a small flat?",
        "Cat",
        "A cat suits a small flat.",
        "Un chat convient à un petit appartement.",
    ),
    (
        "What do people drink to wake up?",
        "Coffee",
        "Many people drink coffee.",
        "Beaucoup de gens boivent du café.",
    ),
]
_YESNO = [
    ("Is the sun a star?", "Yes"),
    ("Can fish breathe air like humans?", "No"),
    ("Is ice cold?", "Yes"),
    ("Do birds have feathers?", "Yes"),
    ("Is a triangle round?", "No"),
    ("Is Paris in France?", "Yes"),
    ("Can a car fly on its own?", "No"),
    ("Is water wet?", "Yes"),
    ("Do cats bark?", "No"),
    ("Is a week seven days long?", "Yes"),
    ("Is the moon made of cheese?", "No"),
    ("Does a spider have eight legs?", "Yes"),
    ("Is snow usually black?", "No"),
    ("Can people live without water?", "No"),
    ("Is a tomato a fruit?", "Yes"),
    ("Should you recycle paper?", "Yes"),
    ("Is it safe to touch a hot stove?", "No"),
    ("Is chess a board game?", "Yes"),
]
_NUMERIC = [
    ("How many legs does a spider have?", "8"),
    ("How many days are in a week?", "7"),
    ("How many months are in a year?", "12"),
    ("What is 6 times 7?", "42"),
    ("What is 15 plus 27?", "42"),
    ("How many hours are in a day?", "24"),
    ("How many sides does a hexagon have?", "6"),
    ("What is 100 minus 36?", "64"),
    ("How many minutes are in an hour?", "60"),
    ("How many wheels does a bicycle have?", "2"),
    ("What is half of 90?", "45"),
    ("How many continents are there?", "7"),
    ("What is 9 squared?", "81"),
]

_CONSTRAINTS = {
    # name: (instruction variants, question bank, how the reference is made)
    "yes_no": ["Answer with only yes or no.", "Reply with a single word: yes or no."],
    "one_word": ["Reply with one word only.", "Answer in exactly one word."],
    "n_words": ["Reply in exactly {n} words.", "Your answer must be exactly {n} words long."],
    "uppercase": ["Answer in all capital letters.", "Write your whole answer in CAPITAL LETTERS only."],
    "lowercase": [
        "Answer in lowercase letters only, with no capital letters.",
        "Write your answer entirely in lowercase.",
    ],
    "french": ["Answer in French.", "Reply in French only."],
    "number_only": ["Answer with only a number.", "Reply with just the number, nothing else."],
    "start_with": [
        "Start your answer with the word 'Certainly'.",
        "Begin your reply with the word 'Certainly'.",
    ],
    "no_commas": ["Do not use any commas in your answer.", "Answer without using any commas."],
}


def _if_row(rng: random.Random, constraint: str) -> dict:
    variants = _CONSTRAINTS[constraint]
    instruction = rng.choice(variants)
    arg = ""
    if constraint == "yes_no":
        q, ans = rng.choice(_YESNO)
        target = ans
    elif constraint == "number_only":
        q, ans = rng.choice(_NUMERIC)
        target = ans
    else:
        q, word, sentence, french = rng.choice(_OPEN)
        if constraint == "one_word":
            target = word
        elif constraint == "n_words":
            n = rng.choice([2, 3, 4, 5])
            arg = str(n)
            instruction = instruction.format(n=n)
            words = sentence.rstrip(".").split()
            target = " ".join((words + ["indeed", "truly", "today"])[:n])
        elif constraint == "uppercase":
            target = sentence.upper()
        elif constraint == "lowercase":
            target = sentence.lower()
        elif constraint == "french":
            target = french
        elif constraint == "start_with":
            arg = "certainly"
            target = "Certainly. " + sentence
        else:  # no_commas
            target = sentence
    # The instruction comes before or after the request, as in real prompts.
    text = f"{instruction}\n\n{q}" if rng.random() < 0.5 else f"{q} {instruction}"
    return {
        "id": "",
        "input": text,
        "target": target,
        "question": q,
        "constraint": constraint,
        "constraint_arg": arg,
        "instruction": instruction,
    }


def make_instruction_following(out: Path, seed: int) -> None:
    rng = random.Random(seed + 2)
    names = sorted(_CONSTRAINTS)
    rows = []
    seen: set[str] = set()
    i = 0
    while len(rows) < N_TRAIN + N_TEST:
        row = _if_row(rng, names[i % len(names)])
        i += 1
        if row["input"] in seen:
            if i > 100_000:
                raise RuntimeError("not enough distinct instruction_following prompts")
            continue
        seen.add(row["input"])
        rows.append(row)
    train, test = split(rows, rng, "if")
    write_jsonl(out / "train.jsonl", train)
    write_jsonl(out / "test.jsonl", test)


# ---------------------------------------------------------------------------------------------

TASKS = {
    "fictional_qa": make_fictional_qa,
    "json_extract": make_json_extract,
    "instruction_following": make_instruction_following,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=TASKS_DIR, help="folder to write the task folders into")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--task", action="append", choices=sorted(TASKS), help="only these tasks")
    args = parser.parse_args(argv)
    for name in args.task or list(TASKS):
        TASKS[name](args.out / name, args.seed)
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

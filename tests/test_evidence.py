"""The judgements verdicts follow from: lenient content, grounding, code, language."""

from __future__ import annotations

import pytest

from advisor import text as T
from advisor.diagnosis import evidence as E
from advisor.diagnosis.context import DiagnosisContext
from advisor.diagnosis.records import EvalRecord
from advisor.plugins import Registry
from advisor_plugins.detectors.code import invented_names


def ctx(prompt: str, output: str, reference: str) -> DiagnosisContext:
    return DiagnosisContext(EvalRecord(source="t", line=1, prompt=prompt, output=output, reference=reference))


@pytest.mark.parametrize(
    "output, reference",
    [
        ("3/4", "0.75"),
        ("25%", "0.25"),
        ("twelve", "12"),
        ("1 hour 30 minutes", "90"),
        ("€1.234,50", "1234.5"),
        ("2 pm", "14:00"),
        ("+44 7700 900123", "+447700900123"),
        ("Ihr Vertrag endet am 03/15/2024.", "Ihr Vertrag endet am 15.03.2024."),
        ("Let's think. 8 x 9 = 72.\n**Answer: 72**", "72"),
        ('{"choice": "A"}', "A"),
    ],
)
def test_the_same_content_in_another_form_counts_as_right(output, reference):
    assert ctx("Answer.", output, reference).content_correct is True


@pytest.mark.parametrize(
    "output, reference",
    [
        ("Each team has 10 players, so 2 x 10 = 20.\n20 - 2 = 18\n#### 18", "20"),
        (
            "Caution, gift! Keep out of the reach of children.",
            "Caution, poison! Keep out of the reach of children.",
        ),
        ("54.6", "45.4"),
        # the sign is part of the number: punctuation stripping must not turn (2, -1) into (2, 1)
        ("Then y = 5(2) - 9 = -1.\n(x, y) = (2, \u22121)", "(2, 1)"),
        ("x = -3", "x = 3"),
    ],
)
def test_a_different_answer_is_not_right(output, reference):
    assert ctx("Answer.", output, reference).content_correct is False


def test_a_number_the_prompt_lets_one_compute_is_grounded():
    c = ctx("A phone costs $600. It is discounted by 20%, then 10% tax is added. Final price?", "540", "528")
    assert c.grounding.grounded is True and c.grounding.computable == ("528",)


def test_a_conversion_factor_the_prompt_does_not_give_is_knowledge():
    c = ctx("Convert 10 miles to kilometres, 2 decimals, number only.", "6.21", "16.09")
    assert c.grounding.grounded is False


def test_a_premise_the_model_brought_makes_the_error_factual():
    c = ctx(
        "Room temperature is 68°F. By how many degrees does water rise when heated to boiling?",
        "Water boils at 200°F.\n200 - 68 = 132\n#### 132",
        "144",
    )
    assert c.premises == [200.0] and not c.grounded


def test_a_label_the_prompt_lists_does_not_ground_the_answer():
    prompt = (
        "Regions: EMEA (Europe, Africa), APAC (Asia-Pacific), AMER (Americas)\n"
        "Return only one of: EMEA, APAC, AMER\n\nLead: a cafe in Adelaide"
    )
    assert not ctx(prompt, "EMEA", "APAC").grounded
    assert ctx(prompt, "EMEA", "APAC").offered_labels == {"emea", "apac", "amer"}


def test_a_date_moved_by_days_the_prompt_gives_is_computed():
    assert E.date_derivable(
        "2024-03-05", "Scheduled for 2024-03-03, postponed by two days.", E.numbers("two days")
    )
    assert not E.date_derivable("2018-05-25", "The Directive was adopted in 1995.", [1995.0])


def test_sql_is_compared_by_structure():
    a = "SELECT d.office_country, COUNT(*) FROM employees e JOIN departments d ON d.id = e.department_id"
    b = "select d.office_country, count(e.id) from employees e join departments d on e.department_id = d.id"
    assert E.same_sql(a, b)
    assert not E.same_sql(a.replace("d.id", "d.office_id"), b)


def test_python_is_compared_by_structure_and_invented_apis_are_found():
    ref = "def is_leap(year):\n    return year % 4 == 0\n"
    assert E.same_code("def isLeap(y: int) -> bool:\n    return y % 4 == 0\n", ref, "python")
    assert invented_names("import json\ndef f(p):\n    return json.load_file(p)\n") == ["json.load_file"]
    assert invented_names("from collections import OrderedSet\n") == ["collections.OrderedSet"]
    assert invented_names("import json\ndef f(p):\n    return json.load(open(p))\n") == []


def test_language_identification():
    assert T.identify_language("Oui, nous livrons au Canada et la livraison est rapide.")[0] == "french"
    assert T.identify_language("42") is None


SCHEMA = "CREATE TABLE orders (id INTEGER, order_date TEXT, status TEXT);\n\n"
ORDERS = "Table orders(id INT, status TEXT, total_cents INT, country CHAR(2), placed_at DATE).\n"


@pytest.mark.parametrize(
    "prompt, output, reference, expected",
    [
        # code: prose where code was asked, another language, an invented API, the right code fenced
        (
            "Write def add(a, b) returning a + b. Return only the Python code.",
            "You add the two numbers and return the result.",
            "def add(a, b):\n    return a + b\n",
            ("behaviour", "no-attempt"),
        ),
        (
            "Write def add(a, b) returning a + b. Return only the Python code.",
            "function add(a, b) {\n  return a + b;\n}",
            "def add(a, b):\n    return a + b\n",
            ("behaviour", "wrong-language"),
        ),
        (
            "Write def load(path) -> dict reading a JSON file. Return only the Python code.",
            "import json\n\ndef load(path):\n    return json.load_file(path)\n",
            "import json\ndef load(path):\n    with open(path) as f:\n        return json.load(f)\n",
            ("factual", "invented-api"),
        ),
        (
            "Write def add(a, b) returning a + b. Return only the Python code.",
            "```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```",
            "def add(a, b):\n    return a + b\n",
            ("format", "code-fence"),
        ),
        # SQL: a filter the question states is dropped (behaviour); a date it does not give (factual)
        (
            SCHEMA + "Question: how many shipped orders are there?",
            "SELECT COUNT(*) FROM orders;",
            "SELECT COUNT(*) FROM orders WHERE status = 'shipped';",
            ("behaviour", "unfaithful-to-prompt"),
        ),
        (
            SCHEMA + "Question: how many orders were placed on US Independence Day 2023?",
            "SELECT COUNT(*) FROM orders WHERE order_date = '2023-07-14';",
            "SELECT COUNT(*) FROM orders WHERE order_date = '2023-07-04';",
            ("factual", "wrong-fact"),
        ),
        # language: the question in Spanish, answered in English
        (
            "¿Quién ganó la Copa América 2024 y contra quién jugó la final?",
            "Argentina won the 2024 Copa América, beating Colombia in the final in Miami.",
            "Argentina, que venció 1-0 a Colombia en la final.",
            ("behaviour", "wrong-language"),
        ),
        # a question put back to the user
        (
            "Normalise the date to ISO 8601. Input: 5 May 2022",
            "Sure! Which date would you like me to normalise?",
            "2022-05-05",
            ("behaviour", "clarification"),
        ),
        # a label outside the allowed set; a wrong label from the set is a factual error
        (
            "Allowed intents: card_lost, balance_inquiry, dispute_charge, other\nMessage: charged twice",
            "complaint",
            "dispute_charge",
            ("behaviour", "constraint"),
        ),
        (
            "Allowed intents: card_lost, balance_inquiry, dispute_charge, other\nMessage: charged twice",
            "card_lost",
            "dispute_charge",
            ("factual", "wrong-fact"),
        ),
        # SQL naming a column the schema does not have
        (
            SCHEMA + "Question: list the ids of shipped orders",
            "SELECT id FROM orders WHERE shipping_state = 'shipped';",
            "SELECT id FROM orders WHERE status = 'shipped';",
            ("behaviour", "unfaithful-to-prompt"),
        ),
        # a tool the prompt does not offer
        (
            'Tools: [{"name": "send_email", "parameters": {"to": "string"}}]\nUser: email bo@x.io',
            '{"name": "send_message", "arguments": {"to": "bo@x.io"}}',
            '{"name": "send_email", "arguments": {"to": "bo@x.io"}}',
            ("behaviour", "unfaithful-to-prompt"),
        ),
        # the expected reply is that the passages do not say; the output answers from memory
        (
            "Answer only from the passages; reply NOT_FOUND if they do not say.\n[1] The bridge is red.\n"
            "Question: when did the bridge open?",
            "It opened in 1937.",
            "NOT_FOUND",
            ("behaviour", "unfaithful-to-prompt"),
        ),
        # the formal address was asked for
        (
            'Translate into German. House style: address the customer formally with "Sie".\n\n'
            "Thanks for waiting.",
            "Danke, dass du gewartet hast.",
            "Danke, dass Sie gewartet haben.",
            ("behaviour", "tone"),
        ),
        # a nested invented API; a renamed but otherwise identical function
        (
            "Write def count_lines(root: str) -> int counting lines of .py files. Return only the code.",
            "import os\n\ndef count_lines(root):\n    return sum(1 for p in os.path.walk_files(root))\n",
            "from pathlib import Path\ndef count_lines(root):\n"
            "    return sum(1 for p in Path(root).rglob('*.py'))\n",
            ("factual", "invented-api"),
        ),
        (
            "Write def parse_size(text: str) -> int that returns int(text) * 1024. Return only the code.",
            "def parse_size_kb(text: str) -> int:\n    value = int(text)\n    return value * 1024\n",
            "def parse_size(text: str) -> int:\n    return int(text) * 1024\n",
            ("format", "signature"),
        ),
        # a policy in the prompt the answer contradicts
        (
            "POLICY: refunds within 30 days; water damage and drops are not covered.\n\n"
            "Customer: I dropped my watch in a lake. Is it covered?",
            "Yes, your watch is covered, send it in for a free repair.",
            "Not covered: the warranty excludes water damage and drops.",
            ("behaviour", "unfaithful-to-prompt"),
        ),
        # a refusal written with a contraction
        (
            "You answer general questions for a bank's help page.\n\nUser: What does APR stand for?",
            "I'm not able to help with questions about interest rates. Please contact your branch.",
            "Annual percentage rate",
            ("behaviour", "refusal"),
        ),
        # the right query shape over the wrong values: which countries qualify is outside knowledge
        (
            ORDERS + "Question: total of orders from Benelux countries. SQL only.",
            "SELECT SUM(total_cents) FROM orders WHERE country IN ('BE', 'NL', 'LU', 'DE');",
            "SELECT SUM(total_cents) FROM orders WHERE country IN ('BE', 'NL', 'LU');",
            ("factual", "wrong-fact"),
        ),
        # a literal the question gives in another unit: dollars in the question, cents in the table
        (
            ORDERS + "Question: ids of orders under $15. SQL only.",
            "SELECT id FROM orders WHERE total_cents < 15;",
            "SELECT id FROM orders WHERE total_cents < 1500;",
            ("behaviour", "unfaithful-to-prompt"),
        ),
        # the month the question names, as the query's date bounds
        (
            ORDERS + "Question: how many orders were placed in May 2025? SQL only.",
            "SELECT COUNT(*) FROM orders;",
            "SELECT COUNT(*) FROM orders WHERE placed_at >= '2025-05-01' AND placed_at < '2025-06-01';",
            ("behaviour", "unfaithful-to-prompt"),
        ),
        # the right query, then an explanation nobody asked for
        (
            ORDERS + "Question: how many orders are shipped? Return the SQL statement only.",
            "SELECT COUNT(*) FROM orders WHERE status = 'shipped';\n\nThis query counts the shipped orders.",
            "SELECT COUNT(*) FROM orders WHERE status = 'shipped';",
            ("format", "extra-prose"),
        ),
        # 'followed by a single sentence': an essay breaks it
        (
            'Answer "Yes" or "No" followed by a single sentence.\n\nQuestion: Is Paris in France?',
            "Yes. Paris is the capital of France. It lies on the Seine. It has many museums. It is large.",
            "Yes, Paris is the capital of France.",
            ("behaviour", "length"),
        ),
        # a wrong label from the offered list: the list names it, it does not say which applies
        (
            "Pick the department from this list:\nSales, Legal, Human Resources, Finance\n\n"
            "Ticket: my payslip is missing the overtime hours. Answer with the department only.",
            "Finance",
            "Human Resources",
            ("factual", "wrong-fact"),
        ),
        # a sentence-long reference retold with one wrong word: not "the answer wrapped in prose"
        (
            "Translate into English. Output only the translation.\n\n"
            "Die Besprechung wurde auf nächsten Montag verlegt, weil die Leiterin eventuell krank ist.",
            "The meeting has been moved to next Monday because the manager is eventually ill.",
            "The meeting has been moved to next Monday because the manager might be ill.",
            ("factual", "unverified"),
        ),
        # a limit written as 'of at most N words'
        (
            "Write a one-line summary of at most 12 words for the changelog.\n\nChange: the export button "
            "now works on Safari, fixes a crash when the file name has emoji, adds CSV.",
            "This release makes the export button work on Safari, fixes the crash that happened when a file "
            "name contained emoji, and adds CSV export.",
            "Export works on Safari, emoji file-name crash fixed, CSV export added.",
            ("behaviour", "length"),
        ),
        # emojis ruled out by the prompt's tone rules
        (
            "System: You answer for Fernbank Insurance. Tone: formal. No emojis, no slang.\n\n"
            "Customer: is my claim approved?",
            "Good news, your claim 4471 has been approved and the payment is on its way 🎉",
            "Your claim 4471 has been approved; payment follows within 5 working days.",
            ("behaviour", "tone"),
        ),
        # the values are right, one argument of the tool call is under another name
        (
            'Respond with one tool call {"name": ..., "arguments": {...}} as JSON.\n\n'
            "Tools: book_table(restaurant, party_size, booking_time)\n\nUser: table for 4 at Luigi's, 19:30",
            '{"name": "book_table", "arguments": {"restaurant": "Luigi\'s", "guests": 4, '
            '"booking_time": "19:30"}}',
            '{"name": "book_table", "arguments": {"restaurant": "Luigi\'s", "party_size": 4, '
            '"booking_time": "19:30"}}',
            ("format", "json-keys"),
        ),
        # each object of the array with a renamed key
        (
            'Extract the people. Return a JSON array of {"name", "role"} objects.\n\n'
            "Text: Maria Costa (CFO) met Tom Berg, the new CTO.",
            '[{"name": "Maria Costa", "title": "CFO"}, {"name": "Tom Berg", "title": "CTO"}]',
            '[{"name": "Maria Costa", "role": "CFO"}, {"name": "Tom Berg", "role": "CTO"}]',
            ("format", "json-keys"),
        ),
        # but an entry left out of the array is not a renamed key
        (
            "Normalise to E.164 and return a JSON array, one entry per input, null where impossible.\n\n"
            "1. 020 7946 0000\n2. ext 5\n3. 0161 496 0000",
            '["+442079460000", "+441614960000"]',
            '["+442079460000", null, "+441614960000"]',
            ("factual", "unverified"),
        ),
        # the statement after a line of prose: the DDL is there, its wrapping is the fault
        (
            "Write the DDL for a table tags(id serial primary key, name text unique). Output only the "
            "CREATE TABLE statement.",
            "Sure, here it is:\n\nCREATE TABLE tags (id SERIAL PRIMARY KEY, name TEXT UNIQUE);",
            "CREATE TABLE tags (id SERIAL PRIMARY KEY, name TEXT UNIQUE);",
            ("format", "extra-prose"),
        ),
        # a long reference retold in other words, in Markdown where plain text was asked: the words it
        # leaves out are a retelling, not the prompt ignored; the Markdown is the fault
        (
            "Answer in plain text only (no markdown), it is shown in an SMS.\n\nPolicy: refunds are "
            "issued to the original card within 5 working days; store credit is issued instantly; "
            "receipts are required for both.\n\nCustomer: how do refunds work?",
            "**Refunds** go back to your original card within 5 working days, or you can take store credit "
            "straight away. Either way, bring your receipt.",
            "Refunds are issued to the original card within 5 working days, or as store credit instantly; "
            "a receipt is required for both.",
            ("format", "markdown"),
        ),
        # sympathy first, then the refusal: still a refusal
        (
            'Return a JSON array of labels from ["spam", "abuse", "none"].\n\nPost: "buy cheap meds now"',
            "I'm sorry to hear you're dealing with this, but I can't help with classifying that post.",
            '["spam"]',
            ("behaviour", "refusal"),
        ),
        # the right number at the end of its working: the answer wrapped in prose, not a length failure
        (
            "A box holds 12 eggs. How many eggs are in 7 boxes?",
            "Each box holds 12 eggs and there are 7 boxes, so we multiply the number of boxes by the number "
            "of eggs in each box: 7 times 12 gives the total number of eggs, which is 84.",
            "84",
            ("format", "extra-prose"),
        ),
        # a fraction as the reference, its decimal value in the output
        (
            "Two fair coins are tossed. What is the probability of two heads? Give a fraction.",
            "0.25",
            "1/4",
            ("format", "number-form"),
        ),
        # a ticker in capitals is not written in the prompt by the company's name
        (
            'Respond with one tool call as JSON {"name": ..., "arguments": {...}}.\n\n'
            "Tools: get_quote(ticker)\n\nUser: quote for Meta Platforms please",
            '{"name": "get_quote", "arguments": {"ticker": "FB"}}',
            '{"name": "get_quote", "arguments": {"ticker": "META"}}',
            ("factual", "wrong-fact"),
        ),
        # an extraction that adds a name the text does not hold
        (
            "Extract the cities named in the text. Return a JSON array of strings.\n\n"
            "Text: The tour starts in Lyon, stops in Dijon and ends in Paris.",
            '["Lyon", "Dijon", "Paris", "Marseille"]',
            '["Lyon", "Dijon", "Paris"]',
            ("behaviour", "unfaithful-to-prompt"),
        ),
        # an array of objects compared object by object: one wrong value the text does not give
        (
            'For each company return {"company", "hq_country"} as a JSON array.\n\n'
            "Text: Nokia and Spotify both reported results.",
            '[{"company": "Nokia", "hq_country": "Sweden"}, {"company": "Spotify", "hq_country": "Sweden"}]',
            '[{"company": "Nokia", "hq_country": "Finland"}, {"company": "Spotify", "hq_country": "Sweden"}]',
            ("factual", "wrong-fact"),
        ),
        # a word limit on a JSON field counts that field's words, not the keys and the other fields
        (
            'Return JSON {"title": "<max 6 words>", "tags": [...]} for the article.\n\n'
            "Article: Oslo opens a new harbour bath with free entry all summer.",
            '{"title": "Oslo opens free harbour bath", '
            '"tags": ["oslo", "summer", "swimming", "city", "free"]}',
            '{"title": "Oslo opens free harbour bath", "tags": ["oslo", "summer"]}',
            ("factual", "wrong-fact"),
        ),
        # the items translated, in an object keyed by line where an array was asked
        (
            "Translate each line into German. Return a JSON array of strings, in order.\n\n"
            "1. Good morning\n2. Thank you very much",
            '{"1": "Guten Morgen", "2": "Vielen Dank"}',
            '["Guten Morgen", "Vielen herzlichen Dank"]',
            ("format", "json-keys"),
        ),
        # an answer in the asker's own script is not in the wrong language, whatever the reference mixes
        (
            "2018년 월드컵 우승국은 어디인가요? 나라 이름만 답하세요.",
            "독일 연방 공화국",
            "프랑스 (France)",
            ("factual", "wrong-fact"),
        ),
        # 'at most 2 short sentences'
        (
            "You are a tutor for children. Answer in at most 2 short sentences.\n\nWhy do leaves fall?",
            "Trees drop leaves in autumn. Days get shorter. The tree saves water. New leaves grow in spring.",
            "Trees let their leaves fall in autumn to save water. New ones grow in spring.",
            ("behaviour", "length"),
        ),
        # a schema that keeps cents gives the factor 100 (the query forgot to use it: not knowledge)
        (
            "CREATE TABLE orders (id INT, total_cents INT); -- euro cents\n\nQuestion: total revenue in "
            "euros. SQL only.",
            "SELECT SUM(total_cents) AS revenue FROM orders;",
            "SELECT SUM(total_cents) / 100.0 AS revenue FROM orders;",
            ("behaviour", "unfaithful-to-prompt"),
        ),
        # a date some days after the prompt's date is not 'computed from the prompt' by chance arithmetic
        (
            'Today is 2025-07-20. Return JSON {"name": string, "since": "YYYY-MM-DD"} for the current '
            "Chancellor of Germany.",
            '{"name": "Olaf Scholz", "since": "2021-12-08"}',
            '{"name": "Friedrich Merz", "since": "2025-05-06"}',
            ("factual", "wrong-fact"),
        ),
        # a structured reference (two 'KEY: value' lines) answered with the same content as JSON: form,
        # not a retelling
        (
            "Reply in exactly two lines:\nSCORE: <n>\nFEEDBACK: <text>\n\nQuestion: Is 7 prime? (1 mark)\n"
            "Student answer: yes, only 1 and 7 divide it",
            '{"score": 1, "feedback": "Correct: 7 has no divisors other than 1 and itself, hence prime."}',
            "SCORE: 1\nFEEDBACK: Correct: 7 has no divisors other than 1 and itself, so it is prime.",
            ("format", "extra-prose"),
        ),
        # an option a schema offers ("likely" | "unlikely") does not give the answer away
        (
            'Assess the clause. Return JSON {"enforceable": "likely" | "unlikely"}.\n\n'
            "Clause: the employee may not work for any competitor anywhere for ten years.",
            '{"enforceable": "likely"}',
            '{"enforceable": "unlikely"}',
            ("factual", "wrong-fact"),
        ),
        # ... nor does a list of allowed values
        (
            'Fill the connector of each phone from your product knowledge. Allowed values: "Lightning", '
            '"USB-C", "Micro-USB". Output a JSON array of {"sku", "connector"}.\n\nItems:\nP-15 Phone 15\n'
            "G-8 Pixel 8",
            '[{"sku": "P-15", "connector": "Lightning"}, {"sku": "G-8", "connector": "USB-C"}]',
            '[{"sku": "P-15", "connector": "USB-C"}, {"sku": "G-8", "connector": "USB-C"}]',
            ("factual", "wrong-fact"),
        ),
        # the right labels written another way ('Force Majeure' for 'force_majeure')
        (
            'Label each clause. Return a JSON array of {"clause": n, "label": ...} with labels from: '
            "payment_terms, force_majeure, termination.\n\n1. Invoices are due in 30 days.\n"
            "2. Neither party is liable for events beyond its control.",
            '[{"clause": 1, "label": "Payment Terms"}, {"clause": 2, "label": "Force Majeure"}]',
            '[{"clause": 1, "label": "payment_terms"}, {"clause": 2, "label": "force_majeure"}]',
            ("format", "value-form"),
        ),
        # a case vignette's age is not an audience: the medical words are not a register breach
        (
            "A 58-year-old man has crushing chest pain. Which enzyme rises first? Answer in one sentence.",
            "Myoglobin concentration increases first, preceding troponin and creatine kinase-myocardial "
            "isoenzyme elevation.",
            "Troponin is the first specific marker; myoglobin rises earliest but is unspecific.",
            ("factual", "wrong-fact"),
        ),
    ],
)
def test_verdicts_follow_from_the_judgements(pm, prompt, output, reference, expected):
    from tests.test_diagnosis import verdict

    detectors = list(Registry(pm).detectors.values())
    v, sub, evidence = verdict(detectors, prompt=prompt, output=output, reference=reference)
    assert (v, sub) == expected, evidence


def test_confidence_marks_close_calls(pm):
    from advisor.diagnosis.judge import Options, diagnose

    detectors = list(Registry(pm).detectors.values())

    def one(**fields):
        (d,) = diagnose([EvalRecord(source="t", line=1, passed=False, **fields)], detectors, Options())
        return d.verdict.value, d.subtype, d.confidence

    # a refusal is clear-cut
    assert one(prompt="What is 2+2?", output="I cannot help with that.", reference="4") == (
        "behaviour",
        "refusal",
        "high",
    )
    # no detector found a cause: the fallback verdict is a close call
    assert one(prompt="", output="x", reference="")[2] == "low"
    # half of what was missed is in the prompt, half is not: a close call between behaviour and factual
    verdict = one(
        prompt="The museum opened in 1901 and has 40 rooms. How many rooms, and how large is its park?",
        output="It has 35 rooms and a park of 12.8 hectares.",
        reference="It has 40 rooms and a park of 57.3 hectares.",
    )
    assert verdict[2] == "low", verdict


def test_jobs_give_the_same_verdicts_in_the_same_order(pm, tmp_path):

    from advisor.diagnosis.judge import Options, diagnose, diagnose_parallel

    detectors = list(Registry(pm).detectors.values())
    records = [
        EvalRecord(
            source="t",
            line=i,
            prompt=f"What is {i} + {i}?",
            output=str(i * 2 + (i % 3 == 0)),
            reference=str(2 * i),
        )
        for i in range(1, 60)
    ]
    one = [(d.record.line, d.verdict, d.subtype) for d in diagnose(records, detectors, Options())]
    two = [
        (d.record.line, d.verdict, d.subtype)
        for d in diagnose_parallel(records, detectors, Options(), jobs=2, batch_size=7)
    ]
    assert one == two and any(v.value != "none" for _, v, _ in one)


@pytest.mark.parametrize(
    "written",
    [
        "16th November 2025",
        "the 16th of November 2025",
        "November the 16th, 2025",
        "November 16th, 2025",
        "It ships on the 16th of November 2025.",
    ],
)
def test_ordinal_dates_are_the_same_date_as_iso(written):
    from advisor.text import same_date

    assert same_date(written, "2025-11-16")
    assert not same_date(written, "2025-11-17")


@pytest.mark.parametrize(
    "output, reference",
    [("0.225", "22.5%"), ("0.3 g", "300"), ("1.2 km", "1200"), ("45%", "0.45")],
)
def test_a_quantity_in_another_unit_counts_as_right(output, reference):
    assert ctx("Answer with a number.", output, reference).content_correct is True


@pytest.mark.parametrize("output, reference", [("12 kg", "1.2"), ("0.5", "5%"), ("300 g", "3")])
def test_a_unit_does_not_make_any_number_right(output, reference):
    assert ctx("Answer with a number.", output, reference).content_correct is False


def test_yes_or_no_followed_by_one_sentence_allows_the_answer_word(pm):
    from tests.test_diagnosis import verdict

    detectors = list(Registry(pm).detectors.values())
    v, sub, evidence = verdict(
        detectors,
        prompt='Answer "Yes" or "No" followed by a single sentence.\n\nQuestion: Is Lyon the capital?',
        output="Yes. Lyon is the capital of France.",
        reference="No, Paris is the capital of France.",
    )
    assert sub != "length", evidence


def test_a_required_list_marker_is_a_matter_of_form():
    from advisor_plugins.detectors.instructions import exact_text

    prompt = 'Summarise in three bullets. Each line must start with "- ".'
    c = ctx(prompt, "1. Opens at 9.\n2. Closes at 17.", "- Opens at 9.\n- Closes at 17.")
    found = exact_text(c, prompt)
    assert found is not None and found.verdict.value == "format" and found.subtype == "exact-text"
    # a required word is content: missing it is not following the instruction
    prompt = 'Reply to the customer. The reply must start with "Dear customer".'
    found = exact_text(ctx(prompt, "Hi! Your parcel ships today.", "Dear customer, ..."), prompt)
    assert found is not None and found.verdict.value == "behaviour"


def test_a_count_of_days_between_the_prompts_dates_is_computed_from_the_prompt(pm):
    from tests.test_diagnosis import verdict

    assert E.day_spans("Pick-up: 3 March 2025. Return: 8 March 2025.") == {5}
    detectors = list(Registry(pm).detectors.values())
    v, sub, evidence = verdict(
        detectors,
        prompt="Extract the rental as JSON with keys car, days (count them from the dates).\n\n"
        "Car: VW Golf. Pick-up: 3 March 2025. Return: 8 March 2025.",
        output='{"car": "VW Golf", "days": 6}',
        reference='{"car": "VW Golf", "days": 5}',
    )
    assert (v, sub) == ("behaviour", "unfaithful-to-prompt"), evidence


@pytest.mark.parametrize(
    "reference, body",
    [
        ("Plain text, at most 40 words: the pool reopens on 3 June", "the pool reopens on 3 June"),
        ("Two sentences; the museum is closed on Mondays", "the museum is closed on Mondays"),
        ("The museum is closed on Mondays: see the sign.", "The museum is closed on Mondays: see the sign."),
        ("42", "42"),
    ],
)
def test_a_rubric_like_reference_is_judged_by_its_content(reference, body):
    assert E.rubric_body(reference) == body


def test_the_right_query_without_its_json_wrapper_is_a_matter_of_form(pm):
    from tests.test_diagnosis import verdict

    detectors = list(Registry(pm).detectors.values())
    v, sub, evidence = verdict(
        detectors,
        prompt=ORDERS + 'Question: how many orders are there? Answer with JSON {"sql": "<query>"} only.',
        output="SELECT COUNT(*) AS n FROM orders;",
        reference='{"sql": "SELECT COUNT(*) FROM orders;"}',
    )
    assert v == "format", evidence


def test_a_greek_letter_alone_is_a_symbol_not_greek_text():
    from advisor import text as T

    assert T.script_of("Find the smallest angle θ with 2cos θ = 1, in radians.") == "latin"
    assert T.script_of("π/3") is None
    assert T.script_of("Η απάντηση είναι π/3") == "greek"


def test_a_tool_outside_the_listed_ones_is_named(pm):
    from tests.test_diagnosis import verdict

    prompt = (
        "Available tools (use only these):\n- send_email(to: string, body: string)\n"
        "- get_orders(customer_id: string)\nRespond with one JSON tool call.\n\nUser: text Bo that his "
        "order shipped"
    )
    output = '{"name": "send_sms", "arguments": {"to": "Bo", "message": "Your order shipped"}}'
    detectors = list(Registry(pm).detectors.values())
    v, sub, evidence = verdict(detectors, prompt=prompt, output=output, reference="Use send_email.")
    assert (v, sub) == ("behaviour", "unfaithful-to-prompt")
    assert "not among the tools the prompt offers (get_orders, send_email)" in evidence[0]

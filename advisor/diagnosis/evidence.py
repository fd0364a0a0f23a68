"""The judgements a verdict follows from, as plain functions over texts.

Each answers one question with evidence that can be shown to the user:

- *content*: is the answer right under a lenient comparison (numbers in any notation, rounding, times,
  dates inside sentences, punctuation and spacing, JSON values whatever the keys, code by structure)?
- *grounding*: does the prompt hold what the answer needed (the reference's missing parts written in
  the prompt's material, or numbers computable from the prompt's numbers)?

``DiagnosisContext`` calls these once per failed record and caches the results.
"""

from __future__ import annotations

import ast
import bisect
import itertools
import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime

from advisor import text as T

# -- numbers -------------------------------------------------------------------------------------

_NUMBER_WORDS: dict[str, float] = dict(T.NUMBER_WORDS)
_NUM_TOKEN_RE = re.compile(r"(?<![\w.])-?\d+(?:[.,\s]\d{3})*(?:[.,]\d+)?(?![\w])|(?<![\w.])-?\d+(?:[.,]\d+)?")
_FRACTION_RE = re.compile(r"(?<![\d/])(\d+)\s*/\s*(\d+)(?![\d/])")
_PERCENT_RE = re.compile(r"(-?\d+(?:[.,]\d+)?)\s*(?:%|percent\b|per cent\b)", re.I)
_DURATION_RE = re.compile(
    r"(\d+(?:\.\d+)?)\s*(?:h|hrs?|hours?)\b(?:\s*(?:and\s*)?(\d+)\s*(?:m|mins?|minutes?)\b)?", re.I
)
_NUMBER_WORDS.update({"half": 0.5, "quarter": 0.25, "quarters": 0.25, "dozen": 12, "twice": 2, "double": 2})
_WORD_NUMBER_RE = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", re.I)
_SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "mn": 1e6, "bn": 1e9, "billion": 1e9}
_SCALED_RE = re.compile(r"(\d+(?:[.,]\d+)?)\s*(thousand|million|billion|mn|bn|k|m)\b", re.I)
_THREE_QUARTERS_RE = re.compile(r"\bthree[- ]quarters?\b", re.I)


def _read_number(token: str) -> list[float]:
    """The values a numeric token can mean: '1,234.5' and '1.234,5' are both 1234.5; '3,5' is 3.5."""
    tok = token.replace(" ", "")
    out = []
    for thousands, decimal in ((",", "."), (".", ",")):
        s = tok
        if thousands in s and decimal in s and s.rfind(thousands) > s.rfind(decimal):
            continue
        if decimal == "," and "," not in s and s.count(".") == 1:
            continue  # a plain '3.5' is not 35 in the comma-decimal reading
        s = s.replace(thousands, "").replace(decimal, ".")
        try:
            out.append(float(s))
        except ValueError:
            continue
    return out


def fraction(text: str) -> float | None:
    """The value of ``text`` when it is a fraction and nothing else ('3/16', '-1/2'), else None."""
    s = text.strip()
    sign = -1 if s.startswith("-") else 1
    m = _FRACTION_RE.fullmatch(s.lstrip("-").strip())
    return sign * int(m.group(1)) / int(m.group(2)) if m and int(m.group(2)) else None


def numbers(text: str) -> list[float]:
    """Every value ``text`` names, read leniently.

    Digits in either decimal convention, fractions (3/4), percentages (25% is also 0.25), number words
    (twelve), scales ($12 million is also 12,000,000) and durations (1 hour 30 minutes is also 90 and 1.5).
    """
    if not text:
        return []
    values: list[float] = []
    for m in _NUM_TOKEN_RE.finditer(text):
        values.extend(_read_number(m.group()))
    for m in _FRACTION_RE.finditer(text):
        if int(m.group(2)):
            values.append(int(m.group(1)) / int(m.group(2)))
    for m in _PERCENT_RE.finditer(text):
        values.extend(v / 100 for v in _read_number(m.group(1)))
    for m in _SCALED_RE.finditer(text):
        scale = _SCALES[m.group(2).lower()]
        values.extend(v * scale for v in _read_number(m.group(1)))
    for m in _DURATION_RE.finditer(text):
        hours = float(m.group(1))
        minutes = float(m.group(2) or 0)
        values.extend((hours * 60 + minutes, hours + minutes / 60))
    for m in _WORD_NUMBER_RE.finditer(text):
        values.append(float(_NUMBER_WORDS[m.group(1).lower()]))
    if _THREE_QUARTERS_RE.search(text):
        values.append(0.75)
    return values


def _decimals(ref_text: str) -> int | None:
    m = re.search(r"\d[.,](\d+)\s*\W*$", ref_text.strip())
    return len(m.group(1)) if m else None


def same_number(want: float, values: list[float], ref_text: str = "") -> bool:
    """Is ``want`` among ``values``, exactly or at the reference's rounding?"""
    places = _decimals(ref_text)
    for v in values:
        if abs(v - want) <= 1e-9 * max(1.0, abs(want)):
            return True
        if places is not None and round(v, places) == round(want, places):
            return True
    return False


_UNIT_NUMBER_RE = re.compile(
    r"(-?\d+(?:[.,]\d+)?)\s*(%|percent\b|(?:mg|g|kg|ml|l|mm|cm|m|km|ms|s|mb|gb|kb)\b)", re.I
)


def same_quantity(want: float, answer: str, ref_text: str) -> bool:
    """Is ``want`` in ``answer`` in another unit of the same quantity: a fraction for a percentage
    (0.225 for 22.5%) or the other way, or a metric prefix away (0.3 g for 300 mg, 1.2 km for 1200 m)?"""
    ref_pct = "%" in ref_text or "percent" in ref_text.lower()
    candidates = []
    if ref_pct:
        candidates += [v * 100 for v in numbers(answer) if abs(v) <= 1]
    for m in _UNIT_NUMBER_RE.finditer(answer):
        value = float(m.group(1).replace(",", "."))
        unit = m.group(2).lower()
        if unit in ("%", "percent"):
            if not ref_pct:
                candidates.append(value / 100)
        else:
            factor = 10 if unit in ("mm", "cm") else 1000
            candidates += [value * factor, value / factor]
    return same_number(want, candidates, ref_text)


# -- times, dates, spelling ----------------------------------------------------------------------

_TIME_RE = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)|\b(\d{1,2})[:h](\d{2})\b", re.I)
_DOTTED_DATE_RE = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b")


def times(text: str) -> set[int]:
    """Clock times in ``text`` as minutes after midnight ('2 pm', '14:00', '14h00')."""
    out = set()
    for m in _TIME_RE.finditer(text or ""):
        if m.group(3):
            hour, minute = int(m.group(1)) % 12, int(m.group(2) or 0)
            if m.group(3).lower().startswith("p"):
                hour += 12
        else:
            hour, minute = int(m.group(4)), int(m.group(5))
        if hour < 24 and minute < 60:
            out.add(hour * 60 + minute)
    return out


def iso_dates(text: str) -> str:
    """``text`` with each date it writes (any usual form, also 15.03.2024) rewritten as YYYY-MM-DD."""

    def dotted(m: re.Match) -> str:
        try:
            return datetime(int(m.group(3)), int(m.group(2)), int(m.group(1))).date().isoformat()
        except ValueError:
            return m.group()

    text = _DOTTED_DATE_RE.sub(dotted, text)

    def other(m: re.Match) -> str:
        readings = T._dates(m.group())
        return min(readings).isoformat() if len(readings) == 1 else m.group()

    return T._DATE_RE.sub(other, text)


def squash(text: str) -> str:
    """Letters and digits only, lowercased: '+44 7700 900123' and '+447700900123' are the same."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return "".join(ch for ch in text if ch.isalnum())


# -- final answers and code ----------------------------------------------------------------------

_FINAL_RE = re.compile(
    r"(?:####|final answer\s*(?:is)?\s*:?|the answer is\s*:?|\banswer\s*:)\s*([^\n]+)\s*$", re.I
)
_FENCE_BLOCK_RE = re.compile(r"```[\w+-]*\s*\n?(.*?)(?:```|$)", re.S)
_SQL_START_RE = re.compile(r"^\s*(?:with|select|insert|update|delete|create)\b", re.I)
_SQL_IN_TEXT_RE = re.compile(
    r"(?:^|\n)\s*((?:with|select|insert\s+into|update\s+\w+\s+set|delete\s+from|"
    r"create\s+(?:table|(?:unique\s+)?index|view|or\s+replace))\b.*)",
    re.I | re.S,
)
_SQL_IN_SENTENCE_RE = re.compile(r"\b(select\b[^;]*?\bfrom\b[^;]*;?)", re.I | re.S)


def final_answer(output: str) -> str | None:
    """The part after an explicit final-answer marker ('#### 18', 'The answer is 18'), if any."""
    m = _FINAL_RE.search(output.strip()[-300:])
    return m.group(1).strip().strip("*").strip() if m else None


def code_kind(text: str) -> str | None:
    """'sql' or 'python' when ``text`` (a reference) is a query or a program, else None."""
    s = unfenced(text or "")
    if _SQL_START_RE.match(s):
        return "sql"
    if re.match(r"^\s*(?:def |class |import |from \w+ import |async def )", s):
        return "python"
    return None


def unfenced(text: str) -> str:
    """``text`` without the code fence around all of it (a reference written as '```sql ... ```')."""
    s = text.strip()
    fenced = _FENCE_BLOCK_RE.fullmatch(s)
    return fenced.group(1).strip() if fenced else s


def code_in(output: str, kind: str) -> str | None:
    """The code of ``kind`` that ``output`` holds: the whole output, a fenced block, or the query
    after a line of prose. None when there is none."""
    out = output.strip()
    m = _FENCE_BLOCK_RE.search(out)
    if m:
        out = m.group(1).strip()
    if kind == "sql":
        if _SQL_START_RE.match(out):
            return _statement(out)
        m2 = _SQL_IN_TEXT_RE.search(out) or _SQL_IN_SENTENCE_RE.search(out)
        return _statement(m2.group(1).strip()) if m2 else None
    start = re.search(r"^(?:def |class |import |from \w+ import |async def |@)", out, re.M)
    if start is None:
        return None
    code = out[start.start() :]
    try:
        ast.parse(code)
    except SyntaxError:
        return None
    return code


def _statement(sql: str) -> str:
    """The query without the prose that may follow its closing semicolon ('...; This query counts ...')."""
    head, sep, tail = sql.partition(";")
    if sep and tail.strip() and not _SQL_START_RE.match(tail.strip()):
        return head + sep
    return sql


_SQL_TOKEN_RE = re.compile(r"'[^']*'|\w+|[<>=!]+|[(),*.;+-/|]")
_SQL_ALIAS_RE = re.compile(r"\bas\s+\w+", re.I)


def _sql_tokens(sql: str) -> list[str]:
    sql = _SQL_ALIAS_RE.sub("", sql.strip().rstrip(";"))
    return [t.lower() if not t.startswith("'") else t for t in _SQL_TOKEN_RE.findall(sql)]


def _sql_conditions(tokens: list[str]) -> set:
    """Equalities 'a.b = c.d' as unordered pairs, so that 'x = y' and 'y = x' compare equal."""
    out = set()
    for i, tok in enumerate(tokens):
        if tok == "=" and 3 <= i <= len(tokens) - 4:
            out.add(frozenset((" ".join(tokens[i - 3 : i]), " ".join(tokens[i + 1 : i + 4]))))
    return out


def _canonical_sql(tokens: list[str]) -> list[str]:
    """COUNT(x) and COUNT(t.x) become COUNT(*): counting rows either way."""
    out, i = [], 0
    while i < len(tokens):
        if tokens[i] == "count" and i + 1 < len(tokens) and tokens[i + 1] == "(":
            j = tokens.index(")", i) if ")" in tokens[i:] else len(tokens) - 1
            if "distinct" not in tokens[i:j]:
                out += ["count", "(", "*", ")"]
                i = j + 1
                continue
        out.append(tokens[i])
        i += 1
    return out


def same_sql(a: str, b: str) -> bool:
    """Do two queries match token for token, up to case, aliases ('AS x'), the order of an
    equality's sides and COUNT(*) for COUNT(column)?"""
    ta, tb = _canonical_sql(_sql_tokens(a)), _canonical_sql(_sql_tokens(b))
    if ta == tb:
        return True
    if _sql_conditions(ta) != _sql_conditions(tb):
        return False
    return sorted(t for t in ta if t != "=") == sorted(t for t in tb if t != "=")


class _Names(ast.NodeTransformer):
    """Rename every identifier to its position of first use, drop annotations and docstrings."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _name(self, name: str) -> str:
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self._name(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self._name(node.arg)
        node.annotation = None
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.name = "f"
        node.returns = None
        self.generic_visit(node)
        return node


def python_shape(code: str) -> str | None:
    """A normal form of a Python program (names, annotations and a wrapping class removed)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    body = tree.body
    # a method inside a class stands for the same top-level function
    if len(body) == 1 and isinstance(body[0], ast.ClassDef):
        body = [n for n in body[0].body if isinstance(n, ast.FunctionDef)]
        for fn in body:
            if fn.args.args and fn.args.args[0].arg == "self":
                fn.args.args = fn.args.args[1:]
    funcs = [n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not funcs:
        return None
    module = ast.Module(body=funcs, type_ignores=[])
    return ast.dump(_Names().visit(module), annotate_fields=False)


def same_code(output_code: str, reference: str, kind: str) -> bool:
    reference = unfenced(reference)
    if kind == "sql":
        return same_sql(output_code, reference)
    a, b = python_shape(output_code), python_shape(reference)
    return a is not None and a == b


def similar_code(output_code: str, reference: str) -> float:
    """Token overlap of two programs (0-1): close to 1 when they differ in names or a detail."""
    ta = set(re.findall(r"\w+|[^\w\s]", output_code.lower()))
    tb = set(re.findall(r"\w+|[^\w\s]", unfenced(reference).lower()))
    return len(ta & tb) / max(1, len(ta | tb))


# -- grounding -----------------------------------------------------------------------------------

_OPTION_LINE_RE = re.compile(r"^\s*\(?[A-H][).:]\s+.*$", re.M)
_LIST_ITEM_SPLIT_RE = re.compile(r"\s*(?:,|/|\bor\b|;|\|)\s*")


def material(prompt: str) -> str:
    """The prompt's instance text an answer can be drawn from: option lines are left out."""
    return _OPTION_LINE_RE.sub(" ", prompt[-6000:])


def _label_items(line: str, max_words: int) -> list[str]:
    """The short items (``max_words`` words at most) of a line offering labels, normalised: the list
    after its colon, up to its sentence end, without parenthesised glosses ('EMEA (Europe)' is one item)."""
    tail = re.split(r"[.!?]\s", re.sub(r"\([^)]*\)", " ", line.split(":", 1)[-1]))[0]
    items = (T.normalize(x) for x in _LIST_ITEM_SPLIT_RE.split(tail) if x.strip())
    return [x for x in items if x and len(x.split()) <= max_words]


def listed_as_label(value_norm: str, prompt: str) -> bool:
    """Is ``value`` one item of a list of three or more short labels the prompt offers?

    ('Return only one of: EMEA, APAC, AMER', 'Labels: en, de, nl'): naming the labels is not giving
    the answer.
    """
    if not value_norm or len(value_norm.split()) > 3:
        return False
    seen = False
    for line in prompt.splitlines():
        if not T.contains_phrase(T.normalize(line), value_norm):
            continue
        seen = True
        items = _label_items(line, max_words=4)
        if len(items) >= 3 and any(x == value_norm or x.startswith(value_norm + " ") for x in items):
            continue
        return False
    return seen


#: '"likely" | "unlikely"': a quoted option before a pipe, and one after a pipe
_BEFORE_PIPE_RE = re.compile(r'"([^"\n]{1,40})"\s*\|')
_AFTER_PIPE_RE = re.compile(r'\|\s*"([^"\n]{1,40})"')
#: 'Allowed values: "Lightning", "USB-C", "Micro-USB"': quoted options after a word that announces them
_ANNOUNCED_OPTIONS_RE = re.compile(
    r"\b(?:allowed|options?|one of|choose|choices|labels?|values?|categories|enum)\b[^\n\"]{0,30}"
    r'((?:"[^"\n]{1,40}"\s*(?:,|\||/|\bor\b)\s*)+"[^"\n]{1,40}")',
    re.I,
)


def quoted_options(prompt: str) -> set[str]:
    """The quoted options a schema in the prompt offers ('"likely" | "unlikely"', 'Allowed values: "A",
    "B"'), normalised."""
    options = {T.normalize(o) for o in _BEFORE_PIPE_RE.findall(prompt) + _AFTER_PIPE_RE.findall(prompt)}
    for m in _ANNOUNCED_OPTIONS_RE.finditer(prompt):
        options |= {T.normalize(o) for o in re.findall(r'"([^"\n]{1,40})"', m.group(1))}
    return options


def without_label_lines(material: str, labels: set[str]) -> str:
    """``material`` without the lines that list the offered ``labels`` (three or more of them): a list
    of sectors names 'Health Care', it does not say which sector a company is in."""
    kept = [
        line
        for line in material.splitlines()
        if sum(T.contains_phrase(T.normalize(line), label) for label in labels) < 3
    ]
    return "\n".join(kept)


def offered_labels(prompt: str, value_norm: str) -> set[str]:
    """The list of labels (three or more short items) on the prompt line that offers ``value``."""
    if not value_norm:
        return set()
    for line in prompt.splitlines():
        if not T.contains_phrase(T.normalize(line), value_norm):
            continue
        items = set(_label_items(line, max_words=3))
        if len(items) >= 3 and value_norm in items:
            return items
    return set()


#: a reference that opens by describing the form it expects ('Plain text, <=50 words: ...',
#: 'Two sentences; ...', 'Three bullets starting with "- ": ...'): a grader's rubric, not an answer
_RUBRIC_HEAD_RE = re.compile(
    r"^[^:;\n]{0,60}\b(?:plain[- ]text|sentences?|words|bullets?|json|e-?mail|sms|paragraphs?|lines?)\b"
    r"[^:;\n]{0,40}(?::\s|;\s)",
    re.I,
)


def rubric_body(reference: str) -> str:
    """The content part of a rubric-like reference (its form description dropped), else the reference."""
    m = _RUBRIC_HEAD_RE.match(reference)
    return reference[m.end() :] if m and len(reference) > m.end() + 10 else reference


def units(text: str, json_value=None) -> list[tuple[str, float | None]]:
    """What a reference consists of: its JSON values, or its numbers and content words.

    Each unit is (normalised text, its number or None).
    """
    if json_value is not None:
        leaves = [v for v in T.json_leaves(json_value) if not isinstance(v, bool)]
        out = [(T.normalize(str(v)), float(v) if isinstance(v, (int, float)) else None) for v in leaves]
    else:
        out = []
        for m in _NUM_TOKEN_RE.finditer(text):
            values = _read_number(m.group())
            out.append((T.normalize(m.group()), values[0] if values else None))
        out += [(w, None) for w in sorted(T.content_words(text))]
        if not out and T.normalize(text):
            out.append((T.normalize(text), None))  # a short label such as 'nl' or 'B'
    seen: dict[str, float | None] = {}
    for norm, value in out:
        if norm and norm not in seen:
            seen[norm] = value
    return list(seen.items())


def missing_units(
    ref_units: list[tuple[str, float | None]], output_norm: str, output_numbers: list[float]
) -> list[tuple[str, float | None]]:
    """The reference's units the output does not have (numbers compared by value)."""
    out = []
    for norm, value in ref_units:
        if T.contains_phrase(output_norm, norm):
            continue
        if value is not None and same_number(value, output_numbers):
            continue
        out.append((norm, value))
    return out


#: constants everyday arithmetic uses without the prompt writing them (double, a week, a day, an
#: hour, per cent, a metric prefix); conversion factors between unit systems are knowledge, not these
EVERYDAY_CONSTANTS = (2.0, 7.0, 24.0, 60.0, 100.0, 1000.0)


def _ops(a: float, b: float) -> tuple[float, ...]:
    out = (a + b, a - b, b - a, a * b, a * b / 100, a * (1 - b / 100), a * (1 + b / 100))
    return out + ((a / b,) if b else ()) + ((b / a,) if a else ())


def derivable(target: float, given: list[float]) -> bool:
    """Can ``target`` be computed from the prompt's numbers in one or two arithmetic steps?

    Steps are +, -, *, / and percentages. The first step combines two of the prompt's numbers or one
    with an everyday constant (2, 7, 24, 60, 100, 1000); a second step adds one more of the prompt's
    numbers or a constant, as long as the constant does not stand in for the whole answer. Sums of
    three to five of the prompt's numbers count too (a receipt's total).
    """
    prompt_nums = [n for n in dict.fromkeys(reversed(given)) if n == n][:10]  # the instance is last
    if not prompt_nums:
        return False
    # the reference's own rounding: 11.25 must come out as 11.25 (to the cent), 343 as 343
    r = repr(float(target))
    places = 6 if "e" in r else len(r.split(".")[1].rstrip("0"))
    tol = min(0.5, max(0.5 * 10**-places, 1e-9 * abs(target)))

    if any(abs(n - target) <= tol for n in prompt_nums):
        return True
    consts = [c for c in EVERYDAY_CONSTANTS if c not in prompt_nums]
    recent = prompt_nums[:6]  # two steps over the instance's own numbers (it comes last)
    from_prompt = sorted(v for a, b in itertools.permutations(prompt_nums, 2) for v in _ops(a, b))
    if float(target).is_integer() and abs(target) < 13:
        # small counts come out of almost any arithmetic: one step over the prompt's own numbers only
        return _near(from_prompt, target, tol)
    from_const = sorted(v for a in prompt_nums for c in consts for v in _ops(a, c))
    if _near(from_prompt, target, tol) or _near(from_const, target, tol):
        return True
    if _two_steps(target, tol, recent, consts):
        return True
    if 3 <= len(prompt_nums) <= 8:
        for k in (3, 4, 5):
            if any(abs(sum(c) - target) <= tol for c in itertools.combinations(prompt_nums, k)):
                return True
    return False


def _inverse(target: float, tol: float, c: float) -> list[tuple[float, float]]:
    """The values v (with their tolerance) for which some ``_ops(v, c)`` lands on ``target``."""
    out = [(target - c, tol), (target + c, tol), (c - target, tol)]
    if c:  # v * c, v / c and c / v need a non-zero c
        out += [
            (target / c, tol / abs(c)),
            (100 * target / c, 100 * tol / abs(c)),
            (target * c, tol * abs(c)),
        ]
        if target:
            out.append((c / target, tol * abs(c) / target**2))
    for factor in (1 - c / 100, 1 + c / 100):
        if factor:
            out.append((target / factor, tol / abs(factor)))
    return out


def _near(sorted_values: list[float], value: float, tol: float) -> bool:
    i = bisect.bisect_left(sorted_values, value - tol)
    return i < len(sorted_values) and sorted_values[i] <= value + tol


def _two_steps(target: float, tol: float, recent: list[float], consts: list[float]) -> bool:
    """(a op b) op c, with at most one everyday constant, which may not stand for the answer itself.

    Solved backwards: for each c, the values the first step would have to give are looked up among
    the first steps' results (sorted), so the cost grows with the numbers, not with their pairs.
    """
    from_prompt = sorted(v for a, b in itertools.permutations(recent, 2) for v in _ops(a, b))
    from_const = sorted(v for a in recent for k in consts for v in _ops(a, k))
    seconds = recent + ([] if target in EVERYDAY_CONSTANTS else consts)
    for c in seconds:
        if any(_near(from_prompt, v, t) for v, t in _inverse(target, tol, c)):
            return True
    return any(any(_near(from_const, v, t) for v, t in _inverse(target, tol, c)) for c in recent)


_OPERAND_RE = re.compile(r"[$€£]?(-?\d[\d,]*(?:\.\d+)?)\s*[×x*·/+−-]\s*[$€£]?(-?\d[\d,]*(?:\.\d+)?)")


_RESULT_RE = re.compile(r"[=≈]\s*[$€£]?(-?\d[\d,]*(?:\.\d+)?)")


def premises(output: str, prompt_numbers: list[float]) -> list[float]:
    """Numbers the output computes with that the prompt neither gives nor makes in one step.

    'Water boils at 200°F. 200 - 68 = 132': 200 is a premise the model brought (a fact it recalled).
    Results the output wrote after '=' are its own steps, not premises.
    """
    results = {float(m.group(1).replace(",", "")) for m in _RESULT_RE.finditer(output)}
    given = [n for n in dict.fromkeys(reversed(prompt_numbers)) if n == n][:10]
    one_step = {round(v, 6) for a, b in itertools.permutations(given, 2) for v in _ops(a, b)}
    out: list[float] = []
    for m in _OPERAND_RE.finditer(output):
        for tok in (m.group(1), m.group(2)):
            value = float(tok.replace(",", ""))
            if value in (0.0, 1.0) or value in prompt_numbers or value in results or value in out:
                continue
            if round(value, 6) in one_step or value in EVERYDAY_CONSTANTS:
                continue
            if any(abs(value - n) <= 0.01 * abs(n) for n in given):
                continue  # a given number rounded ('1.6' for the prompt's 1.609): misused, not brought

            out.append(value)
    return out


def date_derivable(reference: str, prompt: str, prompt_numbers: list[float]) -> bool:
    """Is the reference's date a date of the prompt moved by a number of days the prompt gives?"""
    want = T._dates(reference)
    if not want:
        return False
    if re.search(r"\b(?:tomorrow|yesterday|next day)\b", prompt[-3000:], re.I):
        prompt_numbers = [*prompt_numbers, 1.0]
    for m in T._DATE_RE.finditer(prompt[-3000:]):
        for start in T._dates(m.group()):
            for end in want:
                delta = abs((end - start).days)
                if delta and delta <= 400 and _days_given(float(delta), prompt_numbers):
                    return True
    return False


def _days_given(days: float, prompt_numbers: list[float]) -> bool:
    """Does the prompt give this many days: written, in weeks, or as one sum, difference or product of
    two of its numbers? (Two steps with constants reach almost any small number by chance.)"""
    small = [n for n in dict.fromkeys(prompt_numbers) if 0 < n <= 400][:12] + [7.0]
    if days in small:
        return True
    return any(days in (a + b, abs(a - b), a * b) for i, a in enumerate(small) for b in small[i + 1 :])


def day_spans(prompt: str) -> set[int]:
    """The numbers of days between any two dates the prompt writes (nights of a stay, days of a loan),
    up to 400."""
    dates = [d for m in T._DATE_RE.finditer(prompt[-3000:]) for d in T._dates(m.group())]
    spans = {abs((b - a).days) for i, a in enumerate(dates) for b in dates[i + 1 :]}
    return {n for n in spans if 0 < n <= 400}


@dataclass(frozen=True)
class Grounding:
    """What the answer missed, and whether the prompt holds it."""

    missing: tuple[str, ...]
    in_prompt: tuple[str, ...]
    computable: tuple[str, ...]
    numeric: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    #: a close call whatever the shares (only plain words of a long reference were missed: a retelling
    #: leaves words out without ignoring the prompt)
    close: bool = False

    def not_held(self, units: set[str]) -> Grounding:
        """This grounding with ``units`` no longer counted as written in the prompt."""
        if not units & set(self.in_prompt):
            return self
        return replace(self, in_prompt=tuple(u for u in self.in_prompt if u not in units))

    @property
    def grounded(self) -> bool | None:
        """True: the prompt holds most of what was missed; False: it holds little; None: nothing missed."""
        if not self.missing:
            return None
        pool = self._pool()
        held = sum(1 for u in pool if u in self.in_prompt or u in self.computable)
        return held * 2 >= len(pool)

    def _pool(self) -> list[str]:
        """What an answer most often hinges on decides: its numbers (not years), else its names, else
        all its words."""
        numeric = [u for u in self.missing if u in self.numeric]
        names = [u for u in self.missing if u in self.names]
        return numeric or names or list(self.missing)

    @property
    def clear(self) -> bool:
        """A clear-cut call: at most a quarter, or at least three quarters, of the deciding units held,
        and not only through arithmetic."""
        pool = self._pool()
        if not pool or self.close:
            return False
        held_written = sum(1 for u in pool if u in self.in_prompt)
        held = held_written + sum(1 for u in pool if u in self.computable and u not in self.in_prompt)
        share = held / len(pool)
        if share >= 0.75:
            return held_written > 0 or len(pool) == 1
        return share <= 0.25

    def evidence(self) -> str:
        shown = ", ".join(repr(u) for u in self.missing[:4])
        if self.grounded:
            where = []
            if self.in_prompt:
                where.append(f"{len(self.in_prompt)} written in the prompt")
            if self.computable:
                where.append(f"{len(self.computable)} computable from its numbers")
            return f"the answer misses {shown}; of {len(self.missing)} missing, " + " and ".join(where)
        return f"the answer misses {shown}, which the prompt does not give"


_YEAR_RE = re.compile(r"^(?:1[89]|20)\d\d$")
_NAME_RE = re.compile(r"(?<![.!?:]\s)(?<!^)\b([A-Z][\w-]+)")


def names_in(text: str) -> set[str]:
    """Capitalised words not at the start of a sentence: the names a reference mentions."""
    return {T.normalize(m.group(1)) for m in _NAME_RE.finditer(text or "")}


def grounding(
    missing: list[tuple[str, float | None]],
    material_norm: str,
    prompt: str,
    prompt_numbers: list[float],
    names: set[str] | None = None,
) -> Grounding:
    """Of the ``missing`` units, which the prompt's material writes and which one or two steps compute."""
    in_prompt, computable = [], []
    spans: set[int] | None = None  # read from the prompt's dates once, when a number needs them
    for unit, value in missing:
        if T.contains_phrase(material_norm, unit) and not listed_as_label(unit, prompt):
            in_prompt.append(unit)
        elif value is not None:
            computed = derivable(value, prompt_numbers)
            if not computed:
                spans = day_spans(prompt) if spans is None else spans
                computed = value in spans
            if computed:
                computable.append(unit)
    numeric = tuple(u for u, v in missing if v is not None and not _YEAR_RE.match(u) and v not in (0.0, 1.0))
    named = tuple(u for u, _ in missing if names and u in names)
    return Grounding(tuple(u for u, _ in missing), tuple(in_prompt), tuple(computable), numeric, named)

"""Code and SQL answers, judged as code rather than compared as strings.

Was code written at all, in the language asked for? Is it the reference's program by structure (then
only its wrapping or its name is wrong: format)? If it is wrong: does it call an API or SQL function
that does not exist, or use a value the prompt does not give (knowledge: factual), or does it miss
what the prompt's spec or schema states (behaviour)?
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator

from advisor import DiagnosisContext, Finding
from advisor_plugins.detectors._common import B, F, M, in_prompt

#: standard-library modules safe to import to check that a name exists (no side effects on import)
_SAFE_MODULES = frozenset(
    [
        "bisect",
        "calendar",
        "collections",
        "copy",
        "csv",
        "dataclasses",
        "datetime",
        "decimal",
        "enum",
        "fractions",
        "functools",
        "hashlib",
        "heapq",
        "itertools",
        "json",
        "math",
        "operator",
        "os",
        "pathlib",
        "random",
        "re",
        "statistics",
        "string",
        "textwrap",
        "time",
        "typing",
        "uuid",
        "zoneinfo",
    ]
)
#: SQL functions every common engine has; others are checked against the reference's use
_PORTABLE_SQL = frozenset(
    [
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "coalesce",
        "lower",
        "upper",
        "length",
        "substr",
        "substring",
        "round",
        "abs",
        "cast",
        "nullif",
        "trim",
        "replace",
        "in",
        "exists",
        "not",
        "and",
        "or",
        "date",
        "over",
        "values",
        "as",
        "on",
        "using",
        "filter",
        "where",
        "from",
        "join",
        "case",
        "when",
    ]
)
_SQL_KEYWORDS = frozenset(
    [
        "select",
        "from",
        "where",
        "join",
        "on",
        "and",
        "or",
        "not",
        "in",
        "is",
        "null",
        "group",
        "by",
        "order",
        "having",
        "limit",
        "offset",
        "as",
        "distinct",
        "left",
        "right",
        "inner",
        "outer",
        "full",
        "cross",
        "union",
        "all",
        "case",
        "when",
        "then",
        "else",
        "end",
        "between",
        "like",
        "ilike",
        "asc",
        "desc",
        "exists",
        "date",
        "interval",
        "extract",
        "year",
        "month",
        "day",
        "hour",
        "minute",
        "second",
        "current_date",
        "current_timestamp",
        "now",
        "with",
        "over",
        "partition",
        "row_number",
        "rank",
        "true",
        "false",
        "cast",
        "coalesce",
        "nullif",
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "round",
        "lower",
        "upper",
        "length",
        "substr",
        "substring",
        "trim",
        "replace",
        "strftime",
        "julianday",
        "datetime",
        "printf",
        "values",
        "into",
        "insert",
        "update",
        "delete",
        "set",
        "create",
        "table",
        "index",
        "primary",
        "key",
        "references",
        "default",
        "unique",
        "check",
        "returning",
        "using",
        "natural",
        "filter",
        "within",
        "lateral",
        "any",
        "some",
        "fetch",
        "first",
        "next",
        "rows",
        "only",
        "top",
    ]
)
_SQL_NAME_RE = re.compile(r"'[^']*'|\"([^\"]+)\"|\b([A-Za-z_][A-Za-z0-9_]*)\b")
_SQL_CALL_RE = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
_SQL_LITERAL_RE = re.compile(r"'([^']*)'|\b(\d{3,}(?:\.\d+)?)\b")
_OTHER_CODE_RE = re.compile(r"\bfunction\b|=>|\bconst\b|\bpublic\b|\bvar\b|#include|\bfunc\b|\bfn\b")


class CodeAnswer:
    """A program or query was expected: is it there, right by structure, and if wrong, why?"""

    name = "code"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        kind = ctx.code_kind
        if not kind or not ctx.output or ctx.wants_json or ctx.non_answer:
            return
        code = ctx.output_code
        if code is None:
            yield _no_code(ctx, kind)
        elif ctx.code_matches or (_wrapped(ctx, code) and _close(ctx, code, kind)):
            found = _right_code_wrong_form(ctx, code, kind)
            if found is not None:
                # judged by token overlap rather than structure: a close call
                yield found if ctx.code_matches else found._replace(confident=False)
        else:
            yield _wrong_code(ctx, code, kind)


def _wrapped(ctx: DiagnosisContext, code: str) -> bool:
    return code.strip() != ctx.output.strip()


def _close(ctx: DiagnosisContext, code: str, kind: str) -> bool:
    """Wrapped code that is probably the reference's program written another way: no invented
    names, most tokens shared. (Programs are not run, so this is the closest check there is.)"""
    if kind == "python" and invented_names(code):
        return False
    return ctx.code_similarity >= 0.5


def _no_code(ctx: DiagnosisContext, kind: str) -> Finding:
    lang = "SQL" if kind == "sql" else "Python"
    if _OTHER_CODE_RE.search(ctx.output) or ctx.output.count("{") >= 2:
        return Finding(B, "wrong-language", f"{lang} was asked for; the output is code in another language")
    return Finding(B, "no-attempt", f"{lang} was asked for; the output describes it in prose instead")


def _right_code_wrong_form(ctx: DiagnosisContext, code: str, kind: str) -> Finding | None:
    if "```" in ctx.output:
        return Finding(M, "code-fence", "the right code, wrapped in a Markdown code fence")
    if code.strip() != ctx.output.strip():
        return Finding(M, "extra-prose", "the right code, with prose around it")
    if kind == "python":
        want = re.search(r"\bdef\s+(\w+)", ctx.record.prompt[-1500:])
        got = re.search(r"\bdef\s+(\w+)", code)
        if want and got and want.group(1) != got.group(1):
            return Finding(M, "signature", f"the right code under another name ({got.group(1)!r})")
        if re.match(r"\s*class\s", code):
            return Finding(M, "signature", "the right function, wrapped in a class")
    return None


def _wrong_code(ctx: DiagnosisContext, code: str, kind: str) -> Finding:
    reference = ctx.record.reference or ""
    if kind == "python":
        invented = invented_names(code)
        if invented:
            return Finding(F, "invented-api", f"uses {', '.join(invented[:3])}, which does not exist")
        renamed = _renamed(ctx, code)
        if renamed is not None:
            return renamed
        # a message text (an error's wording) is the writer's choice, not a fact the code needs
        wanted = {v for v in _py_literals(reference) - _py_literals(code) if " " not in v.strip()}
        unknown = [v for v in wanted if not in_prompt(ctx, v)]
        if unknown:
            shown = ", ".join(sorted(unknown)[:3])
            return Finding(
                F, "wrong-fact", f"the code lacks values the prompt does not give ({shown})", False
            )
        return Finding(B, "spec-not-followed", "the code does not do what the prompt's specification states")
    unknown = _unknown_names(ctx, code)
    if unknown:
        shown = ", ".join(unknown[:3])
        return Finding(
            B, "unfaithful-to-prompt", f"uses {shown}, which the schema in the prompt does not have"
        )
    unknown_calls = sorted(
        {m.group(1) for m in _SQL_CALL_RE.finditer(code)}
        - {m.group(1) for m in _SQL_CALL_RE.finditer(reference)}
        - {n.upper() for n in _PORTABLE_SQL}
        - {n.lower() for n in _PORTABLE_SQL},
        key=str.lower,
    )
    unknown_calls = [c for c in unknown_calls if c.lower() not in _PORTABLE_SQL]
    if unknown_calls:
        return Finding(
            F, "invented-api", f"calls {', '.join(unknown_calls)}, which the database may not have"
        )
    extras = _literals(code) - _literals(reference)
    if extras and _literals(reference) <= _literals(code) and _same_shape(code, reference):
        extra = ", ".join(repr(v) for v in sorted(extras)[:3])
        why = f"the right query over the wrong values ({extra}): knowing which needs outside facts"
        return Finding(F, "wrong-fact", why)
    missing = [
        v
        for v in _literals(reference) - _literals(code)
        if v.strip() and not in_prompt(ctx, v) and not ctx.date_from_prompt(v) and not _from_question(ctx, v)
    ]
    if missing:
        shown = ", ".join(repr(v) for v in sorted(missing)[:3])
        return Finding(F, "wrong-fact", f"the query needs values the prompt does not give ({shown})")
    return Finding(B, "unfaithful-to-prompt", "the query does not follow the question or the schema given")


_UNIT_FACTORS = (1, 10, 100, 1000, 60, 3600, 24, 7, 12)
#: a schema or question that keeps a quantity in a sub-unit: the conversion factor is given by it
_UNIT_WORD_RE = re.compile(
    r"\b(?:cents?|pence|minor units?|millis(?:econds)?|ms|seconds|minutes|hours|days|weeks|months|grams?|"
    r"millimet(?:er|re)s?|basis points|percent(?:age)?)\b",
    re.I,
)
_ISO_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)


def _from_question(ctx: DiagnosisContext, literal: str) -> bool:
    """Does the question give this literal of the reference's query in another form: one of its numbers
    in another unit ('under $20' in cents: 2000), or the bound of a month it names ('in March 2024':
    '2024-03-01' up to '2024-04-01')?"""
    try:
        value = float(literal)
    except ValueError:
        value = None
    if value is not None:  # one of the prompt's numbers in another unit (a price in cents, a time in ms)
        if value != 1 and value in _UNIT_FACTORS and _UNIT_WORD_RE.search(ctx.record.prompt):
            return True  # the factor itself ('/ 100.0') where the schema keeps cents, minutes, ...
        return any(
            abs(value - n * c) < 1e-9 or abs(value * c - n) < 1e-9
            for n in ctx.prompt_numbers
            for c in _UNIT_FACTORS
        )
    m = _ISO_DATE_RE.match(literal)
    if not m or m.group(3) != "01":
        return False
    year, month = int(m.group(1)), int(m.group(2))
    prompt = ctx.record.prompt.lower()
    for y, mo in ((year, month), (year - (month == 1), 12 if month == 1 else month - 1)):
        if 1 <= mo <= 12 and re.search(rf"\b{_MONTHS[mo - 1]}\s+(?:of\s+)?{y}\b", prompt):
            return True
    return False


_ALIAS_RE = re.compile(r"\bas\s+\w+", re.I)


def _same_shape(code: str, reference: str) -> bool:
    """The same query once every literal is a placeholder and a list of literals one item (aliases and
    case aside): only the values differ ('IN ('AT', 'BE', 'GB')' vs 'IN ('AT', 'BE')')."""

    def shape(sql: str) -> str:
        sql = _ALIAS_RE.sub("", sql.strip().rstrip(";"))
        sql = _SQL_LITERAL_RE.sub("?", sql)
        sql = re.sub(r"\?(?:\s*,\s*\?)+", "?", sql)
        sql = re.sub(r"\bin\s*\(\s*\?\s*\)", "= ?", sql, flags=re.I)  # IN ('x') is = 'x'
        return " ".join(re.findall(r"\w+|[^\w\s]", sql.lower()))

    return bool(_SQL_LITERAL_RE.search(reference)) and shape(code) == shape(reference)


def _unknown_names(ctx: DiagnosisContext, code: str) -> list[str]:
    """Identifiers of the query (tables, columns) that neither the prompt nor the reference has.

    Aliases (names right after a table or AS, and names of one or two letters) are left out.
    """
    prompt_words = set(re.findall(r"[a-z_][a-z0-9_]*", ctx.record.prompt.lower()))
    ref_words = set(re.findall(r"[a-z_][a-z0-9_]*", (ctx.record.reference or "").lower()))
    aliases = {
        m.group(1).lower() for m in re.finditer(r"\b(?:as|from|join)\s+\w+\s+(?:as\s+)?(\w+)", code, re.I)
    }
    aliases |= {m.group(1).lower() for m in re.finditer(r"\bas\s+(\w+)", code, re.I)}
    out = []
    for m in _SQL_NAME_RE.finditer(code):
        name = (m.group(1) or m.group(2) or "").lower()
        if not name or len(name) <= 2 or name in _SQL_KEYWORDS or name in aliases:
            continue
        if code[m.end() : m.end() + 2].lstrip().startswith("("):
            continue  # a function: the invented-function check judges those
        if name not in prompt_words and name not in ref_words and name not in out:
            out.append(name)
    return out


def _renamed(ctx: DiagnosisContext, code: str) -> Finding | None:
    """The function the prompt names, written under another name but otherwise close to the reference."""
    want = re.search(r"\bdef\s+(\w+)", ctx.record.prompt[-1500:]) or re.search(
        r"`(\w+)\(", ctx.record.prompt[-1500:]
    )
    got = re.search(r"\bdef\s+(\w+)", code)
    if want and got and want.group(1) != got.group(1) and ctx.code_similarity >= 0.6:
        return Finding(
            M, "signature", f"the code names the function {got.group(1)!r}, not {want.group(1)!r}", False
        )
    return None


def _py_literals(code: str) -> set[str]:
    """The numbers and strings a program writes (its constants)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)):
            if not isinstance(node.value, bool) and str(node.value).strip() and node.value not in (0, 1, ""):
                out.add(str(node.value))
    return out


def _literals(sql: str) -> set[str]:
    return {(m.group(1) or m.group(2)).lower() for m in _SQL_LITERAL_RE.finditer(sql)}


def invented_names(code: str) -> list[str]:
    """Standard-library names the code imports or calls that do not exist ('json.load_file')."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    bound: dict[str, object] = {}
    bad: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                module = _module(alias.name)
                if module is not None:
                    bound[alias.asname or alias.name] = module
        elif isinstance(node, ast.ImportFrom) and node.module:
            module = _module(node.module)
            for alias in node.names if module is not None else ():
                if hasattr(module, alias.name):
                    bound[alias.asname or alias.name] = getattr(module, alias.name)
                else:
                    bad.append(f"{node.module}.{alias.name}")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        owner, path = _resolve(node.value, bound)
        if owner is not None and not hasattr(owner, node.attr):
            bad.append(f"{path}.{node.attr}")
    return list(dict.fromkeys(bad))


def _resolve(node: ast.AST, bound: dict[str, object]) -> tuple[object | None, str]:
    """The object a name or dotted name of the code stands for ('os.path'), when it is a bound module."""
    if isinstance(node, ast.Name):
        return bound.get(node.id), node.id
    if isinstance(node, ast.Attribute):
        owner, path = _resolve(node.value, bound)
        if owner is not None and hasattr(owner, node.attr):
            return getattr(owner, node.attr), f"{path}.{node.attr}"
    return None, ""


def _module(name: str) -> object | None:
    if name.split(".")[0] not in _SAFE_MODULES:
        return None
    try:
        return importlib.import_module(name)
    except ImportError:
        return None

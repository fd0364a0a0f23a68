"""Open an evaluation log with the right reader and stream its records.

Readers are plugins (hook ``advisor_register_log_readers``). This module checks the
path, picks a reader (``--format`` or the first one, by priority, that recognises
the file) and hands back a record iterator plus a context that counts skipped lines.
"""

from __future__ import annotations

import atexit
import gzip
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.diagnosis.records import EvalRecord
from advisor.errors import InputError

HEAD_BYTES = 64 * 1024
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass
class ReadContext:
    """Shared by a reader and its caller: options and the lines that could not be read."""

    strict: bool = False
    skipped: list[tuple[str, int, str]] = field(default_factory=list)
    #: what a reader assumed and the user should know (a score scale, a guessed format)
    notes: list[str] = field(default_factory=list)

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def skip(self, source: str, line: int, reason: str) -> None:
        """Report an unreadable line; with ``--strict`` it ends the run."""
        if self.strict:
            raise InputError(f"{source}:{line}: {reason} (--strict)")
        self.skipped.append((source, line, reason))


def read_head(path: Path) -> bytes:
    if path.is_dir():
        return b""
    with path.open("rb") as fh:
        return fh.read(HEAD_BYTES)


def _scratch() -> Path:
    """A folder for transcoded copies of logs, removed when the process ends."""
    folder = Path(tempfile.mkdtemp(prefix="advisor-log-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def readable_copy(path: Path) -> Path:
    """``path`` itself, or a plain UTF-8 copy of it when readers cannot read it as it is.

    Copied: a pipe or ``/dev/stdin`` (so that sniffing its head does not consume it), a gzipped log
    (``.gz``), and a UTF-16 file (Windows tools write those). The copy keeps the file's name without
    ``.gz``, so that readers still recognise ``samples_*.jsonl`` and the like.
    """
    if str(path) == "-":
        path = Path("/dev/stdin")
    if not path.exists() or path.is_dir():
        return path
    mode = path.stat().st_mode
    gz = path.suffix.lower() == ".gz"
    with path.open("rb") as fh:
        head = fh.read(2) if stat.S_ISREG(mode) and not gz else b""
    if stat.S_ISREG(mode) and not gz and head not in _UTF16_BOMS:
        return path
    name = path.name[:-3] if gz else (path.name if stat.S_ISREG(mode) else "stdin.jsonl")
    dest = _scratch() / name
    opener = gzip.open if gz else open
    try:
        with opener(path, "rb") as src, dest.open("wb") as out:
            if head in _UTF16_BOMS:
                out.write(src.read().decode("utf-16").encode("utf-8"))
            else:
                shutil.copyfileobj(src, out, 1 << 20)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    return dest


def check_path(path: Path) -> bytes:
    """Fail early, with one clear line, on paths no reader can use. Returns the file head."""
    if not path.exists():
        raise InputError(f"no such file or folder: {path}")
    if path.is_dir():
        return b""
    head = read_head(path)
    if not head.strip():
        raise InputError(f"{path} is empty")
    if b"\x00" in head and not head.startswith((b"PK\x03\x04", b"PAR1")):  # zip (.eval), parquet: readers
        raise InputError(f"{path} is a binary file, not an evaluation log")
    return head


def choose_reader(path: Path, readers: dict[str, Any], fmt: str | None = None) -> Any:
    from advisor.errors import did_you_mean

    head = check_path(path)
    if fmt:
        if fmt not in readers:
            raise did_you_mean(fmt, list(readers), "log format")
        reader = readers[fmt]
        if path.is_dir() and not reader.sniff(path, head):
            raise InputError(
                f"--format {fmt} does not recognise the folder {path} as its log: name the log's own file "
                "or folder, or leave out --format to let advisor recognise it"
            )
        return reader
    for reader in sorted(readers.values(), key=lambda r: -getattr(r, "priority", 0)):
        if reader.sniff(path, head):
            return reader
    kind = "folder" if path.is_dir() else "file"
    raise InputError(
        f"cannot recognise the {kind} {path} as an evaluation log "
        f"(formats: {', '.join(sorted(readers))}; choose one with --format)"
    )


def open_log(
    path: Path, readers: dict[str, Any], fmt: str | None = None, ctx: ReadContext | None = None
) -> tuple[Any, Iterator[EvalRecord], ReadContext]:
    ctx = ctx or ReadContext()
    path = readable_copy(path)
    reader = choose_reader(path, readers, fmt)
    return reader, reader.read(path, ctx), ctx


def first_json_line(head: bytes) -> dict | None:
    """The first non-blank line of ``head`` parsed as a JSON object, else None."""
    import orjson

    for raw in head.removeprefix(_UTF8_BOM).split(b"\n", 8)[:8]:
        if raw.strip():
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return None
            return obj if isinstance(obj, dict) else None
    return None


_INVALID = object()


def _lenient_json(raw: bytes) -> Any:
    """JSON as Python writes it (NaN, Infinity), which strict parsers refuse; ``_INVALID`` otherwise."""
    import json

    try:
        return json.loads(raw)
    except ValueError:
        return _INVALID


def iter_json_lines(path: Path, ctx: ReadContext) -> Iterator[tuple[int, dict]]:
    """Stream (line number, object) from a JSON Lines file; bad lines go to ``ctx.skip``."""
    import orjson

    loads = orjson.loads
    source = str(path)
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if lineno == 1:
                raw = raw.removeprefix(_UTF8_BOM)
            if not raw.strip():
                continue
            try:
                obj = loads(raw)
            except orjson.JSONDecodeError:
                obj = _lenient_json(raw)
            if obj is _INVALID:
                if lineno == 1 and raw.lstrip()[:1] in (b"[", b"{"):
                    raise InputError(
                        f"{path} holds one JSON document, not JSON Lines (one object per line); "
                        "convert it with: jq -c '.[]'"
                    ) from None
                ctx.skip(source, lineno, "not valid JSON")
                continue
            if not isinstance(obj, dict):
                if lineno == 1 and isinstance(obj, list):
                    raise InputError(
                        f"{path} holds one JSON array, not JSON Lines (one object per line); "
                        "convert it with: jq -c '.[]'"
                    )
                ctx.skip(source, lineno, "not a JSON object")
                continue
            yield lineno, obj

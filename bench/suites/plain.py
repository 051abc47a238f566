"""Plain prompt files, and the small readers every suite loader shares.

``.txt``: one prompt a line; surrounding whitespace is stripped and blank lines are skipped.
Prompt ids are the 5-digit index among the kept lines; the task is "".

``.jsonl``: one GenEval-format JSON object a line
(``{"tag", "include", "exclude"?, "prompt"}``); the task is the tag and the metadata is the
whole object. Ids are again the 5-digit index among the kept lines, which matches GenEval's
``<index:05d>`` image folders.

Every failure (missing, a directory, unreadable, not UTF-8, empty, a bad line) is one
:class:`~bench.errors.SuiteError` line that names the file and the fix.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from bench.errors import SuiteError
from bench.suites.base import Prompt, Suite


def one_line(text: object) -> str:
    """``text`` with every run of whitespace (newlines included) collapsed to one space."""
    return " ".join(str(text).split())


def read_bytes(path: Path) -> bytes:
    """The file's bytes, or a SuiteError saying why they cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SuiteError(f"prompt file {path} does not exist; check the path") from None
    except IsADirectoryError:
        raise SuiteError(f"{path} is a directory, not a prompt file; pass a file inside it") from None
    except PermissionError:
        if path.is_dir():  # Windows reports a directory this way
            raise SuiteError(f"{path} is a directory, not a prompt file; pass a file inside it") from None
        raise SuiteError(f"cannot read {path}: permission denied; make it readable (chmod +r)") from None
    except OSError as e:
        raise SuiteError(f"cannot read {path}: {one_line(e.strerror or e)}; check the path") from None


def decode(data: bytes, where: str) -> str:
    """UTF-8 text (a leading byte-order mark is dropped), or a SuiteError naming the bad line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise SuiteError(f"{where} is not UTF-8 text (bad byte 0x{data[e.start]:02x} on line {line}); "
                         "save it as UTF-8") from None


def kept_lines(text: str) -> list[tuple[int, str]]:
    """(1-based line number, stripped line) for every non-blank line; CRLF or LF endings."""
    return [(n, line.strip()) for n, line in enumerate(text.split("\n"), 1) if line.strip()]


def text_prompts(text: str, id_prefix: str = "", task: str = "",
                 metadata: dict[str, Any] | None = None) -> list[Prompt]:
    """One prompt a line; ids ``<id_prefix><index:05d>``; every prompt gets a copy of ``metadata``."""
    return [Prompt(f"{id_prefix}{i:05d}", line, task, dict(metadata or {}))
            for i, (_, line) in enumerate(kept_lines(text))]


def jsonl_prompts(text: str, where: str) -> list[Prompt]:
    """GenEval-format lines: task = ``tag`` ("" if absent), metadata = the whole object."""
    prompts = []
    for n, line in kept_lines(text):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise SuiteError(f"{where} line {n} is not valid JSON ({e.msg}, column {e.colno}); "
                             "fix or delete that line") from None
        if not isinstance(obj, dict):
            raise SuiteError(f"{where} line {n} is not a JSON object; each line must be "
                             '{"tag": ..., "include": [...], "prompt": "..."}')
        if not isinstance(obj.get("prompt"), str) or not obj["prompt"].strip():
            raise SuiteError(f'{where} line {n} has no "prompt" string; add one')
        if not isinstance(obj.get("tag", ""), str):
            raise SuiteError(f'{where} line {n} has a "tag" that is not a string; use the task name')
        prompts.append(Prompt(f"{len(prompts):05d}", obj["prompt"].strip(), obj.get("tag", ""), obj))
    return prompts


def read_prompt_file(path: Path) -> Suite:
    """A suite from a ``.txt`` or ``.jsonl`` prompt file; its name is the file's stem."""
    path = Path(path)
    data = read_bytes(path)
    suffix = path.suffix.lower()
    if suffix not in {".txt", ".jsonl"}:
        raise SuiteError(f"{path}: unsupported prompt file type '{path.suffix}'; use .txt "
                         "(one prompt a line) or .jsonl (GenEval-format lines)")
    text = decode(data, str(path))
    prompts = jsonl_prompts(text, str(path)) if suffix == ".jsonl" else text_prompts(text)
    if not prompts:
        raise SuiteError(f"{path} holds no prompts; put one prompt on each line")
    return Suite(path.stem, tuple(prompts), source=str(path.resolve()),
                 sha256=hashlib.sha256(data).hexdigest())

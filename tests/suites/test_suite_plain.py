"""Plain prompt files (.txt, .jsonl) and their one-line errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from bench.errors import SuiteError
from bench.suites import load_suite
from bench.suites.plain import read_prompt_file

from tests.suites.suite_helpers import one_line_error


def test_txt_strips_skips_blank_lines_and_numbers_kept_lines(tmp_path):
    data = "\ufeff  a red cube \r\n\n\t\na blue ball\r\n   \nthe last line, no newline  ".encode()
    path = tmp_path / "my_prompts.txt"
    path.write_bytes(data)
    s = read_prompt_file(path)
    assert s.name == "my_prompts"
    assert [p.text for p in s.prompts] == ["a red cube", "a blue ball", "the last line, no newline"]
    assert [p.id for p in s.prompts] == ["00000", "00001", "00002"]
    assert all(p.task == "" and p.metadata == {} for p in s.prompts)
    assert s.sha256 == hashlib.sha256(data).hexdigest()
    assert s.source == str(path.resolve())


def test_jsonl_reads_geneval_lines(tmp_path):
    lines = [
        {"tag": "counting", "include": [{"class": "cat", "count": 2}],
         "exclude": [{"class": "cat", "count": 3}], "prompt": "a photo of two cats"},
        {"tag": "colors", "include": [{"class": "dog", "count": 1, "color": "red"}],
         "prompt": "a photo of a red dog"},
        {"prompt": "  no tag here  "},
    ]
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(json.dumps(d) for d in lines[:2]) + "\n\n" + json.dumps(lines[2]))
    s = read_prompt_file(path)
    assert s.name == "mine"
    assert [p.id for p in s.prompts] == ["00000", "00001", "00002"]
    assert [p.task for p in s.prompts] == ["counting", "colors", ""]
    assert [p.metadata for p in s.prompts] == lines
    assert s.prompts[2].text == "no tag here"


def test_load_suite_reads_a_prompt_file(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("one\ntwo\n")
    assert len(load_suite(str(path)).prompts) == 2


def _deny(monkeypatch, path: Path):
    """Make reading ``path`` fail as an unreadable file does (root ignores chmod)."""
    real = Path.read_bytes

    def read_bytes(self):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)


@pytest.mark.parametrize("case, content, fragments", [
    ("missing", None, ["does not exist"]),
    ("directory", None, ["is a directory"]),
    ("unreadable", b"a prompt\n", ["permission denied"]),
    ("not_utf8", b"a caf\xe9 prompt\n", ["not UTF-8", "line 1", "save it as UTF-8"]),
    ("empty", b"", ["holds no prompts"]),
    ("blank", b"\n  \r\n\t\n", ["holds no prompts"]),
])
def test_txt_errors_are_one_line(tmp_path, monkeypatch, case, content, fragments):
    path = tmp_path / f"{case}.txt"
    if case == "directory":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    if case == "unreadable":
        _deny(monkeypatch, path)
    with pytest.raises(SuiteError) as e:
        read_prompt_file(path)
    one_line_error(e, str(path), *fragments)


@pytest.mark.parametrize("lines, fragments", [
    (['{"tag": "colors", "prompt": "ok"}', "", '{"tag": "colors", "prompt": '],
     ["line 3", "not valid JSON"]),
    (['{"prompt": "ok"}', '["a list"]'], ["line 2", "not a JSON object"]),
    (['{"tag": "colors", "include": []}'], ["line 1", '"prompt"']),
    (['{"tag": 3, "prompt": "x"}'], ["line 1", '"tag"']),
])
def test_jsonl_errors_name_the_line(tmp_path, lines, fragments):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SuiteError) as e:
        read_prompt_file(path)
    one_line_error(e, str(path), *fragments)


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "prompts.csv"
    path.write_text("a,b\n")
    with pytest.raises(SuiteError) as e:
        read_prompt_file(path)
    one_line_error(e, ".csv", ".txt", ".jsonl")


def test_load_suite_missing_file(tmp_path):
    with pytest.raises(SuiteError) as e:
        load_suite(str(tmp_path / "nope.txt"))
    one_line_error(e, "does not exist")

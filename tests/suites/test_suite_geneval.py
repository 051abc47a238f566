"""GenEval read from the reference copy in ../shared/suites."""

from __future__ import annotations

import collections
import json
import shutil

import pytest

from bench.errors import SuiteError
from bench.suites import load_suite, suites
from bench.suites.geneval import METADATA, TASK_COUNTS, geneval

from tests.suites.suite_helpers import one_line_error


def test_pinned_sha256_matches_the_reference_list(shared):
    sums = dict(reversed(line.split()) for line in (shared / "SHA256SUMS").read_text().splitlines())
    assert METADATA.sha256 == sums["geneval/evaluation_metadata.jsonl"]


@pytest.mark.parametrize("where", ["file", "dir"])
def test_geneval_from_local_copy(geneval_dir, where):
    file = geneval_dir / "evaluation_metadata.jsonl"
    s = geneval(file if where == "file" else geneval_dir)
    lines = [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
    assert s.name == "geneval"
    assert len(s.prompts) == 553
    assert collections.Counter(p.task for p in s.prompts) == TASK_COUNTS
    assert TASK_COUNTS == {"single_object": 80, "two_object": 99, "counting": 80,
                           "colors": 94, "position": 100, "color_attr": 100}
    assert [p.id for p in s.prompts] == [f"{i:05d}" for i in range(553)]
    assert [p.metadata for p in s.prompts] == lines
    assert [p.text for p in s.prompts] == [d["prompt"] for d in lines]
    assert s.prompts[0].metadata["include"] == [{"class": "bench", "count": 1}]
    assert any("exclude" in p.metadata for p in s.prompts)
    assert s.source == str(file.resolve())
    assert s.sha256 == METADATA.sha256


def test_load_suite_name_colon_path(geneval_dir):
    s = load_suite(f"geneval:{geneval_dir / 'evaluation_metadata.jsonl'}")
    assert len(s.prompts) == 553


def test_registered_with_a_one_line_doc():
    entry = suites.get("geneval")
    assert entry.factory is geneval
    assert entry.doc and "\n" not in entry.doc


def test_altered_local_copy_fails_the_checksum(geneval_dir, tmp_path):
    copy = tmp_path / "evaluation_metadata.jsonl"
    shutil.copy(geneval_dir / "evaluation_metadata.jsonl", copy)
    copy.write_text(copy.read_text().replace("a photo of a bench", "a photo of a sofa"))
    with pytest.raises(SuiteError) as e:
        geneval(copy)
    one_line_error(e, str(copy), METADATA.sha256[:12], "expected", "canonical", METADATA.url)


def test_directory_without_the_file(tmp_path):
    with pytest.raises(SuiteError) as e:
        load_suite(f"geneval:{tmp_path}")
    one_line_error(e, str(tmp_path), "evaluation_metadata.jsonl")


def test_missing_local_copy(tmp_path):
    with pytest.raises(SuiteError) as e:
        geneval(tmp_path / "nope.jsonl")
    one_line_error(e, "nope.jsonl", "does not exist")

"""The built-in shapes-geneval suite: 288 prompts, balanced per task, fixed and valid."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import Counter

import pytest

from bench.errors import SuiteError
from bench.shapes.language import RELATIONS, TASKS, check_prompt, prompt_for
from bench.shapes.scene import COLORS, SHAPES
from bench.suites import load_suite, suites
from bench.suites.shapes_geneval import jsonl, shapes_geneval

from tests.suites.suite_helpers import one_line_error

PAIRS = list(itertools.permutations(SHAPES, 2))


@pytest.fixture(scope="module")
def s():
    return shapes_geneval()


def by_task(s, task):
    return [p.metadata for p in s.prompts if p.task == task]


def test_48_prompts_per_task_in_geneval_order(s):
    assert len(s.prompts) == 288
    assert Counter(p.task for p in s.prompts) == {t: 48 for t in TASKS}
    assert [p.task for p in s.prompts] == [t for t in TASKS for _ in range(48)]
    assert [p.id for p in s.prompts] == [f"{t}_{i:03d}" for t in TASKS for i in range(48)]


def test_ids_unique_and_fields_consistent(s):
    assert len({p.id for p in s.prompts}) == len(s.prompts)
    for p in s.prompts:
        assert p.text == p.metadata["prompt"] and p.task == p.metadata["tag"]
        check_prompt(p.text)  # every word is in the shapes language


def test_metadata_is_plain_json_in_geneval_format(s):
    for p in s.prompts:
        line = json.dumps(p.metadata)  # fails on numpy scalars
        assert json.loads(line) == p.metadata
        assert set(p.metadata) <= {"tag", "include", "exclude", "prompt"}
        for group in p.metadata["include"] + p.metadata.get("exclude", []):
            assert type(group["class"]) is str and type(group["count"]) is int
            assert type(group.get("color", "")) is str
        # the metadata is exactly what the language writes for these words
        groups = p.metadata["include"]
        shapes = tuple(g["class"] for g in groups)
        colors = tuple(g.get("color") for g in groups if "color" in g)
        if p.task == "position":
            rebuilt = prompt_for("position", (shapes[1], shapes[0]), relation=groups[1]["position"][0])
        else:
            rebuilt = prompt_for(p.task, shapes, colors, count=groups[0]["count"])
        assert rebuilt == p.metadata


def test_single_object_and_two_object_balance(s):
    assert Counter(m["include"][0]["class"] for m in by_task(s, "single_object")) == {x: 12 for x in SHAPES}
    pairs = Counter(tuple(g["class"] for g in m["include"]) for m in by_task(s, "two_object"))
    assert pairs == {p: 4 for p in PAIRS}


def test_counting_and_colors_balance(s):
    counting = by_task(s, "counting")
    assert Counter((m["include"][0]["class"], m["include"][0]["count"]) for m in counting) == \
        {(x, n): 4 for x in SHAPES for n in (2, 3, 4)}
    assert all(m["exclude"] == [{"class": m["include"][0]["class"], "count": m["include"][0]["count"] + 1}]
               for m in counting)
    colors = Counter((m["include"][0]["class"], m["include"][0]["color"]) for m in by_task(s, "colors"))
    assert colors == {(x, c): 2 for x in SHAPES for c in COLORS}


def test_position_covers_every_pair_and_relation_once(s):
    seen = Counter((m["include"][1]["class"], m["include"][0]["class"], m["include"][1]["position"][0])
                   for m in by_task(s, "position"))
    assert seen == {(a, b, r): 1 for a, b in PAIRS for r in RELATIONS}
    assert all(m["include"][1]["position"][1] == 0 for m in by_task(s, "position"))


def test_color_attr_balance(s):
    lines = by_task(s, "color_attr")
    groups = [m["include"] for m in lines]
    assert Counter((g[0]["class"], g[1]["class"]) for g in groups) == {p: 4 for p in PAIRS}
    assert all(g[0]["color"] != g[1]["color"] for g in groups)
    assert Counter(g[0]["color"] for g in groups) == {c: 8 for c in COLORS}
    assert Counter(g[1]["color"] for g in groups) == {c: 8 for c in COLORS}
    assert Counter((x["class"], x["color"]) for g in groups for x in g) == \
        {(x, c): 4 for x in SHAPES for c in COLORS}
    assert len({m["prompt"] for m in lines}) == 48


def test_deterministic_and_checksummed(s):
    again = shapes_geneval()
    def rows(suite):
        return [(p.id, p.text, p.metadata) for p in suite.prompts]

    assert rows(again) == rows(s)
    assert s.sha256 == hashlib.sha256(jsonl(list(s.prompts)).encode()).hexdigest() == again.sha256
    assert jsonl(list(s.prompts)).count("\n") == 288
    assert s.source == "built-in" and s.name == "shapes-geneval"
    assert s.evaluators == ("geneval-shapes",)


def test_registered_and_loadable_by_name(s):
    entry = suites.get("shapes-geneval")
    assert entry.factory is shapes_geneval and entry.doc and "\n" not in entry.doc
    assert load_suite("shapes-geneval").sha256 == s.sha256


def test_a_path_is_a_one_line_error(tmp_path):
    with pytest.raises(SuiteError) as e:
        load_suite(f"shapes-geneval:{tmp_path / 'x.jsonl'}")
    one_line_error(e, "shapes-geneval", "built in")

"""The built-in world's training and validation prompt sets."""

from collections import Counter

import pytest

from bench.errors import SuiteError
from bench.shapes.language import TASKS, check_prompt
from bench.suites import load_suite


@pytest.mark.parametrize("name, per_task", [("shapes-train", 200), ("shapes-val", 32)])
def test_balanced_valid_and_deterministic(name, per_task):
    suite = load_suite(name)
    assert Counter(p.task for p in suite.prompts) == {t: per_task for t in TASKS}
    assert len({p.id for p in suite.prompts}) == len(suite.prompts)
    for p in suite.prompts:
        check_prompt(p.text)
        assert p.metadata["prompt"] == p.text and p.metadata["tag"] == p.task
    assert load_suite(name).sha256 == suite.sha256


def test_validation_draws_differ_from_training_and_test():
    train, val, test = (load_suite(n) for n in ("shapes-train", "shapes-val", "shapes-geneval"))
    assert len({train.sha256, val.sha256, test.sha256}) == 3
    # the language is small, so most strings repeat; colour attribution has room for new ones
    attr = [p.text for p in val.prompts if p.task == "color_attr"]
    assert len(set(attr) - {p.text for p in train.prompts}) > len(attr) // 4


def test_reads_no_file(tmp_path):
    with pytest.raises(SuiteError, match="--prompts shapes-val"):
        load_suite(f"shapes-val:{tmp_path}")

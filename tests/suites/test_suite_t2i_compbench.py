"""T2I-CompBench val split read from the reference copies in ../shared/suites."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from bench.errors import SuiteError
from bench.suites import load_suite, suites
from bench.suites import t2i_compbench as t2i

from tests.suites.suite_helpers import one_line_error

ALL = ("color", "shape", "texture", "spatial", "non_spatial", "complex", "3d_spatial", "numeracy")


def expected_prompts(t2i_dir, category):
    """The file's prompts by a rule written independently of the loader."""
    raw = (t2i_dir / f"{category}_val.txt").read_text(encoding="utf-8")
    return [line.strip() for line in raw.splitlines() if line.strip()]


def test_pinned_sha256_matches_the_reference_list(shared):
    sums = dict(reversed(line.split()) for line in (shared / "SHA256SUMS").read_text().splitlines())
    assert {f"t2i-compbench/{c}_val.txt": s for c, s in t2i.SHA256.items()} == {
        k: v for k, v in sums.items() if k.startswith("t2i-compbench/")}


def test_registered_names():
    names = {n for n in suites.names() if n.startswith("t2i-compbench")}
    assert names == {"t2i-compbench"} | {f"t2i-compbench-{c}" for c in ALL}
    for name in names:
        doc = suites.get(name).doc
        assert doc and "\n" not in doc
    assert suites.get("t2i-compbench-non_spatial").factory is t2i.t2i_compbench_non_spatial


@pytest.mark.parametrize("category", ALL)
def test_each_category(t2i_dir, category):
    s = suites.get(f"t2i-compbench-{category}").factory(path=t2i_dir)
    expected = expected_prompts(t2i_dir, category)
    assert 250 <= len(expected) <= 350
    assert s.name == f"t2i-compbench-{category}"
    assert [p.text for p in s.prompts] == expected
    assert [p.id for p in s.prompts] == [f"{category}_{i:05d}" for i in range(len(expected))]
    assert all(p.task == category and p.metadata == {"category": category} for p in s.prompts)
    file = t2i_dir / f"{category}_val.txt"
    assert s.sha256 == hashlib.sha256(file.read_bytes()).hexdigest()
    assert s.source == str(file.resolve())


def test_the_six_original_categories(t2i_dir):
    s = t2i.t2i_compbench(t2i_dir)
    original = ALL[:6]
    assert [p.task for p in s.prompts] == [
        c for c in original for _ in expected_prompts(t2i_dir, c)]
    assert len({p.id for p in s.prompts}) == len(s.prompts)
    lines = "".join(sorted(f"{c}_val.txt:{t2i.SHA256[c]}\n" for c in original))
    assert s.sha256 == hashlib.sha256(lines.encode()).hexdigest()
    assert s.source == str(t2i_dir.resolve())


def test_load_suite_category_colon_dir(t2i_dir):
    s = load_suite(f"t2i-compbench-color:{t2i_dir}")
    assert len(s.prompts) == len(expected_prompts(t2i_dir, "color"))


def test_single_category_takes_the_file_itself(t2i_dir):
    s = load_suite(f"t2i-compbench-numeracy:{t2i_dir / 'numeracy_val.txt'}")
    assert s.prompts[0].id == "numeracy_00000"


def test_several_categories_need_a_directory(t2i_dir):
    with pytest.raises(SuiteError) as e:
        load_suite(f"t2i-compbench:{t2i_dir / 'color_val.txt'}")
    one_line_error(e, "color_val.txt", "directory")


def test_directory_missing_a_file(t2i_dir, tmp_path):
    shutil.copy(t2i_dir / "color_val.txt", tmp_path)
    with pytest.raises(SuiteError) as e:
        t2i.t2i_compbench(tmp_path)
    one_line_error(e, str(tmp_path), "shape_val.txt")


def test_altered_file_fails_the_checksum(t2i_dir, tmp_path):
    for c in ALL:
        shutil.copy(t2i_dir / f"{c}_val.txt", tmp_path)
    with (tmp_path / "texture_val.txt").open("a") as f:
        f.write("\nan extra prompt\n")
    assert len(t2i.t2i_compbench_color(tmp_path).prompts) > 0  # other files still load
    with pytest.raises(SuiteError) as e:
        t2i.t2i_compbench(tmp_path)
    one_line_error(e, "texture_val.txt", t2i.SHA256["texture"][:12], "canonical")

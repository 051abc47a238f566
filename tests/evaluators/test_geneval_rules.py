"""GenEval's decision rules on hand-made detections: every clause type, thresholds, caps."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from bench.evaluators.geneval_rules import Detection, judge, overall, relations, summarize

SIZE = (64, 64)


def det(label, x=10.0, y=10.0, score=0.99, color=None, size=6.0):
    """A detection whose box is centred at (x, y) with the given side."""
    return Detection(label, score, (x - size / 2, y - size / 2, x + size / 2, y + size / 2), color)


def one(name, count=1, **extra):
    return {"class": name, "count": count, **extra}


# -- count --------------------------------------------------------------------------------------
def test_count_include_needs_at_least_count():
    meta = {"tag": "two_object", "include": [one("circle"), one("square")]}
    assert judge(meta, [det("circle"), det("square", 30)], SIZE) == (True, "")
    ok, reason = judge(meta, [det("circle"), det("circle", 30)], SIZE)
    assert not ok and reason == "expected 1 square, found 0"
    # more than asked is fine for an include clause
    assert judge(meta, [det("circle"), det("circle", 30), det("square", 50)], SIZE)[0]


def test_count_exclude_fails_at_count_or_more():
    meta = {"tag": "counting", "include": [one("circle", 3)], "exclude": [one("circle", 4)]}
    three = [det("circle", x) for x in (10, 25, 40)]
    assert judge(meta, three, SIZE) == (True, "")
    ok, reason = judge(meta, three + [det("circle", 55)], SIZE)
    assert not ok and reason == "expected fewer than 4 circle, found 4"
    ok, reason = judge(meta, three[:2], SIZE)
    assert not ok and reason == "expected 3 circle, found 2"


def test_exclude_clauses_are_ored_and_includes_anded():
    meta = {"tag": "x", "include": [one("circle"), one("square")],
            "exclude": [one("triangle"), one("diamond", 2)]}
    base = [det("circle"), det("square", 30)]
    assert judge(meta, base + [det("diamond", 50)], SIZE)[0]  # one diamond < 2
    assert not judge(meta, base + [det("triangle", 50)], SIZE)[0]
    assert not judge(meta, base + [det("diamond", 50), det("diamond", 40, 40)], SIZE)[0]
    assert not judge(meta, base[:1], SIZE)[0]


def test_threshold_is_0_3_strictly():
    meta = {"tag": "single_object", "include": [one("circle")]}
    assert judge(meta, [det("circle", score=0.31)], SIZE)[0]
    assert not judge(meta, [det("circle", score=0.3)], SIZE)[0]
    assert not judge(meta, [det("circle", score=0.1)], SIZE)[0]


def test_threshold_is_0_9_for_counting_only():
    counting = {"tag": "counting", "include": [one("circle", 2)], "exclude": [one("circle", 3)]}
    two = [det("circle", 10, score=0.95), det("circle", 40, score=0.95)]
    assert judge(counting, two, SIZE)[0]
    weak = [det("circle", 10, score=0.95), det("circle", 40, score=0.85)]
    assert judge(counting, weak, SIZE) == (False, "expected 2 circle, found 1")
    # a third object at 0.85 does not count against the exclude clause either
    assert judge(counting, two + [det("circle", 55, score=0.85)], SIZE)[0]
    other = {"tag": "two_object", "include": [one("circle"), one("square")]}
    assert judge(other, [det("circle", score=0.5), det("square", 30, score=0.5)], SIZE)[0]


def test_at_most_16_per_class_most_confident_first():
    many = [det("circle", 2 + 3 * i, score=0.5 + i / 100) for i in range(20)]
    assert judge({"tag": "x", "include": [one("circle", 16)]}, many, SIZE)[0]
    assert not judge({"tag": "x", "include": [one("circle", 17)]}, many, SIZE)[0]
    # the exclude clause sees the cap too: 20 circles count as 16
    assert judge({"tag": "x", "include": [one("circle")], "exclude": [one("circle", 17)]}, many, SIZE)[0]
    # the kept ones are the most confident: the four weakest are white, the rest red
    coloured = [Detection(d.label, d.score, d.box, "white" if i < 4 else "red") for i, d in enumerate(many)]
    assert judge({"tag": "x", "include": [one("circle", 16, color="red")]}, coloured, SIZE)[0]


# -- colour -------------------------------------------------------------------------------------
def test_colour_of_the_single_object():
    meta = {"tag": "colors", "include": [one("circle", color="red")]}
    assert judge(meta, [det("circle", color="red")], SIZE)[0]
    ok, reason = judge(meta, [det("circle", color="blue")], SIZE)
    assert not ok and "expected 1 red circle, found 0" in reason and "blue" in reason
    assert not judge(meta, [det("circle", color=None)], SIZE)[0]


def test_colour_is_checked_on_the_count_most_confident_only():
    meta = {"tag": "colors", "include": [one("circle", color="red")]}
    # the most confident circle is blue: GenEval looks only at it, so a red one behind fails
    dets = [det("circle", 10, score=0.9, color="blue"), det("circle", 40, score=0.8, color="red")]
    assert not judge(meta, dets, SIZE)[0]
    dets = [det("circle", 10, score=0.8, color="blue"), det("circle", 40, score=0.9, color="red")]
    assert judge(meta, dets, SIZE)[0]
    two = {"tag": "x", "include": [one("circle", 2, color="red")]}
    assert not judge(two, [det("circle", 10, color="red"), det("circle", 40, color="green")], SIZE)[0]
    assert judge(two, [det("circle", 10, color="red"), det("circle", 40, color="red")], SIZE)[0]


def test_colour_attribution_binds_colour_to_class():
    meta = {"tag": "color_attr", "include": [one("circle", color="red"), one("square", color="blue")]}
    assert judge(meta, [det("circle", color="red"), det("square", 30, color="blue")], SIZE)[0]
    swapped = [det("circle", color="blue"), det("square", 30, color="red")]
    assert not judge(meta, swapped, SIZE)[0]


# -- position -----------------------------------------------------------------------------------
@pytest.mark.parametrize("rel, dx, dy", [("left of", -20, 0), ("right of", 20, 0),
                                         ("above", 0, -20), ("below", 0, 20)])
def test_each_relation(rel, dx, dy):
    meta = {"tag": "position", "include": [one("square"), one("circle", position=[rel, 0])]}
    square = det("square", 32, 32)
    assert judge(meta, [square, det("circle", 32 + dx, 32 + dy)], SIZE) == (True, "")
    ok, reason = judge(meta, [square, det("circle", 32 - dx, 32 - dy)], SIZE)
    assert not ok and reason.startswith(f"expected circle {rel} square")
    assert relations(det("a", 32 + dx, 32 + dy).box, square.box) == {rel}


def test_diagonal_offsets_give_both_relations_or_none():
    b = det("b", 32, 32).box
    assert relations(det("a", 52, 12).box, b) == {"right of", "above"}
    # at about 30 degrees off the axis the shrunk vertical component is under half the distance
    assert relations(det("a", 52, 22).box, b) == {"right of"}


def test_shrink_makes_near_overlapping_boxes_unrelated():
    # sizes 6 + 6: each component shrinks by 1.2 px; an offset of (1, 1) shrinks to zero
    assert relations(det("a", 33, 33).box, det("b", 32, 32).box) == set()
    meta = {"tag": "position", "include": [one("square"), one("circle", position=["right of", 0])]}
    ok, reason = judge(meta, [det("square", 32, 32), det("circle", 33, 32)], SIZE)
    assert not ok and "no relation" in reason
    # past the shrink, the shrunk offset must still exceed half the distance: 2.4 px here
    assert relations(det("a", 34.3, 32).box, det("b", 32, 32).box) == set()
    assert relations(det("a", 34.5, 32).box, det("b", 32, 32).box) == {"right of"}


def test_shrink_uses_the_unshrunk_norm():
    # offset (10, 4), sizes 10 + 10 -> shrink 2: shrunk (8, 2) over |(10, 4)| = 10.77 -> dx 0.74
    a, b = det("a", 42, 34, size=10).box, det("b", 32, 30, size=10).box
    assert relations(a, b) == {"right of"}
    # offset (6, 0), sizes 16 + 16 -> shrunk 2.8 over 6 = 0.47 < 0.5: no relation though apart
    a, b = det("a", 38, 32, size=16).box, det("b", 32, 32, size=16).box
    assert relations(a, b) == set()


def test_position_every_found_object_against_every_target():
    meta = {"tag": "x", "include": [one("square", 2), one("circle", 2, position=["left of", 0])]}
    squares = [det("square", 50, 20), det("square", 50, 45)]
    assert judge(meta, squares + [det("circle", 10, 20), det("circle", 10, 45)], SIZE)[0]
    # one circle sits between the two squares' columns: not left of the second
    ok, reason = judge(meta, squares + [det("circle", 10, 20), det("circle", 60, 45)], SIZE)
    assert not ok and "expected circle left of square" in reason


def test_position_needs_the_target_group_matched():
    meta = {"tag": "position",
            "include": [one("square", color="red"), one("circle", position=["left of", 0])]}
    dets = [det("square", 50, 32, color="blue"), det("circle", 10, 32)]
    ok, reason = judge(meta, dets, SIZE)
    assert not ok and "no square for circle to be left of" in reason
    with pytest.raises(ValueError, match="does not come before"):
        judge({"tag": "x", "include": [one("circle", position=["left of", 0])]}, [det("circle")], SIZE)


# -- aggregation --------------------------------------------------------------------------------
def test_overall_is_the_unweighted_task_mean():
    assert overall({"single_object": 1.0, "counting": 0.5, "position": 0.0}) == pytest.approx(0.5)
    assert math.isnan(overall({}))


def test_summarize_per_task_and_overall():
    df = pd.DataFrame({"task": ["position", "single_object", "single_object", "single_object", "counting"],
                       "geneval_correct": [0.0, 1.0, 1.0, 0.0, 1.0]})
    table = summarize(df)
    assert list(table.task) == ["single_object", "counting", "position", "overall"]
    assert table.accuracy.tolist() == pytest.approx([2 / 3, 1.0, 0.0, (2 / 3 + 1.0 + 0.0) / 3])
    assert table.images.tolist() == [3, 1, 1, 5]
    assert summarize(pd.DataFrame({"task": [], "geneval_correct": []})) is None

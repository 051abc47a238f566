"""T2I-CompBench's rules for spatial, 3d_spatial, numeracy and complex, on hand-made boxes."""

import math
from types import SimpleNamespace

import pytest
import torch

from bench.evaluators import t2i_rules as rules
from bench.evaluators.t2i_rules import Detection


class FakeNLP:
    """spaCy's interface for the rules: tokens with .text and .pos_, and noun_chunks; tags given."""

    def __init__(self, tags: dict[str, str], chunks: tuple[str, ...] = ()):
        self.tags, self.chunks = tags, chunks

    def __call__(self, text):
        words = text.replace(".", " .").split()
        return _Doc([SimpleNamespace(text=w, pos_=self.tags.get(w, "X")) for w in words], self.chunks)


class _Doc(list):
    def __init__(self, tokens, chunks):
        super().__init__(tokens)
        self.noun_chunks = [SimpleNamespace(text=c) for c in chunks]


def test_detection_frame_is_torchvisions_resize_479_max_480():
    assert rules.frame_size(512, 512) == (479, 479)
    assert rules.frame_size(1024, 1024) == (479, 479)
    assert rules.frame_size(1024, 768) == (480, 360)  # 479 × 1024/768 = 638 > 480: long side 480
    assert rules.frame_size(768, 1024) == (360, 480)


def test_relations_in_two_dimensions():
    left, right = (0, 0, 100, 100), (200, 0, 300, 100)
    assert rules.position_2d("on the left of", left, right) == 1
    assert rules.position_2d("on the left of", right, left) == 0
    assert rules.position_2d("on the right of", right, left) == 1
    above, below = (0, 0, 100, 100), (0, 200, 100, 300)
    assert rules.position_2d("on the top of", above, below) == 1
    assert rules.position_2d("on the bottom of", below, above) == 1
    assert rules.position_2d("on the left of", above, below) == 0  # vertical offset dominates
    # overlapping boxes: IoU 1/3 ≥ 0.1 gives 0.1 / IoU
    assert rules.position_2d("on the left of", (0, 0, 100, 100), (50, 0, 150, 100)) == pytest.approx(0.3)
    assert rules.position_2d("next to", (0, 0, 10, 10), (100, 400, 110, 410)) == 1  # |dx| < 150
    assert rules.position_2d("near", (0, 0, 10, 10), (300, 600, 310, 610)) == pytest.approx(150 / 600)
    assert rules.position_2d("on top of", above, below) == 0  # the benchmark has no rule for it


def test_relation_is_the_first_of_the_vocabulary_found():
    assert rules.locality("a cat on the top of a dog", rules.SPATIAL_2D) == "on the top of"
    assert rules.locality("a hat on top of a rack", rules.SPATIAL_2D) == "on top of"
    assert rules.locality("a dog hidden by a chair", rules.SPATIAL_3D) == "hidden"
    assert rules.locality("a dog", rules.SPATIAL_2D) is None


def test_spatial_score_weighs_confidences_and_position_and_cuts_below_half():
    dog, cat = (0, 0, 100, 100), (200, 0, 300, 100)
    found = [Detection("dog", 0.6, dog), Detection("cat", 0.8, cat), Detection("dog", 0.5, cat)]
    assert rules.spatial_score("on the left of", "dog", "cat", found) == pytest.approx(0.25 * 0.6 + 0.25 * 0.8 + 0.5)
    assert rules.spatial_score("on the right of", "dog", "cat", found) == 0  # 0.35 < 0.5
    assert rules.spatial_score("on the left of", "dog", "horse", found) == 0  # one object: 0.15 < 0.5
    assert rules.spatial_score("on the left of", None, None, found) == 0


def test_three_d_uses_the_depth_map_as_the_benchmark_indexes_it():
    depth = torch.zeros(100, 100)
    depth[60:80, 10:30] = 1.0  # rows 60..80, columns 10..30: where the benchmark looks for box (x 60..80, y 10..30)
    front, back = (60, 10, 80, 30), (50, 0, 90, 40)  # IoU 400 / 1600 = 0.25
    assert rules.position_3d("in front of", front, back, depth) == pytest.approx(0.25 / 0.5)
    assert rules.position_3d("behind", front, back, depth) == 0
    assert rules.position_3d("hidden", back, front, depth) == pytest.approx(0.5)
    assert rules.position_3d("in front of", front, (0, 0, 10, 10), depth) == 0  # no overlap: 0
    assert rules.position_3d("in front of", front, front, depth) == 0  # same depth: not in front
    depth_t = depth.T.contiguous()  # read as depth[y, x] it would be the other way round
    assert rules.position_3d("in front of", front, back, depth_t) == 0
    assert rules.position_3d("on the left of", (0, 0, 10, 10), (50, 0, 60, 10), depth) == 1  # 2-D rules too
    found = [Detection("dog", 0.4, front), Detection("cat", 0.4, back)]
    assert rules.spatial_score("in front of", "dog", "cat", found, depth=depth) == pytest.approx(0.2 + 0.25)  # no cut


def test_objects_of_simple_prompts_with_and_without_spacy():
    assert rules.simple_objects("a girl on the top of a frog", rules.SPATIAL_2D) == ("person", "frog")
    assert rules.simple_objects("a sofa in front of a chicken", rules.SPATIAL_3D) == ("sofa", "chicken")
    assert rules.simple_objects("a dog", rules.SPATIAL_2D) == (None, None)
    nlp = FakeNLP({"girl": "NOUN", "top": "NOUN", "frog": "NOUN"})
    assert rules.simple_objects("a girl on the top of a frog", rules.SPATIAL_2D, nlp) == ("person", "frog")


def test_objects_of_complex_prompts_are_the_nouns_around_the_preposition():
    nlp = FakeNLP({"hat": "NOUN", "coat": "NOUN", "rack": "NOUN", "red": "ADJ", "brown": "ADJ", "was": "AUX"})
    assert rules.complex_objects("The red hat was on top of the brown coat rack.", nlp) == ("hat", "coat")
    assert rules.complex_objects("The red hat was on the shelf.", nlp) == (None, None)  # no listed preposition
    nlp = FakeNLP({"Paris": "PROPN", "Eiffel": "PROPN", "Tower": "PROPN", "girl": "NOUN"})
    assert rules.complex_objects("The girl next to Eiffel Tower.", nlp) == ("person", "Tower")
    assert rules.complex_objects("The girl next to Eiffel Tower", nlp) == (None, None)  # a final PROPN is not read
    assert rules.without_adjectives("The red hat was on top of the brown coat rack.",
                                    FakeNLP({"red": "ADJ", "brown": "ADJ"})) == "The hat was on top of the coat rack ."


NAMES = ["dog", "cat", "tent", "boat", "pig", "teddy bear", "girl", "ship"]
PLURALS = ["dogs", "cats", "tents", "boats", "pigs", "teddy bears", "girls", "ships"]


def test_numeracy_reads_numbers_and_objects_as_the_benchmark():
    assert rules.numeracy_targets("four tents, two boats and one pig", NAMES, PLURALS) == [
        ("tent", 4), ("boat", 2), ("pig", 1)]
    assert rules.numeracy_targets("two teddy bears and a dog", NAMES, PLURALS) == [("teddy bear", 2), ("dog", 1)]
    assert rules.numeracy_targets("three girls on two ships", NAMES, PLURALS) == [("person", 3), ("boat", 2)]
    assert rules.numeracy_targets("a dogs", NAMES, PLURALS) == [("dog", None)]  # never a count
    assert rules.numeracy_targets("eight cats lounged in the sun", NAMES, PLURALS) == [("cat", 8)]
    assert rules.numeracy_targets("some dogs", NAMES, PLURALS) == []


def test_numeracy_score_counts_after_merging_duplicates():
    targets = [("dog", 2), ("cat", 1)]
    two_dogs = [Detection("dog", 0.9, (0, 0, 100, 100)), Detection("dog", 0.8, (200, 0, 300, 100))]
    cat = [Detection("cat", 0.7, (0, 200, 100, 300))]
    assert rules.numeracy_score(targets, two_dogs + cat) == 1.0
    assert rules.numeracy_score(targets, two_dogs[:1] + cat) == 0.75  # dog found, wrong count
    assert rules.numeracy_score(targets, two_dogs) == 0.5
    inside = Detection("dog", 0.5, (5, 5, 95, 95))  # 90 % inside the first dog: the same dog
    assert rules.numeracy_score(targets, two_dogs + [inside] + cat) == 1.0
    assert rules.numeracy_score([("bear", 1)], [Detection("teddy bear", 0.9, (0, 0, 9, 9))]) == 1.0
    assert math.isnan(rules.numeracy_score([], two_dogs))


def test_three_in_one():
    assert rules.three_in_one("spatial", 0.6, 0.8, 0.3) == pytest.approx(0.7)
    assert rules.three_in_one("action", 0.6, 0.8, 0.3) == pytest.approx(0.45)
    assert rules.three_in_one("both", 0.6, 0.9, 0.3) == pytest.approx(0.6)

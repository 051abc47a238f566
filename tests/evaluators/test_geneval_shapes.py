"""The geneval-shapes evaluator: rendered answers to the suite's prompts are judged right."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bench.evaluators import evaluators, load_evaluator
from bench.evaluators.geneval_shapes import geneval_shapes
from bench.shapes import language, scene
from bench.suites.base import Prompt
from bench.suites.shapes_geneval import shapes_geneval


def test_registered_with_a_one_line_doc():
    entry = evaluators.get("geneval-shapes")
    assert entry.factory is geneval_shapes and entry.doc and "\n" not in entry.doc


def test_every_suite_prompt_rendered_is_correct_and_summarised():
    prompts = list(shapes_geneval().prompts)
    rng = np.random.default_rng(0)
    images = scene.to_tensor([scene.render(language.scene_for(p.metadata, rng)) for p in prompts])
    ev = load_evaluator("geneval-shapes")
    rows = ev.evaluate(images, prompts)
    assert [r["geneval_correct"] for r in rows] == [1.0] * len(prompts)
    assert all(r["geneval_reason"] == "" for r in rows)
    table = ev.summarize(pd.DataFrame({"task": [p.task for p in prompts],
                                       "geneval_correct": [r["geneval_correct"] for r in rows]}))
    assert list(table.task) == [*language.TASKS, "overall"]
    assert table.accuracy.tolist() == [1.0] * 7


def test_wrong_images_get_a_reason():
    meta = language.prompt_for("counting", ("circle",), count=3)
    prompt = Prompt("counting_000", meta["prompt"], "counting", meta)
    rng = np.random.default_rng(1)
    two = scene.place(rng, [("circle", "red"), ("circle", "blue")])
    blue = language.prompt_for("colors", ("square",), ("red",))
    images = scene.to_tensor([scene.render(two), scene.render(scene.place(rng, [("square", "blue")]))])
    rows = geneval_shapes().evaluate(images, [prompt, Prompt("colors_000", blue["prompt"], "colors", blue)])
    assert rows[0] == {"geneval_correct": 0.0, "geneval_reason": "expected 3 circle, found 2"}
    assert rows[1]["geneval_correct"] == 0.0 and "expected 1 red square, found 0" in rows[1]["geneval_reason"]


def test_prompts_without_metadata_are_not_judged():
    image = scene.to_tensor([scene.render([])])
    rows = geneval_shapes().evaluate(image, [Prompt("00000", "a photo of a circle")])
    assert math.isnan(rows[0]["geneval_correct"]) and "no GenEval" in rows[0]["geneval_reason"]
    with pytest.raises(ValueError, match="2 images for 1 prompts"):
        geneval_shapes().evaluate(image.repeat(2, 1, 1, 1), [Prompt("00000", "x")])

"""VQAScore: P("Yes") after the chat-formatted question, from one forward pass per image."""

from pathlib import Path

import pandas as pd
import pytest
import torch
from PIL import Image

from bench.evaluators.base import load_evaluator
from bench.suites import Prompt
from bench.evaluators.vqascore import PAPER
from tests.run_helpers import cli_refused, cli_run

PROMPTS = Path(__file__).resolve().parents[2] / "examples" / "prompts.txt"


def test_score_is_the_probability_of_yes_after_the_question():
    ev = load_evaluator("vqascore-tiny")
    images = torch.rand(2, 3, 40, 40)
    rows = ev.evaluate(images, [Prompt("0", "a red cat"), Prompt("1", "two dogs")])
    question = ev.question("a red cat")
    assert PAPER.question.format(prompt="a red cat") in question and "<image>" in question
    assert 'show "a red cat"?' in question
    pil = Image.fromarray((images[0] * 255).round().to(torch.uint8).permute(1, 2, 0).numpy())
    inputs = ev.processor(text=[question], images=[pil], return_tensors="pt")
    with torch.no_grad():
        expected = ev.model(**inputs).logits[0, -1].softmax(-1)[ev.answer_id]
    assert rows[0]["vqascore"] == pytest.approx(float(expected), rel=1e-5)
    assert 0 < rows[1]["vqascore"] < 1 and rows[0]["vqascore"] != rows[1]["vqascore"]
    assert ev.answer_id == ev.processor.tokenizer.encode("Yes", add_special_tokens=False)[0]


def test_a_run_records_vqascore_and_summarises_it_per_task(tmp_path):
    out = cli_run(tmp_path / "run", "--model", "sd-turbo-tiny", "--reward", "redness", "--suite", str(PROMPTS),
                  "--evaluator", "vqascore-tiny", limit=2, seeds="0")
    df = pd.read_csv(f"{out}/records.csv")
    assert df["vqascore"].between(0, 1).all() and len(df) == 2


@pytest.mark.parametrize("spec, fragment", [("vqascore", "llava-hf/llava-onevision-qwen2-7b-ov-hf (revision 0d506805"),
                                            ("vqascore:my-org/my-vlm", "my-org/my-vlm (revision main)"),
                                            ("vqascore:my-org/my-vlm@0123abcd", "my-org/my-vlm (revision 0123abcd)"),
                                            ("geneval-shapes:x", "evaluator 'geneval-shapes' takes no model")])
def test_bad_or_missing_evaluators_are_one_line(tmp_path, empty_hub, spec, fragment):
    line = cli_refused(tmp_path / "r", "--model", "sd-turbo-tiny", "--reward", "redness", "--suite", str(PROMPTS),
                       "--evaluator", spec)
    assert fragment in line


def test_a_model_without_a_revision_is_recorded_as_unpinned():
    from bench.evaluators.vqascore import DEFAULT_MODEL, DEFAULT_REVISION, resolve

    assert resolve(None) == (DEFAULT_MODEL, DEFAULT_REVISION, True)
    assert resolve("my-org/my-vlm@abc123") == ("my-org/my-vlm", "abc123", True)
    assert resolve("my-org/my-vlm") == ("my-org/my-vlm", "main", False)


def test_llava_onevision_is_asked_as_t2v_metrics_asks_it():
    """t2v-metrics' LLaVA-OneVision question, in LLaVA-NeXT's qwen_1_5 conversation (its system line
    included), not the paper's question through the hub's chat template."""
    from types import SimpleNamespace

    from bench.evaluators.vqascore import VQAScore

    model = torch.nn.Linear(1, 1)
    model.config = SimpleNamespace(model_type="llava_onevision")
    tokenizer = SimpleNamespace(encode=lambda text, add_special_tokens=False: [9906] if text == "Yes" else [])
    ev = VQAScore(model, SimpleNamespace(tokenizer=tokenizer))
    assert ev.question("a red cat") == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<image>\n"
        'Does this image show "a red cat"? Answer the question with Yes or No<|im_end|>\n<|im_start|>assistant\n')
    assert ev.answer_id == 9906 and ev.provenance["question"].startswith("Does this image show")

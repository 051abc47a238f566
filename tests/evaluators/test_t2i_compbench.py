"""T2I-CompBench judges: BLIP-VQA's vqa_prob, the product over noun phrases, CLIP for
non-spatial, categories without a judge, and the suites' wiring."""

from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app
from bench.evaluators.base import load_evaluator
from bench.evaluators.t2i_compbench import noun_phrases, question
from bench.suites.base import Prompt
from tests.run_helpers import cli_run

T2I = Path(__file__).resolve().parents[3] / "shared" / "suites" / "t2i-compbench"


def _prompt(category, text):
    return Prompt(f"{category}_00000", text, category, {"category": category})


def test_noun_phrases_and_questions():
    assert noun_phrases("a green bench and a blue bowl") == ["a green bench", "a blue bowl"]
    assert noun_phrases("a bathroom with green tile and a red shower curtain.") == [
        "a bathroom", "green tile", "a red shower curtain"]
    assert noun_phrases("the left and a cat") == ["a cat"]  # the benchmark drops 'the left'
    assert question('A "Green" bench.') == "a green bench?"


def test_p_yes_is_the_yes_share_of_the_first_decoder_step_with_enc_and_dec_tokens():
    ev = load_evaluator("t2i-compbench-tiny")
    seen = {}
    ev.vqa.text_encoder.register_forward_hook(lambda m, args, kwargs, out: seen.update(enc=kwargs["input_ids"]),
                                              with_kwargs=True)
    ev.vqa.text_decoder.register_forward_hook(lambda m, args, kwargs, out: seen.update(dec=kwargs["input_ids"],
                                                                                        logits=out.logits), with_kwargs=True)
    with torch.no_grad():
        p = ev.p_yes(torch.rand(3, 40, 40), ["a green bench?", "a blue bowl?"])
    assert (seen["enc"][:, 0] == ev.enc_id).all() and seen["dec"].tolist() == [[ev.dec_id], [ev.dec_id]]
    prob = seen["logits"][:, 0].float().softmax(-1)
    assert torch.allclose(p, prob[:, ev.yes_id] / (prob[:, ev.yes_id] + prob[:, ev.no_id]))
    assert ((p > 0) & (p < 1)).all()


def test_image_score_is_the_product_of_rounded_question_scores(monkeypatch):
    ev = load_evaluator("t2i-compbench-tiny")
    asked = []
    monkeypatch.setattr(ev, "p_yes", lambda image, qs: asked.extend(qs) or torch.tensor([0.81234, 0.5]))
    (row,) = ev.evaluate(torch.rand(1, 3, 32, 32), [_prompt("color", "a green bench and a blue bowl")])
    assert asked == ["a green bench?", "a blue bowl?"]
    assert row == {"t2i_score": pytest.approx(0.8123 * 0.5), "t2i_judge": "blip-vqa"}


def test_non_spatial_is_the_clip_cosine_and_spatial_has_no_judge_yet():
    ev = load_evaluator("t2i-compbench-tiny")
    images = torch.rand(2, 3, 32, 32)
    rows = ev.evaluate(images, [_prompt("non_spatial", "a man riding a horse"), _prompt("spatial", "a cat on the left of a dog")])
    assert rows[0]["t2i_judge"] == "clip-b32"
    assert rows[0]["t2i_score"] == pytest.approx(float(ev.clip.cosine(images[:1], ["a man riding a horse"])[0]), abs=1e-6)
    assert rows[1]["t2i_score"] != rows[1]["t2i_score"] and "UniDet" in rows[1]["t2i_reason"]


@pytest.mark.skipif(not (T2I / "color_val.txt").is_file(), reason="shared/suites/t2i-compbench is not beside the repository")
def test_t2i_suites_use_the_judge_and_the_flag_replaces_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    base = ["run", "--model", "sd-turbo-tiny", "--reward", "redness", "--suite", f"t2i-compbench-color:{T2I / 'color_val.txt'}",
            "--limit", "2", "--seeds", "0", "-q", "--no-images"]
    result = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "real")])
    assert result.exit_code == 2 and "Salesforce/blip-vqa-capfilt-large" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "real").exists()
    out = cli_run(tmp_path / "tiny", "--model", "sd-turbo-tiny", "--reward", "redness",
                  "--suite", f"t2i-compbench-color:{T2I / 'color_val.txt'}", "--evaluator", "t2i-compbench-tiny",
                  limit=2, seeds="0")
    df = pd.read_csv(f"{out}/records.csv")
    assert df["t2i_score"].between(0, 1).all() and (df["t2i_judge"] == "blip-vqa").all()


@pytest.mark.skipif(not (T2I / "color_val.txt").is_file(), reason="shared/suites/t2i-compbench is not beside the repository")
def test_export_names_files_as_the_benchmark_reads_them(tmp_path):
    out = cli_run(tmp_path / "run", "--model", "sd-turbo-tiny", "--reward", "redness",
                  "--suite", f"t2i-compbench-color:{T2I / 'color_val.txt'}", "--evaluator", "none",
                  limit=2, seeds="3,5", images=True)
    result = CliRunner().invoke(app, ["export", out, "--format", "t2i-compbench", "--output", str(tmp_path / "layout")])
    assert result.exit_code == 0, result.output
    prompts = (T2I / "color_val.txt").read_text().splitlines()[:2]
    names = sorted(p.name for p in (tmp_path / "layout" / "samples").iterdir())
    assert names == sorted([f"{prompts[0]}_000000.png", f"{prompts[0]}_000001.png",
                            f"{prompts[1]}_000002.png", f"{prompts[1]}_000003.png"])
    image = (tmp_path / "layout" / "samples" / f"{prompts[1]}_000003.png").read_bytes()
    assert image == (Path(out) / "images" / "color_00001_5.png").read_bytes()  # prompt 1, its second seed
    shapes = cli_run(tmp_path / "shapes", limit=1, seeds="0")
    result = CliRunner().invoke(app, ["export", shapes, "--format", "t2i-compbench", "--output", str(tmp_path / "o")])
    assert result.exit_code == 2 and "not a finished run of a t2i-compbench suite" in result.output

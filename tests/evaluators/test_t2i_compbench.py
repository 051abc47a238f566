"""T2I-CompBench judges: BLIP-VQA's vqa_prob, the product over noun phrases, CLIP for
non-spatial, the detector categories and the 3-in-1 wired to the rules, the tiny detector and
depth, the pinned lists, and the suites' wiring."""

from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app
from bench.evaluators.base import load_evaluator
from bench.evaluators import t2i_rules as rules
from bench.evaluators.t2i_compbench import noun_phrases, question
from bench.evaluators.t2i_rules import Detection
from bench.suites.base import Prompt
from tests.run_helpers import cli_refused, cli_run

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
    assert row == {"t2i_score": float(f"{0.8123 * 0.5:.4f}"), "t2i_judge": "blip-vqa"}  # written as the benchmark does
    monkeypatch.setattr(ev, "p_yes", lambda image, qs: asked.extend(qs) or torch.full((len(qs),), 0.9))
    asked.clear()
    ev.evaluate(torch.rand(1, 3, 32, 32), [_prompt("color", ", ".join(f"a red {n}" for n in "abcdefghij"))])
    assert len(asked) == 8  # the benchmark asks about the first eight noun phrases


def test_non_spatial_is_the_clip_cosine():
    ev = load_evaluator("t2i-compbench-tiny")
    images = torch.rand(1, 3, 32, 32)
    (row,) = ev.evaluate(images, [_prompt("non_spatial", "a man riding a horse")])
    assert row["t2i_judge"] == "clip-b32"
    assert row["t2i_score"] == pytest.approx(float(ev.clip.cosine(images, ["a man riding a horse"])[0]), abs=1e-6)


def _scripted(ev, boxes, depth=None):
    """The judge with a detector that returns ``boxes`` (name -> [(score, box)]) for the names asked."""
    asked = []

    def detector(image, names):
        asked.append(list(names))
        found = [Detection(n, s, b) for n in names for s, b in boxes.get(n, [])]
        return sorted(found, key=lambda d: -d.score)

    ev.loaded.update(detector=detector, depth=lambda image: depth)
    return asked


def test_spatial_3d_and_numeracy_score_the_detectors_boxes_with_the_benchmarks_rules():
    ev = load_evaluator("t2i-compbench-tiny")
    asked = _scripted(ev, {"person": [(0.9, (0, 0, 100, 100))], "frog": [(0.7, (300, 0, 400, 100))]})
    rows = ev.evaluate(torch.rand(2, 3, 32, 32), [_prompt("spatial", "a girl on the left of a frog"),
                                                  _prompt("spatial", "a girl on the right of a frog")])
    assert asked == [["person", "frog"], ["person", "frog"]]
    assert rows[0]["t2i_score"] == pytest.approx(0.25 * 0.9 + 0.25 * 0.7 + 0.5) and rows[0]["t2i_judge"] == "owlv2"
    assert rows[1]["t2i_score"] == 0 and "person | on the right of | frog" in rows[1]["t2i_detail"]

    depth = torch.zeros(479, 479)
    depth[0:100, 0:100] = 1  # the first box is nearer
    _scripted(ev, {"dog": [(0.8, (0, 0, 100, 100))], "cat": [(0.6, (0, 0, 100, 120))]}, depth)
    rows = ev.evaluate(torch.rand(2, 3, 32, 32), [_prompt("3d_spatial", "a dog in front of a cat"),
                                                  _prompt("3d_spatial", "a dog hidden by a cat")])
    assert rows[0]["t2i_score"] == pytest.approx(0.2 + 0.15 + 0.5) and rows[1]["t2i_score"] == pytest.approx(0.35)

    asked = _scripted(ev, {"dog": [(0.9, (0, 0, 10, 10)), (0.8, (20, 0, 30, 10))], "cat": [(0.7, (0, 40, 9, 49))]})
    rows = ev.evaluate(torch.rand(3, 3, 32, 32), [_prompt("numeracy", "two dogs and a cat"),
                                                  _prompt("numeracy", "three dogs"), _prompt("numeracy", "some dogs")])
    assert asked == [["dog", "cat"], ["dog"]]
    assert [r["t2i_score"] for r in rows[:2]] == [1.0, 0.5]
    assert rows[2]["t2i_score"] != rows[2]["t2i_score"] and "numeracy list" in rows[2]["t2i_reason"]


def test_complex_is_the_three_in_one_by_the_benchmarks_lists(monkeypatch):
    from bench.evaluators.t2i_compbench import JudgeLists
    from tests.evaluators.test_t2i_rules import FakeNLP

    ev = load_evaluator("t2i-compbench-tiny")
    (row,) = ev.evaluate(torch.rand(1, 3, 32, 32), [_prompt("complex", "The red hat was on top of the rack.")])
    if ev.nlp is None:
        assert row["t2i_score"] != row["t2i_score"] and "spaCy" in row["t2i_reason"]
    ev.nlp = FakeNLP({"hat": "NOUN", "rack": "NOUN", "dog": "NOUN", "red": "ADJ", "brown": "ADJ"}, ("The red hat",))
    ev.loaded["lists"] = JudgeLists([], [], frozenset({"the red hat was next to the brown rack"}),
                                    frozenset({"the red hat chased the dog"}))
    _scripted(ev, {"hat": [(0.8, (0, 0, 100, 100))], "rack": [(0.8, (120, 0, 200, 100))]})
    monkeypatch.setattr(ev, "blip_vqa", lambda image, text: 0.6)
    texts = []
    monkeypatch.setattr(ev.clip, "cosine", lambda image, t: texts.extend(t) or torch.tensor([0.3]))
    rows = ev.evaluate(torch.rand(3, 3, 32, 32), [_prompt("complex", "The red hat was next to the brown rack."),
                                                  _prompt("complex", "The red hat chased the dog."),
                                                  _prompt("complex", "The red hat next to the rack chased the dog.")])
    spatial = 0.25 * 0.8 * 2 + 0.5  # "next to": centres 110 px apart
    assert rows[0]["t2i_score"] == pytest.approx((spatial + 0.6) / 2) and rows[0]["t2i_judge"] == "3-in-1"
    assert rows[1]["t2i_score"] == pytest.approx((0.3 + 0.6) / 2)
    assert rows[2]["t2i_score"] == pytest.approx((spatial + 0.6 + 0.3) / 3)
    assert texts == ["The hat chased the dog .", "The hat next to the rack chased the dog ."]  # adjectives removed


def test_tiny_detector_and_depth_give_boxes_and_depth_in_the_benchmarks_frame():
    ev = load_evaluator("t2i-compbench-tiny")
    image = torch.rand(3, 48, 64)
    found = ev.expert("detector")(image, ["dog", "cat", "dog"])
    assert found and {d.label for d in found} <= {"dog", "cat"}
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)
    h, w = rules.frame_size(48, 64)
    assert all(0 <= d.box[0] <= d.box[2] <= w and 0 <= d.box[1] <= d.box[3] <= h for d in found)
    depth = ev.expert("depth")(image)  # the tiny hybrid's config says 32 px; it is fed 48 as MiDaS takes 480
    assert depth.shape == (h, w) and depth.min() >= 0 and 0.9 < depth.max() <= 1  # min-max normalised, resized
    assert ev.provenance["detector"] == "tiny-owlv2" and ev.provenance["depth"] == "tiny-dpt-hybrid"


def test_nms_keeps_the_best_of_overlapping_boxes_per_label():
    from bench.evaluators.t2i_experts import nms

    boxes = torch.tensor([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10], [50, 50, 60, 60]], dtype=torch.float)
    scores = torch.tensor([0.5, 0.9, 0.4, 0.3])
    labels = torch.tensor([0, 0, 1, 0])
    assert nms(boxes, scores, labels).tolist() == [1, 2, 3]


def test_judge_lists_are_pinned_and_missing_ones_say_where_to_put_them(tmp_path, monkeypatch):
    from bench.errors import SuiteError
    from bench.suites import download
    from bench.suites.t2i_compbench import judge_list

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SuiteError, match="new_objects.txt.*not cached.*put the file at"):
        judge_list("new_objects.txt")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("BENCH_OFFLINE", raising=False)
    monkeypatch.setattr(download, "http_get", lambda url, timeout=0: b"dog - dogs\n")
    with pytest.raises(SuiteError, match="sha256"):
        judge_list("new_objects.txt")
    assert not list(tmp_path.rglob("new_objects.txt"))  # nothing cached


@pytest.mark.skipif(not (T2I / "color_val.txt").is_file(), reason="shared/suites/t2i-compbench is not beside the repository")
def test_t2i_suites_use_the_judge_and_the_flag_replaces_it(tmp_path, empty_hub):
    line = cli_refused(tmp_path / "real", "--model", "sd-turbo-tiny", "--reward", "redness",
                       "--suite", f"t2i-compbench-color:{T2I / 'color_val.txt'}", limit=2)
    assert "Salesforce/blip-vqa-capfilt-large" in line
    out = cli_run(tmp_path / "tiny", "--model", "sd-turbo-tiny", "--reward", "redness",
                  "--suite", f"t2i-compbench-color:{T2I / 'color_val.txt'}", "--evaluator", "t2i-compbench-tiny",
                  limit=2, seeds="0")
    df = pd.read_csv(f"{out}/records.csv")
    assert df["t2i_score"].between(0, 1).all() and (df["t2i_judge"] == "blip-vqa").all()


def _exported(tmp_path, evaluator):
    """A two-prompt colour run (seeds 3, 5, images kept) exported to tmp_path/layout; the run folder."""
    out = cli_run(tmp_path / "run", "--model", "sd-turbo-tiny", "--reward", "redness",
                  "--suite", f"t2i-compbench-color:{T2I / 'color_val.txt'}", "--evaluator", evaluator,
                  limit=2, seeds="3,5", images=True)
    result = CliRunner().invoke(app, ["export", out, "--format", "t2i-compbench", "--output", str(tmp_path / "layout")])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.skipif(not (T2I / "color_val.txt").is_file(), reason="shared/suites/t2i-compbench is not beside the repository")
def test_export_names_files_as_the_benchmark_reads_them(tmp_path):
    out = _exported(tmp_path, "none")
    prompts = (T2I / "color_val.txt").read_text().splitlines()[:2]
    names = sorted(p.name for p in (tmp_path / "layout" / "samples").iterdir())
    assert names == sorted([f"{prompts[0]}_000000.png", f"{prompts[0]}_000001.png",
                            f"{prompts[1]}_000002.png", f"{prompts[1]}_000003.png"])
    image = (tmp_path / "layout" / "samples" / f"{prompts[1]}_000003.png").read_bytes()
    assert image == (Path(out) / "images" / "color_00001_5.png").read_bytes()  # prompt 1, its second seed
    shapes = cli_run(tmp_path / "shapes", limit=1, seeds="0")
    result = CliRunner().invoke(app, ["export", shapes, "--format", "t2i-compbench", "--output", str(tmp_path / "o")])
    assert result.exit_code == 2 and "not a finished run of a t2i-compbench suite" in result.output


@pytest.mark.skipif(not (T2I / "spatial_val.txt").is_file(), reason="shared/suites/t2i-compbench is not beside the repository")
def test_a_spatial_run_records_the_detector_it_loaded(tmp_path):
    import json

    out = cli_run(tmp_path / "run", "--model", "sd-turbo-tiny", "--reward", "redness",
                  "--suite", f"t2i-compbench-spatial:{T2I / 'spatial_val.txt'}", "--evaluator", "t2i-compbench-tiny",
                  limit=2, seeds="0")
    df = pd.read_csv(f"{out}/records.csv")
    assert (df["t2i_judge"] == "owlv2").all() and df["t2i_score"].between(0, 1).all()
    assert df["t2i_detail"].str.contains(" | ").all()
    (judge,) = json.loads((Path(out) / "manifest.json").read_text())["evaluators"]
    assert judge["detector"] == "tiny-owlv2" and "depth" not in judge  # 2-D: no depth model loaded


def test_prepare_loads_what_the_categories_need_and_missing_weights_are_one_line(tmp_path, monkeypatch):
    from bench.errors import BenchError
    from bench.evaluators.t2i_compbench import midas_depth, owl_detector

    ev = load_evaluator("t2i-compbench-tiny")
    ev.prepare([_prompt("color", "a red car"), _prompt("spatial", "a dog on the left of a cat")])
    assert set(ev.loaded) == {"detector"}
    ev.prepare([_prompt("3d_spatial", "a dog behind a cat"), _prompt("numeracy", "two dogs")])
    assert set(ev.loaded) == {"detector", "depth", "lists"}
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    for load, repo in ((owl_detector, "google/owlv2-base-patch16-ensemble"), (midas_depth, "Intel/dpt-hybrid-midas")):
        with pytest.raises(BenchError) as error:
            load("cpu")
        assert repo in str(error.value) and "\n" not in str(error.value)


@pytest.mark.skipif(not (T2I / "spatial_val.txt").is_file(), reason="shared/suites/t2i-compbench is not beside the repository")
def test_a_missing_detector_stops_the_run_before_it_starts(tmp_path, monkeypatch):
    from bench.errors import ConfigError
    from bench.evaluators import t2i_compbench

    def missing():
        raise ConfigError("google/owlv2-base-patch16-ensemble is not in the hub cache; download it first")

    monkeypatch.setattr(t2i_compbench, "tiny_experts", lambda device="cpu": {"detector": missing})
    line = cli_refused(tmp_path / "run", "--model", "sd-turbo-tiny", "--reward", "redness", "--suite",
                       f"t2i-compbench-spatial:{T2I / 'spatial_val.txt'}", "--evaluator", "t2i-compbench-tiny", limit=2)
    assert "owlv2" in line


@pytest.mark.skipif(not (T2I / "color_val.txt").is_file(), reason="shared/suites/t2i-compbench is not beside the repository")
def test_import_joins_the_benchmarks_scores_to_the_exported_images(tmp_path):
    import json

    out = _exported(tmp_path, "t2i-compbench-tiny")
    names = sorted((tmp_path / "layout" / "samples").iterdir(), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    # what the benchmark's BLIP script writes: question_id = the image's rank by k, answer as text
    official = [{"question_id": i, "answer": f"{0.1 * (i + 1):.4f}"} for i, _ in enumerate(names)]
    (tmp_path / "vqa_result.json").write_text(json.dumps(official))
    result = CliRunner().invoke(app, ["import-t2i-compbench", out, str(tmp_path / "vqa_result.json")])
    assert result.exit_code == 0, result.output
    assert "pearson" in result.output and "spearman" in result.output
    merged = pd.read_csv(Path(out) / "t2i_official.csv")
    records = pd.read_csv(Path(out) / "records.csv")
    second = merged[merged["k"] == 3].iloc[0]  # prompt 1, its second seed
    assert (second["prompt_id"], second["seed"], second["official_score"]) == ("color_00001", 5, pytest.approx(0.4))
    ours = records.set_index(["prompt_id", "seed"]).loc[("color_00001", 5), "t2i_score"]
    assert second["t2i_score"] == pytest.approx(ours)

    (tmp_path / "annotation_3_in_1").mkdir()
    (tmp_path / "annotation_3_in_1" / "vqa_result.json").write_text(json.dumps(official))
    result = CliRunner().invoke(app, ["import-t2i-compbench", out, str(tmp_path / "annotation_3_in_1" / "vqa_result.json")])
    assert result.exit_code == 2 and "3-in-1 script" in result.output  # numbers 10 images per complex prompt
    (tmp_path / "more.json").write_text(json.dumps(official + [{"question_id": 9, "answer": "0.5"}]))
    (tmp_path / "bad.json").write_text("{not json")
    for name, fragment in (("more.json", "scores image 9"), ("bad.json", "is not a T2I-CompBench result"),
                           ("absent.json", "cannot read")):
        result = CliRunner().invoke(app, ["import-t2i-compbench", out, str(tmp_path / name)])
        assert result.exit_code == 2 and fragment in result.output and len(result.output.strip().splitlines()) == 1

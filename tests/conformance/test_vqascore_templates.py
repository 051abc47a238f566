"""Conformance of ``vqascore``'s questions with t2v-metrics, the VQAScore package, read from its source.

t2v-metrics 3.0 installs (its wheel, without its dependencies: with them pip fails building an
unrelated "apex" package's dependency, and it pins torch 2.5.1 and transformers 4.49) but cannot
score here: its LLaVA-OneVision model imports LLaVA-NeXT's ``llava`` package, which is on no package
index, and importing ``t2v_metrics`` imports every model family it has (ffmpeg, decord, flash-attn,
...). So its question and answer templates, and the conversation it names, are read from its
source files with ``ast`` (nothing of it is run), and bench's ``FORMATS`` must equal them. The
``qwen_1_5`` conversation's text is LLaVA-NeXT's (``conv_qwen``: ChatML with the system line "You
are a helpful assistant."), written in bench's format.
"""

from __future__ import annotations

import ast
import importlib.util
import os
from pathlib import Path

import pytest

SPEC = importlib.util.find_spec("t2v_metrics")
if SPEC is None:
    if os.environ.get("BENCH_CONFORMANCE") == "1":
        raise RuntimeError("t2v-metrics is not installed: run bash benchmarks/conformance.sh")
    pytest.skip("t2v-metrics is not installed (bash benchmarks/conformance.sh)", allow_module_level=True)

MODELS = Path(SPEC.submodule_search_locations[0]) / "models" / "vqascore_models"
REPORT: dict[str, str] = {}


def tree(name: str) -> ast.Module:
    return ast.parse((MODELS / name).read_text())


def constants(module: ast.Module) -> dict[str, object]:
    """The module-level names assigned a literal (others, e.g. dicts naming variables, left out)."""
    found = {}
    for node in module.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return found


def defaults(module: ast.Module, cls: str, method: str) -> dict[str, object]:
    for node in ast.walk(module):
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for fn in node.body:
                if isinstance(fn, ast.FunctionDef) and fn.name == method:
                    args = fn.args.args[-len(fn.args.defaults):]
                    return {a.arg: ast.literal_eval(d) for a, d in zip(args, fn.args.defaults)}
    raise AssertionError(f"{cls}.{method} not found")


def as_format(template: str) -> str:
    """t2v-metrics' str.format template with bench's named field."""
    return template.replace("{}", "{prompt}")


def test_llava_onevision_question_answer_and_conversation():
    from bench.evaluators.vqascore import DEFAULT_MODEL, FORMATS

    module = tree("llavaov_model.py")
    theirs = defaults(module, "LLaVAOneVisionModel", "forward")
    ours = FORMATS["llava_onevision"]
    assert ours.question == as_format(theirs["question_template"])
    assert ours.answer == theirs["answer_template"]
    table = constants(module)["LLAVA_OV_MODELS"]
    name = DEFAULT_MODEL.split("/")[-1].removesuffix("-hf")  # llava-onevision-qwen2-7b-ov
    assert table[name]["model"]["conversation"] == "qwen_1_5"
    assert ours.conversation.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<image>\n")
    REPORT["llava-onevision"] = ours.question


def test_the_papers_question_for_other_families():
    from bench.evaluators.vqascore import PAPER

    for name in ("clip_t5_model.py", "llava_model.py"):
        theirs = constants(tree(name))
        assert PAPER.question == as_format(theirs["default_question_template"]), name
        assert PAPER.answer == theirs["default_answer_template"], name
    REPORT["other families"] = PAPER.question


def test_print_the_report():
    import importlib.metadata

    line = "; ".join(f"{k}: {v}" for k, v in REPORT.items())
    print(f"\nconformance vqascore questions vs t2v-metrics {importlib.metadata.version('t2v-metrics')}'s source "
          f"(its models cannot run here: LLaVA-NeXT is on no package index): {line}")

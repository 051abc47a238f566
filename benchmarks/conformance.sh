#!/usr/bin/env bash
# Conformance of bench's rewards and judges with their original packages, on the same random weights
# (tests/conformance/). The originals cannot be imported beside the core's torch (torchvision 0.28
# fails to load its operators there), so they live in their own environment, .venv-oracle (ignored by
# git): torch 2.14.1 + torchvision 0.29.1 (a CUDA build that runs on a CPU, about 5.6 GB) + the
# originals at pinned versions (open_clip_torch 3.3.0, image-reward 1.5, hpsv2 1.2.0, mmdet 2.28.2,
# salesforce-lavis 1.0.2, t2v-metrics 3.0, and GenEval's own pins in a folder of their own) + this project. Built once (about 3 min), the
# pieces added since are installed when missing; ORACLE=DIR builds or uses another folder.
#
#   bash benchmarks/conformance.sh            # one line per reward or judge, then pytest's summary
#   bash benchmarks/conformance.sh -k hps     # pytest options pass through
set -euo pipefail
cd "$(dirname "$0")/.."
oracle="${ORACLE:-.venv-oracle}"
if [ ! -x "$oracle/bin/python" ]; then
  python3 -m venv "$oracle"
  "$oracle/bin/python" -m pip install -q torch==2.14.1 torchvision==0.29.1 open_clip_torch==3.3.0
  # ImageReward 1.5 imports only beside transformers < 4.56 (it uses apply_chunking_to_forward),
  # openai-clip (which needs pkg_resources: setuptools < 81), and datasets/diffusers that accept
  # that transformers' huggingface_hub; it pins timm 0.6.13, which open_clip's ViTs do not use.
  "$oracle/bin/python" -m pip install -q image-reward==1.5 openai-clip "setuptools<81" "transformers<4.56" \
    "datasets<4" "diffusers<0.36"
  "$oracle/bin/python" -m pip install -q -e '.[dev]'
fi
pip_quiet() {  # pip's output goes to $oracle/pip.log, its tail to the screen when it fails
  "$oracle/bin/python" -m pip install -q --disable-pip-version-check "$@" >>"$oracle/pip.log" 2>&1 \
    || { tail -n 20 "$oracle/pip.log" >&2; return 1; }
}
site="$("$oracle/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
# hpsv2 1.2.0 (its own scoring path; its own copy of open_clip). Its wheel lacks the BPE vocabulary
# its tokenizer opens: the file is open_clip's (the same bytes), copied in.
if [ ! -f "$site/hpsv2/src/open_clip/bpe_simple_vocab_16e6.txt.gz" ]; then
  pip_quiet --no-deps hpsv2==1.2.0 clint
  cp "$site/open_clip/bpe_simple_vocab_16e6.txt.gz" "$site/hpsv2/src/open_clip/"
fi
# mmdetection 2.28.2 as GenEval uses it; mmcv 1.7.2 built without its compiled ops (none of which the
# tests' path calls; tests/conformance/test_geneval_detector.py stubs the module that would hold them).
if [ ! -d "$site/mmdet" ]; then
  MMCV_WITH_OPS=0 pip_quiet --no-deps --no-build-isolation mmcv==1.7.2
  pip_quiet --no-deps mmdet==2.28.2 addict terminaltables pycocotools opencv-python-headless yapf==0.32.0 six
fi
# LAVIS 1.0.2's BLIP VQA (T2I-CompBench's BLIP-VQA model and first step). Only its BLIP modules are
# imported (tests/conformance/test_t2i_blip_vqa.py), so only what they import is installed.
if [ ! -d "$site/lavis" ]; then
  pip_quiet --no-deps salesforce-lavis==1.0.2 omegaconf antlr4-python3-runtime==4.9.3 iopath portalocker
  pip_quiet --no-deps --no-build-isolation fairscale==0.4.4
fi
# t2v-metrics 3.0 (VQAScore): its wheel only, read by tests/conformance/test_vqascore_templates.py; with its
# dependencies pip fails (an unrelated "apex" whose dependency cannot build) and it pins torch 2.5.1.
[ -d "$site/t2v_metrics" ] || pip_quiet --no-deps t2v-metrics==3.0
# The packages GenEval pins for its colour classifier (open-clip-torch 2.20.0, clip-benchmark 1.4.0,
# and the scikit-learn it imports): a folder of their own, put on PYTHONPATH of the one process that
# runs them (tests/conformance/geneval_original.py), since open_clip 3.3 is imported beside bench.
pins="$oracle/geneval-pins"
if [ ! -d "$pins/clip_benchmark" ]; then
  pip_quiet --no-deps --target "$pins" open-clip-torch==2.20.0 clip-benchmark==1.4.0 scikit-learn==1.5.2 \
    joblib==1.4.2 threadpoolctl==3.5.0
fi
export BENCH_GENEVAL_PINS="$(cd "$pins" && pwd)"
log="$(mktemp)"
status=0
HF_HUB_OFFLINE=1 BENCH_CONFORMANCE=1 "$oracle/bin/python" -m pytest -q -s -p no:cacheprovider tests/conformance "$@" >"$log" 2>&1 || status=$?
grep -E "^conformance " "$log" || true
tail -n 1 "$log"
[ "$status" -eq 0 ] || { echo "conformance failed; the whole output: $log" >&2; exit "$status"; }

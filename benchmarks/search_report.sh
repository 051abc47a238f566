#!/usr/bin/env bash
# The built-in world's search and steering study (README "Search and steering"): every method's
# budget curve on the one-step student (shapes) and on the 8-step teacher (shapes-teacher), on
# shapes-geneval x seeds 0-3, in one comparison: each setting paired with its own model's base
# draw, the Pareto frontier over NFEs (and a second figure over TFLOPs).
# LIMIT prompts per task (default 12: 72 prompts, 288 images per setting; the whole suite is
# LIMIT=48) keeps it to about 45 min on 2 CPU cores; rerunning resumes every run where it stopped.
#   bash benchmarks/search_report.sh [OUT]        (default results/search-report)
set -euo pipefail
out="${1:-results/search-report}"
limit="${LIMIT:-12}"
runs=()
go() { local name="$1"; shift; bench run -q --limit "$limit" "$@" --out "$out/$name"; runs+=("$out/$name"); }

# The one-step student: 1 NFE a draw (paths and FK steering need intermediate noise levels)
# (best-of-n's batch size and ReNO's step checkpointing as on the teacher: they change no image,
# and settings equal on both models keep the labels to the budget)
go student-base --model shapes
for n in 4 16; do go "student-best-of-n-$n" --model shapes --method best-of-n --set n=$n --set batch_size=8; done
for r in 1 4; do go "student-zero-order-$r" --model shapes --method zero-order --set rounds=$r; done
go student-reno-10 --model shapes --method reno --set iterations=10 --set checkpoint_steps=true
go student-hypernoise --model shapes --method hypernoise

# The teacher: 8 Euler steps of the flow ODE, 8 NFEs a draw
t=(--model shapes-teacher)
go teacher-base "${t[@]}"
for n in 4 16; do go "teacher-best-of-n-$n" "${t[@]}" --method best-of-n --set n=$n; done
for r in 1 3; do go "teacher-zero-order-$r" "${t[@]}" --method zero-order --set rounds=$r; done
for n in 1 2 4; do go "teacher-paths-$n" "${t[@]}" --method paths --set n=$n; done
for k in 2 4 8; do go "teacher-fk-steering-$k" "${t[@]}" --method fk-steering --set particles=$k; done
go teacher-reno-5 "${t[@]}" --method reno --set iterations=5 --set checkpoint_steps=true

bench compare "${runs[@]}" --x nfe --out "$out/compare"
bench compare "${runs[@]}" --x tflops --out "$out/compare-tflops" --no-report

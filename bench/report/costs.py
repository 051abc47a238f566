"""`bench cost`'s text: one setting's estimate, and the papers' settings beside their seconds.

The papers' settings are the rows of ``bench/data/published.csv`` that report seconds (the Noise
Hypernetworks paper's Table 1: SD-Turbo, SANA-Sprint 0.6B and FLUX-Schnell at 4 steps × one
draw, best-of-50, ReNO-50 and HyperNoise), every search scored by the ReNO ensemble, in the half
precision each model runs in. ``benchmarks/published_flops.py`` writes their TFLOPs into that
file's ``tflops`` column, so that the papers' points land on a TFLOPs plot too.
"""

from __future__ import annotations

from typing import Any, Iterable

import pandas as pd

from bench.running.estimate import Estimate

PAPER_DTYPES = {"sd-turbo": "float16", "sana-sprint": "bfloat16", "flux-schnell": "bfloat16"}
PAPER_REWARD = "reno-ensemble"
PAPER_PROMPT = "a photo of a cat"  # every tokenizer pads to a fixed length: any prompt counts the same


def paper_settings(published: pd.DataFrame) -> list[dict[str, Any]]:
    """Every published setting that reports seconds (the HyperNoise paper's Table 1): model, its
    options (``4 steps`` is steps=4), half precision, method and its budget setting."""
    from methods.base import method_info

    rows = published.dropna(subset=["seconds"]).drop_duplicates(["model", "method", "budget", "model_setting"])
    out = []
    for _, r in rows.iterrows():
        steps = int(str(r["model_setting"]).split()[0]) if str(r["model_setting"]).split()[0].isdigit() else 1
        budget = method_info(r["method"]).budget
        settings = {budget: int(r["budget"])} if budget and pd.notna(r["budget"]) else {}
        out.append({"model": r["model"], "options": {"steps": steps} if steps != 1 else {},
                    "dtype": PAPER_DTYPES.get(r["model"], "bfloat16"), "method": r["method"], "settings": settings,
                    "budget": r["budget"], "model_setting": r["model_setting"]})
    return out


PART_NAMES = {"text": "text encoder", "denoiser": "denoiser (NFEs)", "decode": "VAE decode",
              "reward": "reward forward", "reward_backward": "reward backward",
              "generator_backward": "generator backward", "other": "other (method's own)"}
PART_COUNTS = {"text": "prompts_encoded", "denoiser": "nfe", "decode": "generations", "reward": "reward_forward",
               "reward_backward": "reward_backward", "generator_backward": "generator_backward"}


def _count(value: float) -> str:
    if value >= 1e9:
        return f"{value / 1e9:.2f}B"
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    return f"{value:,.0f}"


def describe(e: Estimate) -> str:
    """One setting, as `bench cost` prints it."""
    s = e.setting
    settings = ", ".join(f"{k}={v}" for k, v in s["settings"].items()) or "defaults"
    lines = [f"{s['model']} · {s['method']} ({settings}) · reward {s['reward']} · {s['dtype']} · batch {s['batch']}",
             "parameters: " + ", ".join(f"{k} {_count(v)}" for k, v in e.parameters.items() if v), ""]
    rows = [(PART_NAMES[k], e.counts.get(PART_COUNTS.get(k, ""), float("nan")) if k != "other" else float("nan"), v)
            for k, v in e.parts.items() if v or k in ("denoiser",)]
    table = pd.DataFrame(rows, columns=["per image", "count", "TFLOPs"])
    lines.append(table.to_string(index=False, formatters={"count": lambda v: "" if pd.isna(v) else f"{v:g}",
                                                          "TFLOPs": lambda v: f"{v:.4g}"}))
    lines += ["", f"TFLOPs per image: {e.tflops:.4g} (model FLOPs, as a run records them)"]
    if e.hardware_tflops > e.tflops:
        lines.append(f"executed with gradient checkpointing's recomputation: {e.hardware_tflops:.4g}")
    lines.append(f"memory: weights {e.weights_gb:.2f} GB, peak about {e.peak_gb:.2f} GB "
                 "(weights + the largest step's live tensors; a GPU adds its allocator's slack)")
    return "\n".join(lines)


def paper_table(estimates: Iterable[Estimate], published: pd.DataFrame) -> pd.DataFrame:
    """The papers' settings: TFLOPs per image and its ratio to one draw, beside the paper's
    seconds and their ratio; NFEs, reward passes and the memory estimate."""
    rows: list[dict[str, Any]] = []
    for e in estimates:
        s = e.setting
        pub = published[(published["model"] == s["model"]) & (published["method"] == s["method"])
                         & (published["metric"] == "overall")]
        rows.append({"model": s["model"], "method": s["method"], "budget": _budget(s), "dtype": s["dtype"],
                     "TFLOPs": e.tflops, "executed TFLOPs": e.hardware_tflops, "NFEs": e.counts.get("nfe", 0),
                     "reward passes": e.counts.get("reward_forward", 0) + e.counts.get("reward_backward", 0),
                     "peak GB": e.peak_gb, "paper s": float(pub["seconds"].iat[0]) if len(pub) else float("nan")})
    df = pd.DataFrame(rows)
    for ratio, col in (("FLOPs ×base", "TFLOPs"), ("time ×base", "paper s")):
        base = df[df["method"] == "base"].set_index("model")[col]
        df[ratio] = [v / base.get(m, float("nan")) for m, v in zip(df["model"], df[col])]
    return df[["model", "method", "budget", "dtype", "NFEs", "reward passes", "TFLOPs", "executed TFLOPs",
               "FLOPs ×base", "paper s", "time ×base", "peak GB"]]


def _budget(setting: dict[str, Any]) -> str:
    st = setting["settings"]
    return f"n={st['n']}" if "n" in st and setting["method"] == "best-of-n" else (
        f"{st['iterations']} it" if setting["method"] == "reno" else "")


def markdown(df: pd.DataFrame) -> str:
    """The paper table as markdown (README)."""
    fmt = {"TFLOPs": "{:.3g}", "executed TFLOPs": "{:.3g}", "FLOPs ×base": "{:.3g}", "paper s": "{:g}",
           "time ×base": "{:.3g}", "peak GB": "{:.1f}", "NFEs": "{:g}", "reward passes": "{:g}"}
    head = "| " + " | ".join(df.columns) + " |\n|" + "---|" * len(df.columns) + "\n"
    body = ""
    for _, r in df.iterrows():
        cells = ["" if isinstance(r[c], float) and pd.isna(r[c]) else fmt[c].format(r[c]) if c in fmt else str(r[c])
                 for c in df.columns]
        body += "| " + " | ".join(cells) + " |\n"
    return head + body

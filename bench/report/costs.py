"""`bench cost`'s text: one setting's estimate, and the papers' settings beside their seconds
(``bench.running.estimate.paper_settings`` says which they are)."""

from __future__ import annotations

from typing import Any, Iterable

import pandas as pd

from bench.running.estimate import Estimate
from bench.running.flops import COUNTS
from methods.base import method_info

PART_NAMES = {"text": "text encoder", "denoiser": "denoiser (NFEs)", "decode": "VAE decode",
              "reward": "reward forward", "reward_backward": "reward backward",
              "generator_backward": "generator backward", "other": "other (method's own)"}


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
    rows = [(PART_NAMES[k], e.counts.get(COUNTS.get(k, ""), float("nan")) if k != "other" else float("nan"), v)
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
    reference = [m for m in df["method"].unique() if method_info(m).reference]  # the one draw
    for ratio, col in (("FLOPs ×base", "TFLOPs"), ("time ×base", "paper s")):
        base = df[df["method"].isin(reference)].set_index("model")[col]
        df[ratio] = [v / base.get(m, float("nan")) for m, v in zip(df["model"], df[col])]
    return df[["model", "method", "budget", "dtype", "NFEs", "reward passes", "TFLOPs", "executed TFLOPs",
               "FLOPs ×base", "paper s", "time ×base", "peak GB"]]


def _budget(setting: dict[str, Any]) -> str:
    info = method_info(setting["method"])
    value = setting["settings"].get(info.budget) if info.budget else None
    return info.budget_text(value) if value is not None else ""


def _sig3(value: float) -> str:
    """Three significant digits, without an exponent (0.804, 68.4, 1,060)."""
    v = float(f"{value:.3g}")
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:g}"


def markdown(df: pd.DataFrame) -> str:
    """The paper table as markdown (README)."""
    fmt = {"TFLOPs": _sig3, "executed TFLOPs": _sig3, "FLOPs ×base": _sig3, "paper s": "{:g}".format,
           "time ×base": _sig3, "peak GB": "{:.1f}".format, "NFEs": "{:g}".format, "reward passes": "{:g}".format}
    head = "| " + " | ".join(df.columns) + " |\n|" + "---|" * len(df.columns) + "\n"
    body = ""
    for _, r in df.iterrows():
        cells = ["" if isinstance(r[c], float) and pd.isna(r[c]) else fmt[c](r[c]) if c in fmt else str(r[c])
                 for c in df.columns]
        body += "| " + " | ".join(cells) + " |\n"
    return head + body

"""A comparison table as a reader sees it: formatted cells with their intervals, for markdown
(table.md, a README) and the HTML report."""

from __future__ import annotations

import pandas as pd

from bench.analysis import quality as qual


def display(tab: pd.DataFrame, quality: str) -> tuple[list[str], list[list[str]]]:
    """The table as a reader sees it (markdown, HTML): header and formatted cells, estimates
    with their intervals, cost, paired gains, Pareto membership."""
    paired = "d_reward" in tab
    flops = "tflops" in tab and tab["tflops"].notna().any()  # runs made before FLOPs were counted: no column
    judged = quality != "reward"
    header = qual.get(quality).header
    head = ["setting", "prompts", "images", "reward", *([header] if judged else []),
            "s / image", "NFE / image", *(["TFLOPs / image"] if flops else []), *(["Δ reward", *([f"Δ {header}"] if judged else [])] if paired else []),
            "Pareto"]

    def ci(row: pd.Series, key: str, fmt: str) -> str:
        if key not in row or pd.isna(row[key]):
            return ""
        return f"{row[key]:{fmt}} [{row[key + '_low']:{fmt}}, {row[key + '_high']:{fmt}}]"

    body = []
    for _, row in tab.iterrows():
        cells = [row["setting"], f"{row['prompts']:d}", f"{row['images']:d}", ci(row, "reward", ".2f")]
        if judged:
            cells.append(ci(row, quality, ".3f"))
        cells += [seconds(row["seconds"]), f"{row['nfe']:g}"]
        if flops:
            cells.append(seconds(row["tflops"]))  # three significant digits, as seconds
        if paired:
            cells.append(ci(row, "d_reward", "+.2f"))
            if judged:
                cells.append(ci(row, f"d_{quality}", "+.3f"))
        cells.append("yes" if row["pareto"] else "")
        body.append(cells)
    return head, body


def seconds(value: float) -> str:
    """Seconds (or TFLOPs) to three significant digits, zeros kept (0.00240, 0.0603, 12.3, 1,234)."""
    if pd.isna(value):
        return ""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:#.3g}".rstrip(".")


def markdown(tab: pd.DataFrame, quality: str) -> str:
    """The table for a README."""
    head, body = display(tab, quality)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines) + "\n"

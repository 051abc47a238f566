"""Write the TFLOPs per image of every published setting with seconds into bench/data/published.csv.

    python benchmarks/published_flops.py            # about 7 minutes on 2 CPU cores

Each setting (model, its steps, method, budget: the paper's) is counted as `bench cost --paper`
counts it: bench.running.estimate on the real architectures built on the meta device, the search
scored by the ReNO ensemble. The column holds model FLOPs per image (10^12), rounded to four
significant digits; `bench compare --x tflops --published MODEL` places the papers' points with it.
"""

from __future__ import annotations

import sys
from importlib.resources import files

import pandas as pd

from bench.running.estimate import PAPER_PROMPT, PAPER_REWARD, estimate, paper_settings


def main() -> None:
    path = files("bench.data").joinpath("published.csv")
    df = pd.read_csv(path)
    df["tflops"] = float("nan")
    for st in paper_settings(df):
        print(f"counting {st['model']} · {st['method']} ...", file=sys.stderr)
        e = estimate(st["method"], st["settings"], st["model"], st["options"], PAPER_REWARD,
                     PAPER_PROMPT, st["dtype"])
        same = ((df["model"] == st["model"]) & (df["method"] == st["method"])
                & (df["model_setting"] == st["model_setting"])
                & ((df["budget"] == st["budget"]) | (df["budget"].isna() & pd.isna(st["budget"]))))
        df.loc[same, "tflops"] = float(f"{e.tflops:.4g}")
    cols = [c for c in df.columns if c != "source"] + ["source"]
    df[cols].to_csv(str(path), index=False)
    print(f"wrote the tflops column of {path}", file=sys.stderr)


if __name__ == "__main__":
    main()

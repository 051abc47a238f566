"""`bench compare`'s folder: the comparison of finished runs written as files a reader opens.

``compare`` merges the runs (bench.analysis.compare), computes the table, the amortised view and
the published points (bench.analysis), and writes table.csv/.md, pareto.png/.svg/.pdf, amortised*.png/.svg/.pdf
and report.html into a staging folder that replaces ``out`` whole, so a kill leaves the previous
comparison or the new one, never a mixture. ``comparison.json`` lists the files.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from bench.analysis.compare import Comparison, comparison
from bench.analysis.quality import get as quality_axis
from bench.errors import ResultsError
from bench.files import UMASK, atomic_write_text
from bench.report.tables import markdown


def compare(paths: list[Path], out: Path, baseline: str | None = None, x: str = "seconds",
            n_boot: int = 1000, report: bool = True, published: str = "auto", per_task: int = 4,
            quality: str = "auto") -> Comparison:
    """Compare the runs (bench.analysis.compare.comparison: ``baseline`` None is the reference
    method; ``quality`` the quality axis, bench.analysis.quality) and write the comparison to
    ``out`` (``write``)."""
    return write(comparison(paths, baseline, x, quality, n_boot), paths, out, report=report,
                 published=published, per_task=per_task)


def write(comp: Comparison, paths: list[Path], out: Path, report: bool = True, published: str = "auto",
          per_task: int = 4) -> Comparison:
    """Write ``comp`` to ``out``: table.csv, table.md, pareto.png/.svg/.pdf, and where a setting was
    trained, amortised.csv and amortised(_nfe).png/.svg/.pdf; with ``report``, report.html; and comparison.json listing them.
    ``out`` is replaced as a whole (a folder holding anything but an earlier comparison is
    refused). ``published``: a model whose published results to show (bench.analysis.published),
    "auto" for the runs' own model when it has any, "none" for none. Returns ``comp`` with its files."""
    from bench.analysis import published as pub

    df, tab, quality, x, costs = comp.records, comp.table, comp.quality, comp.x, comp.costs
    models = sorted(df["model"].astype(str).unique())
    model_pub = pub.match(models) if published == "auto" else (None if published == "none" else published)
    if model_pub:
        pub.require(model_pub)  # an unknown name: one clear error before anything is written
    # published numbers on this quality's axis: points where they have a cost, else levels
    suite_pub, metric_pub = quality_axis(quality).published or ("", "")
    points = pub.points(model_pub, suite_pub, metric_pub) if model_pub and metric_pub else None
    final, out = out, _stage(out)  # everything is written into a staging folder, then swapped in whole
    try:
        written = _write(out, df, tab, quality, x, costs, models, model_pub, points, suite_pub, report, per_task)
        atomic_write_text(out / MARKER, json.dumps({"runs": [str(p) for p in paths], "files": sorted(written),
                                                    "quality": quality, "x": x}, indent=2) + "\n")
        _publish(out, final)
    finally:
        if out.exists():
            shutil.rmtree(out, ignore_errors=True)
    comp.files = {name: final / path.name for name, path in written.items()}
    return comp


MARKER = "comparison.json"  # what marks a folder as bench compare's (and lists its files)


def _stage(out: Path) -> Path:
    """A fresh staging folder beside ``out``; refuses an ``out`` that holds something else."""
    if out.exists() and not out.is_dir():
        raise ResultsError(f"--out '{out}' is a file; give a folder for the comparison")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise ResultsError(f"--out '{out}' holds files that are not a bench comparison; choose a new or empty folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        for leftover in out.parent.glob(f".{out.name}.*-compare"):  # of a comparison killed mid-way
            if not _alive(leftover.name.split(".")[-2]):
                shutil.rmtree(leftover, ignore_errors=True)
        return _tempdir(out)
    except OSError as e:
        raise ResultsError(f"cannot write to --out '{out}' ({e.strerror or e}); choose a writable folder") from None


def _tempdir(out: Path) -> Path:
    """A hidden folder beside ``out`` named for this process, with a plain folder's permissions."""
    path = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix="-compare", dir=out.parent))
    path.chmod(0o777 & ~UMASK)
    return path


def _alive(pid: str) -> bool:
    """Whether the process that made a staging folder still runs (so its folder is in use)."""
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _publish(stage: Path, out: Path) -> None:
    """Swap the finished staging folder in for ``out``: the old comparison goes as a whole, so no
    stale file of it stays beside the new one; a kill leaves the old comparison or the new, or
    (between the two renames) none, never a mixture."""
    old = None
    if out.exists():
        old = _tempdir(out)
        os.replace(out, old / "previous")
    os.replace(stage, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write(out: Path, df: pd.DataFrame, tab: pd.DataFrame, quality: str, x: str, costs: dict[str, Any],
           models: list[str], model_pub: str | None, points: Any, suite_pub: str, report: bool,
           per_task: int) -> dict[str, Path]:
    """The comparison's files in ``out``: name -> path."""
    from bench.analysis import published as pub
    from bench.analysis.amortise import amortised
    from bench.report.plots import amortised_plot, pareto_plot

    written = {}
    atomic_write_text(out / "table.csv", tab.to_csv(index=False))
    atomic_write_text(out / "table.md", markdown(tab, quality))
    written.update({"table.csv": out / "table.csv", "table.md": out / "table.md"})
    what = [", ".join(sorted(df[c].astype(str).unique())) for c in ("suite", "model", "reward_name")]
    overlay = bool(model_pub) and model_pub in models and x in ("seconds", "tflops")
    # published scores without a cost (T2I-CompBench's): levels on the plot, for runs of that very model
    levels = (pub.levels(model_pub, [str(t) for t in dict.fromkeys(df["task"])], suite_pub)
              if suite_pub and points is None and model_pub in models else None)
    paths = pareto_plot(tab, quality, out, x=x, title=f"{what[0]} · {what[1]} · reward {what[2]}",
                        published=points, overlay=overlay, levels=levels,
                        published_title=f"published: {pub.NAMES.get(model_pub, model_pub)}, "
                                        f"{quality_axis(quality).label}" if model_pub else "")
    written.update({p.name: p for p in paths})
    am = amortised(tab, costs)
    figures = {"pareto": out / "pareto.svg"}
    if not am.empty:
        atomic_write_text(out / "amortised.csv", am.to_csv(index=False))
        written["amortised.csv"] = out / "amortised.csv"
        for unit, name in (("seconds", "amortised"), ("nfe", "amortised_nfe")):
            paths = amortised_plot(tab, costs, out, unit=unit)
            figures[name] = out / f"{name}.svg"
            written.update({p.name: p for p in paths})
    if report:
        from bench.report.html import write_report

        info = pub.summary(model_pub, models) if model_pub else None
        written["report.html"] = write_report(out, df, tab, quality, title=f"{what[0]} · {what[1]} · reward {what[2]}",
                                              figures=figures, amortised=am, published=info, per_task=per_task)
    return written

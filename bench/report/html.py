"""report.html: one self-contained page of a comparison, readable offline.

It holds the Pareto plot, the table with intervals and paired gains, per-task accuracy, the
amortised view of trained methods, the published numbers for the model, the runs' provenance,
and image grids: for chosen (prompt, seed) cells, every setting's image side by side with its
reward and verdict. Figures and images are embedded as data URIs; nothing is fetched.

The page reads only what the comparison and the run folders hold (records, manifests, images).
"""

from __future__ import annotations

import base64
import io
import re
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from bench.analysis.compare import no_baseline_note
from bench.report.tables import display
from bench.analysis.quality import all_qualities, available, get as quality_axis

THUMB = 256  # images larger than this are scaled down (JPEG) before embedding

CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;max-width:1200px;
     padding:1.2em 1.6em;color:#1b1b1b}
h1{font-size:1.45em;margin:.2em 0}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
.meta{color:#555}.note{color:#555;font-size:.92em;max-width:60em}
table{border-collapse:collapse;margin:.6em 0;font-variant-numeric:tabular-nums;font-size:13px}
table{display:block;overflow-x:auto;max-width:100%}
th,td{border:1px solid #ddd;padding:.25em .55em;text-align:left;vertical-align:top;white-space:nowrap}
th{background:#f4f4f4}td.num{text-align:right}th .sub{font-weight:400;font-size:.8em;color:#555}
tr.front td:first-child{font-weight:600}.best{font-weight:700}
nav a{margin-right:1em}img.plot{width:min(100%,900px);height:auto}
.grid{overflow:visible}.grid td{text-align:center;padding:.3em}
.grid th{font-size:.85em;white-space:normal;text-align:center;position:sticky;top:0}
.grid td.prompt{text-align:left;min-width:12em;max-width:16em;font-size:.9em;white-space:normal}
.grid img{display:block;margin:0 auto;width:var(--w)}.pixel{image-rendering:pixelated}
.cap{font-size:.8em;color:#333}.ok{color:#1a7f37}.no{color:#b42318}
"""


def write_report(out: Path, df: pd.DataFrame, tab: pd.DataFrame, quality: str, *, title: str,
                 figures: dict[str, Path], amortised: pd.DataFrame | None = None,
                 published: dict[str, Any] | None = None, per_task: int = 4) -> Path:
    """Write ``out/report.html``; ``df`` is the merged records (bench.analysis.compare.load_runs), ``tab``
    its table, ``figures`` the PNG/SVG files to embed by section name."""
    from bench.files import atomic_write_text

    sections = [("summary", "Quality and cost", _summary(tab, quality, figures))]
    if "task_" in "".join(tab.columns):
        sections.append(("tasks", quality_axis(quality).task_title, _tasks(tab, quality, df)))
    if amortised is not None and not amortised.empty:
        sections.append(("amortised", "Amortised cost of trained methods", _amortised(amortised, figures)))
    if published:
        sections.append(("published", "Published results", _published(published)))
    sections.append(("images", "Images side by side", _grids(df, tab, quality, per_task)))
    sections.append(("runs", "Runs", _runs(df)))
    nav = " ".join(f'<a href="#{key}">{escape(name)}</a>' for key, name, _ in sections)
    body = "\n".join(f'<h2 id="{key}">{escape(name)}</h2>\n{html}' for key, name, html in sections)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n"
            f"<h1>{escape(title)}</h1>\n<p class=\"meta\">bench compare · {len(tab)} settings · "
            f"{df['prompt_id'].nunique()} prompts × {df['seed'].nunique()} seeds · written {now}</p>\n"
            f"<nav>{nav}</nav>\n{body}\n</body></html>\n")
    path = out / "report.html"
    atomic_write_text(path, page)
    return path


# -- sections -----------------------------------------------------------------------------------
def _summary(tab: pd.DataFrame, quality: str, figures: dict[str, Path]) -> str:
    head, body = display(tab, quality)
    rows = [(cells, bool(front)) for cells, front in zip(body, tab["pareto"])]
    plot = _figure(figures.get("pareto"), "Quality against compute per image")
    what = quality_axis(quality).description
    note = (f"Quality is {what}. Brackets are 95 % bootstrap intervals over the distinct prompts, resampled "
            "within each task (a prompt text's seeds and repeats together); prompts counts those distinct "
            "prompts, images the rows. Δ columns are paired differences against the baseline on the "
            "(prompt, seed) pairs both settings ran. A setting is on the Pareto frontier (bold) when "
            "no other is at least as cheap per image and at least as good, and better in one. Seconds are wall-clock per image "
            "on the machine in Runs below; NFEs count generator network evaluations; TFLOPs count the floating-point "
            "operations of every pass the method made per image, on the models' real architectures (any machine "
            "gives the same).")
    missing = no_baseline_note(tab)
    if missing:
        note += f" {missing[0].upper()}{missing[1:]} (bench compare)."
    return plot + _table(head, rows) + f'<p class="note">{escape(note)}</p>'


def _tasks(tab: pd.DataFrame, quality: str, df: pd.DataFrame) -> str:
    from bench.analysis.stats import units

    tasks = [c for c in tab.columns if c.startswith("task_")]
    best = {t: tab[t].max() for t in tasks}
    first = df[df["label"] == tab["setting"].iat[0]]  # compare merges runs of one grid only

    def counts(task: str) -> str:
        d = first[first["task"].astype(str) == task]
        return f"{units(d)} prompts · {len(d)} images"

    head = ["setting", *[(t[5:].replace("_", " "), counts(t[5:])) for t in tasks]]
    rows = []
    for _, row in tab.iterrows():
        cells = [row["setting"]] + [(f"{row[t]:.3f}", row[t] == best[t]) for t in tasks]
        rows.append((cells, False))
    q = quality_axis(quality)
    what = q.task_note or f"The mean {q.header}"
    return _table(head, rows) + (f'<p class="note">{escape(what)} per task; the best per task in bold. Under each '
                                 'task: the distinct prompts and the images its numbers rest on.</p>')


def _amortised(am: pd.DataFrame, figures: dict[str, Path]) -> str:
    parts = []
    for setting, d in am.groupby("setting", sort=False):
        first = d.iloc[0]
        where = f", on {first['training_device']}" if pd.notna(first.get("training_device")) else ""
        parts.append(f"<p><b>{escape(str(setting))}</b>: trained once for {first['training_seconds']:,.0f} s{escape(where)} "
                     f"and {first['training_nfe']:,.0f} NFEs; then {first['seconds_per_image']:.4g} s and "
                     f"{first['nfe_per_image']:g} NFEs per image, quality {first['quality']:.3f}.</p>")
        head = ["against", "quality", "s / image", "break-even K (seconds)", "NFE / image", "break-even K (NFEs)"]
        rows = [([r["against"], f"{r['quality_against']:.3f}", f"{r['seconds_per_image_against']:.4g}",
                  _k(r["break_even_seconds"]), f"{r['nfe_per_image_against']:g}", _k(r["break_even_nfe"])], False)
                for _, r in d.iterrows()]
        parts.append(_table(head, rows))
    note = ("For K images the trained setting costs training + K × its per-image cost; break-even K is the "
            "number of images after which that total is below the other setting's K × per-image cost ('never' "
            "where the other costs no more per image). Break-even in seconds mixes two measurements (the "
            "training as the trainer recorded it, the per-image cost from these runs): trust it only when both "
            "ran on one machine. NFEs do not depend on the machine.")
    return ("".join(parts) + f'<p class="note">{escape(note)}</p>'
            + _figure(figures.get("amortised_nfe"), "NFEs per image, training shared over K images")
            + _figure(figures.get("amortised"), "Seconds per image, training shared over K images"))


def _published(pub: dict[str, Any]) -> str:
    parts = []
    for suite, table in pub["tables"].items():
        head = ["setting", *[c.replace("_", " ") for c in table.columns if c != "setting"]]
        rows = [([r["setting"], *[f"{r[c]:g}" if c == "seconds" and pd.notna(r[c]) else _num(r[c])
                                  for c in table.columns if c != "setting"]], False)
                for _, r in table.iterrows()]
        parts.append(f"<h3>{escape(pub['model_name'])} · {escape(suite)}</h3>" + _table(head, rows))
    sources = "".join(f"<li>{escape(s)}</li>" for s in pub["sources"])
    note = escape(pub.get("note", ""))
    return "".join(parts) + f'<p class="note">{note}</p><p class="note">Sources:</p><ul class="note">{sources}</ul>'


def _runs(df: pd.DataFrame) -> str:
    from bench.running.manifest import read_manifest

    head = ["setting", "run folder", "rows", "status", "git commit", "device", "threads", "torch", "written"]
    rows = []
    for label, d in df.groupby("label", sort=False):
        run_dir = d["run_dir"].iat[0]
        m = read_manifest(Path(run_dir)) or {}
        rows.append(([label, run_dir, str(len(d)), str(m.get("status", "")), str(m.get("git_commit", ""))[:12],
                      _device(m.get("device")), str(m.get("torch_threads", "")),
                      str((m.get("packages") or {}).get("torch", "")), str(m.get("written_at", ""))[:16].replace("T", " ")], False))
    return _table(head, rows)


def _device(device: Any) -> str:
    if isinstance(device, dict):  # {'type': 'cpu', 'name': ..., 'world_size': n}
        text = f"{device.get('name', '')} ({device.get('type', '')})"
        world = device.get("world_size", 1)
        return text + (f" × {world} processes" if world and world > 1 else "")
    return str(device or "")


def _grids(df: pd.DataFrame, tab: pd.DataFrame, quality: str, per_task: int) -> str:
    settings = list(tab["setting"])
    with_images = df[df["image_path"].fillna("").astype(str) != ""]
    missing = [s for s in settings if s not in set(with_images["label"])]
    note = ""
    if missing:
        note = (f'<p class="note">No images in the records of: {escape(", ".join(missing))} '
                "(runs made with --no-images); their cells are empty.</p>")
    cells = pick_cells(df, per_task, quality)
    if with_images.empty or not cells:
        return note + '<p class="note">No images to show: run without --no-images to see them here.</p>'
    index = df.set_index(["label", "prompt_id", "seed"])
    head = "".join(f"<th>{escape(s)}</th>" for s in settings)
    lines = [f'<table class="grid"><tr><th>prompt · seed</th>{head}</tr>']
    for task, prompt_id, seed in cells:
        first = df[(df["prompt_id"] == prompt_id) & (df["seed"] == seed)].iloc[0]
        row = [f'<td class="prompt">{escape(str(first["prompt"]))}<br><span class="cap">{escape(str(task))} · '
               f"seed {int(seed)}</span></td>"]
        for setting in settings:
            key = (setting, prompt_id, seed)
            row.append(_cell(index.loc[key] if key in index.index else None))
        lines.append("<tr>" + "".join(row) + "</tr>")
    lines.append("</table>")
    explain = ("Each row is one prompt and seed, so every setting starts from the same noise. Under each image: its "
               "reward; where the suite has GenEval rules, the verdict (✓ correct, ✗ wrong; hover for the reason); "
               "where judged, its T2I-CompBench score (T2I) and VQAScore (VQA). "
               f"Rows: up to {per_task} prompts per task, those where the settings' verdicts (or scores) differ most first.")
    return note + f'<p class="note">{escape(explain)}</p>' + "\n".join(lines)


def pick_cells(df: pd.DataFrame, per_task: int, quality: str | None = None) -> list[tuple[str, str, int]]:
    """(task, prompt_id, seed) rows for the grids: per task, up to ``per_task`` prompts (one seed
    each) that every setting ran, where the settings disagree most (GenEval verdicts, else the
    spread of the judge's score, else of reward; ``quality`` picks the judge, default the first
    the records have) first, then in prompt order. Deterministic."""
    n_settings = df["label"].nunique()
    q = quality_axis(quality or available(df)[0])
    g = df.groupby(["task", "prompt_id", "seed"], sort=True)
    split = g[q.column].nunique() if q.verdict else g[q.column].agg(lambda r: r.max() - r.min())
    stats = pd.DataFrame({"n": g["label"].nunique(), "split": split})
    stats = stats[stats["n"] == n_settings].reset_index()
    text = df.drop_duplicates("prompt_id").set_index("prompt_id")["prompt"]
    stats = stats.sort_values(["split", "prompt_id", "seed"], ascending=[False, True, True], kind="stable")
    out = []
    for task in dict.fromkeys(df["task"]):  # the suite's task order
        d = stats[stats["task"] == task]
        d = d.drop_duplicates("prompt_id")
        d = d[~d["prompt_id"].map(text).duplicated()].head(per_task)  # suites repeat prompt texts
        out += [(str(task), str(p), int(s)) for p, s in zip(d["prompt_id"], d["seed"])]
    return out


# -- pieces -------------------------------------------------------------------------------------
def _cell(rec: pd.Series | None) -> str:
    if rec is None:
        return "<td></td>"
    if isinstance(rec, pd.DataFrame):
        rec = rec.iloc[0]
    path = str(rec.get("image_path") or "")
    img = ""
    if path:
        full = Path(rec["run_dir"]) / path
        img = _image(full) if full.is_file() else '<span class="cap">image missing</span>'
    cap = f"{rec['reward']:.2f}"
    judged = [q for q in all_qualities().values() if q.name != "reward" and pd.notna(rec.get(q.column, float("nan")))]
    for q in judged:  # scores beside the reward, then verdicts as marks
        if not q.verdict:
            cap += f" · {q.short or q.header} {rec[q.column]:.2f}"
    for q in judged:
        if q.verdict:
            mark = ('<span class="ok">✓</span>' if bool(rec[q.column]) else '<span class="no">✗</span>')
            reason = escape(str(rec.get(q.reason_column) or "") if q.reason_column else "", quote=True)
            cap += f' <span title="{reason}">{mark}</span>'
    return f'<td>{img}<span class="cap">{cap}</span></td>'


def _image(path: Path) -> str:
    from PIL import Image

    with Image.open(path) as im:
        w, h = im.size
        if max(w, h) <= THUMB:
            data, mime = path.read_bytes(), "image/png"
        else:
            im = im.convert("RGB")
            im.thumbnail((THUMB, THUMB))
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=85)
            data, mime = buf.getvalue(), "image/jpeg"
    small = max(w, h) < 96
    width = 96 if small else 160
    cls = ' class="pixel"' if small else ""
    return (f'<img{cls} style="--w:{width}px" alt="" src="data:{mime};base64,'
            f'{base64.b64encode(data).decode()}">')


def _figure(path: Path | None, alt: str) -> str:
    if path is None or not Path(path).is_file():
        return ""
    mime = "image/svg+xml" if Path(path).suffix == ".svg" else "image/png"
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<p><img class="plot" alt="{escape(alt)}" src="data:{mime};base64,{data}"></p>'


def _table(head: list[Any], rows: list[tuple[list[Any], bool]]) -> str:
    """A table; a header cell may be (title, a smaller second line)."""
    def th(h: Any) -> str:
        title, note = h if isinstance(h, tuple) else (h, "")
        return f"<th>{escape(title)}" + (f"<br><span class='sub'>{escape(note)}</span>" if note else "") + "</th>"

    out = ["<table><tr>" + "".join(th(h) for h in head) + "</tr>"]
    for cells, front in rows:
        tds = []
        for cell in cells:
            text, bold = cell if isinstance(cell, tuple) else (cell, False)
            cls = " ".join(c for c, on in (("num", _numeric(str(text))), ("best", bold)) if on)
            tds.append((f"<td class='{cls}'>" if cls else "<td>") + f"{escape(str(text))}</td>")
        out.append(("<tr class='front'>" if front else "<tr>") + "".join(tds) + "</tr>")
    return "\n".join(out) + "</table>"


def _numeric(text: str) -> bool:
    """Right-align numbers (estimates with intervals included) and 'never'."""
    return text == "never" or bool(re.match(r"^[+\-−]?\d[\d.,e+\-]*( \[.*\])?$", text))


def _k(value: float) -> str:
    if pd.isna(value):
        return "not recorded"
    return "never" if value == float("inf") else f"{int(value):,}"


def _num(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "" if pd.isna(value) else f"{value:.2f}"

"""report.html: self-contained, every setting side by side on the same prompt and seed, the
amortised view for trained methods, published results on request, user text escaped."""

import base64
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.analysis.compare import load_runs
from bench.report.html import pick_cells, write_report
from tests.run_helpers import cli_run


class Page(HTMLParser):
    """Tags with their attributes, and the image grid as rows of cells (each cell: its img srcs)."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.grid, self.headers, self._in_grid = [], [], [], False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "table":
            self._in_grid = attrs.get("class") == "grid"
        elif self._in_grid and tag == "tr":
            self.grid.append([])
        elif self._in_grid and tag == "td":
            self.grid[-1].append([])
        elif self._in_grid and tag == "img":
            self.grid[-1][-1].append(attrs["src"])

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_grid = False

    def handle_data(self, data):
        if self._in_grid and self.grid and not self.grid[-1] and data.strip():
            self.headers.append(data.strip())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    kw = {"limit": 1}
    return [cli_run(tmp / "base", "--method", "base", images=True, **kw),
            cli_run(tmp / "bo4", "--method", "best-of-n", "--set", "n=4", images=True, **kw),
            cli_run(tmp / "reno", "--method", "reno", "--set", "iterations=3", **kw),  # no images
            cli_run(tmp / "hn", "--method", "hypernoise", images=True, **kw)]


@pytest.fixture(scope="module")
def compared(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp")
    result = CliRunner().invoke(app, ["compare", *runs, "--out", str(out), "--published", "sd-turbo", "--grid", "2"])
    assert result.exit_code == 0, result.output
    return out


def test_report_is_self_contained(compared):
    page = Page((compared / "report.html").read_text())
    names = {tag for tag, _ in page.tags}
    assert not names & {"script", "link", "iframe", "object"}
    sources = [a["src"] for tag, a in page.tags if "src" in a]
    assert sources and all(s.startswith("data:image/") for s in sources)
    assert not any(str(v).startswith(("http:", "https:", "file:", "/")) for _, a in page.tags for k, v in a.items()
                   if k in ("src", "href"))


def test_grid_shows_each_setting_on_the_same_prompt_and_seed(runs, compared):
    page = Page((compared / "report.html").read_text())
    settings = ["base", "best-of-n n=4", "reno iterations=3", "hypernoise"]
    assert page.headers == ["prompt · seed", *settings]
    df = load_runs([Path(r) for r in runs])
    cells = pick_cells(df, 2)
    body = page.grid[1:]
    assert len(body) == len(cells) >= 2
    for (_, prompt_id, seed), row in zip(cells, body):
        assert len(row) == 1 + len(settings)
        for run, images in zip(runs, row[1:]):
            if run.endswith("reno"):
                assert images == []  # run with --no-images: an empty cell
                continue
            png = (Path(run) / "images" / f"{prompt_id}_{seed}.png").read_bytes()
            assert images == ["data:image/png;base64," + base64.b64encode(png).decode()]
    text = (compared / "report.html").read_text()
    assert "No images in the records of: reno iterations=3" in text
    # the judge's axis names its sections and marks (geneval-shapes: GenEval's verdicts)
    assert '<h2 id="tasks">Accuracy per task</h2>' in text and "Accuracy of the GenEval decision rules per task" in text
    assert '<span class="ok">✓</span>' in text or '<span class="no">✗</span>' in text


def test_amortised_view_and_published_results(compared):
    am = pd.read_csv(compared / "amortised.csv").set_index("against")
    assert set(am.index) == {"base", "best-of-n n=4", "reno iterations=3"} and (am["setting"] == "hypernoise").all()
    assert am.loc["best-of-n n=4", "break_even_nfe"] == 32000  # the shipped checkpoint's 64,000 NFEs / (4 - 2)
    tab = pd.read_csv(compared / "table.csv").set_index("setting")
    assert tab.loc["hypernoise", "training_nfe"] == 64000 and tab.loc["base", "training_nfe"] == 0
    text = (compared / "report.html").read_text()
    for fragment in ("Amortised cost of trained methods", "break-even K (NFEs)", "SD-Turbo · geneval",
                     "Noise Hypernetworks (arXiv 2508.09968)", "not of this model"):
        assert fragment in text
    assert (compared / "amortised_nfe.png").stat().st_size > 0


def test_no_report_and_bad_published_model(runs, tmp_path):
    out = tmp_path / "plain"
    result = CliRunner().invoke(app, ["compare", *runs[:2], "--out", str(out), "--no-report"])
    assert result.exit_code == 0, result.output
    assert (out / "table.csv").exists() and not (out / "report.html").exists()
    assert not (out / "amortised.csv").exists()  # nothing trained among these runs
    bad = tmp_path / "bad"
    result = CliRunner().invoke(app, ["compare", *runs[:2], "--out", str(bad), "--published", "sd-2.1"])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "no published results for model 'sd-2.1'" in result.output and not bad.exists()


def test_user_text_is_escaped_and_cells_prefer_disagreement(tmp_path):
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "x.png")
    rows = []
    for label in ("a", "b"):
        for pid, prompt, ok in (("p0", "<script>alert(1)</script>", label == "a"), ("p1", "two & three", True)):
            rows.append({"label": label, "method": label, "run_dir": str(tmp_path), "prompt_id": pid, "seed": 0,
                         "task": "t", "prompt": prompt, "reward": 1.0, "image_path": "x.png", "geneval_correct": ok,
                         "geneval_reason": "<b>why</b>"})
    df = pd.DataFrame(rows)
    assert pick_cells(df, 1) == [("t", "p0", 0)]  # the prompt where the settings disagree comes first
    assert pick_cells(df, 5) == [("t", "p0", 0), ("t", "p1", 0)]
    tab = pd.DataFrame({"setting": ["a", "b"], "prompts": [2, 2], "images": [2, 2], "reward": [1.0, 1.0], "reward_low": [1.0, 1.0],
                        "reward_high": [1.0, 1.0], "seconds": [0.1, 0.2], "nfe": [1.0, 2.0], "pareto": [True, False]})
    text = write_report(tmp_path, df, tab, "reward", title="t <i>", figures={}).read_text()
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "two &amp; three" in text and "t &lt;i&gt;" in text and "&lt;b&gt;why&lt;/b&gt;" in text

"""A small `bench run` through the CLI, for tests that need finished run folders, and one that
must be refused."""

from pathlib import Path

from typer.testing import CliRunner

from bench.cli import app


def cli_run(out, *args, limit=2, seeds="0,1", images=False):
    """`bench run ARGS --limit N --seeds S --out OUT -q [--no-images]` (N prompts per task); the
    folder, as a string."""
    result = CliRunner().invoke(app, ["run", *args, "--limit", str(limit), "--seeds", seeds, "--out", str(out),
                                      "-q", *([] if images else ["--no-images"])])
    assert result.exit_code == 0, result.output
    return str(out)


def cli_refused(out, *args, limit=1, seeds="0"):
    """`bench run ARGS --limit N --seeds S --out OUT -q` that must end in one line, exit 2 and no
    folder; that line."""
    result = CliRunner().invoke(app, ["run", *args, "--limit", str(limit), "--seeds", seeds, "--out", str(out), "-q"])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and not Path(out).exists(), result.output
    return result.output.strip()


def unfinished_copy(run, dest, rows=3):
    """A copy of a finished run as a kill leaves it: ``rows`` rows in its journal, no tables, the
    manifest 'running'. The copy's folder, as a Path."""
    import json
    import shutil

    dest = Path(dest)
    shutil.copytree(run, dest)
    journal = dest / "journal" / "rank-0.jsonl"
    journal.write_text("".join(journal.read_text().splitlines(keepends=True)[:rows]))
    for name in ("records.parquet", "records.csv"):
        (dest / name).unlink(missing_ok=True)
    manifest = json.loads((dest / "manifest.json").read_text())
    (dest / "manifest.json").write_text(json.dumps({**manifest, "status": "running"}))
    return dest


def install_plugin(tmp_path, monkeypatch, body: str) -> None:
    """A package ``my_method`` on sys.path with a dist-info declaring it under the bench.methods
    entry point group, as ``pip install`` of a plugin leaves it."""
    import sys
    import textwrap

    (tmp_path / "my_method.py").write_text(textwrap.dedent(body))
    dist = tmp_path / "my_method-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-method\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[bench.methods]\nmy-method = my_method\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_method", raising=False)

"""Every command of README.md, run, so that the README cannot go stale.

The ```bash blocks are read from README.md when the tests run and split into commands (backslash
continuations joined, comments dropped, `a && b` split). Each `bench ...` command, and each
`torchrun ... -m bench.cli ...`, is made to run here in seconds by the rewrite table (REWRITES,
SET_REWRITES, TORCHRUN_REWRITES: tiny models and judges, the CPU, one prompt per task, two training
steps), its placeholders (R, R1, DIR, results.jsonl, ...) are bound to folders and files of the
same block (PLACEHOLDERS), and it runs in a fresh folder per block holding copies of bench.toml and
examples/. Its exit code must be the one the README promises, and the files the README names must
be there. Anything else must be in ALLOWED with the reason it cannot run here; a command that is in
neither, or an ALLOWED entry the README no longer holds, fails the fast test.

A README command that is wrong today is in KNOWN_README_ERRORS with the error it ends in and the
fix: the test checks it still fails that way, and fails (asking to drop the entry) once the README
is fixed.

`bench` commands run in this process through the installed console script's entry point (one
plugin load for all of them instead of about 5 s per process); `bench list` runs as the installed
`bench` executable, and torchrun commands as `python -m torch.distributed.run`, in subprocesses.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tomllib
import traceback
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest

from tests.suites.suite_helpers import SHARED

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SUITES = SHARED  # local copies of the registered suites (../shared/suites)

# README commands that cannot run here, each with the reason. Only commands that are not `bench`
# (nor `torchrun -m bench.cli`): those are always run, reduced by the rewrite table.
ALLOWED = {
    "pip install torch==2.13.0": "installs packages: needs the network and would change the environment the tests run in",
    "pip install -e .": "installs packages: the tests already run in the installed environment",
    "pip install -e '.[dev]'": "installs packages: the tests already run in the installed environment",
    "python -m pytest -q": "the whole suite (about 11 minutes), this test included",
    "python -m bench.shapes.train all": "86 minutes; `all` gives no way to shorten its shapes-clip stage (1,000 steps), and "
                                        "without --out it overwrites the shipped weights in bench/shapes/weights; "
                                        "tests/shapes/test_model.py trains each stage for a few steps",
}

# README commands that are wrong today: (exit code they end in, a fragment of their error, the fix).
KNOWN_README_ERRORS: dict[str, tuple[int, str, str]] = {}


# -- the README's commands --------------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    block: int      # README line of the block's opening fence
    line: int       # README line the command starts on
    argv: tuple[str, ...]
    comment: str    # the comment after it on its line, '' if none

    @property
    def text(self) -> str:
        """How ALLOWED and KNOWN_README_ERRORS name it: its words, quoted as a shell would need."""
        return shlex.join(self.argv)

    @property
    def kind(self) -> str | None:
        """'bench', 'torchrun' (torchrun -m bench.cli), 'allowed', or None (neither run nor allowed)."""
        if self.argv[0] == "bench":
            return "bench"
        if self.argv[0] == "torchrun" and "bench.cli" in self.argv and self.argv[self.argv.index("bench.cli") - 1] == "-m":
            return "torchrun"
        return "allowed" if self.text in ALLOWED else None


SHELL_SYNTAX = {"|", "||", ";", "&", ">", ">>", "<", "2>", "2>&1"}  # not handled here: a command using them fails the fast test


def readme_commands(text: str) -> list[Command]:
    commands: list[Command] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```bash":
            i += 1
            continue
        block, i = i + 1, i + 1
        while i < len(lines) and lines[i].strip() != "```":
            start, logical = i + 1, lines[i]
            while logical.endswith("\\") and i + 1 < len(lines):  # a backslash continuation
                i += 1
                logical = logical[:-1] + " " + lines[i].strip()
            i += 1
            words = shlex.split(logical, comments=True)
            comment = next((logical[k + 1:].strip() for k, c in enumerate(logical)
                            if c == "#" and (k == 0 or logical[k - 1].isspace()) and shlex.split(logical[:k]) == words), "")
            while words:
                n = words.index("&&") if "&&" in words else len(words)
                commands.append(Command(block, start, tuple(words[:n]), comment))
                words = words[n + 1:]
        i += 1
    return commands


COMMANDS = readme_commands(README.read_text())
BLOCKS = sorted({c.block for c in COMMANDS if c.kind in ("bench", "torchrun")})


def test_every_readme_command_is_run_or_allow_listed():
    assert COMMANDS, "no ```bash block found in README.md"
    texts = {c.text for c in COMMANDS}
    unhandled = [f"README.md:{c.line}: {c.text}" for c in COMMANDS if c.kind is None]
    assert not unhandled, ("README commands neither run by this test nor in its ALLOWED list (run them, "
                           "reduced by the rewrite table, or allow-list them with the reason):\n" + "\n".join(unhandled))
    odd = [f"README.md:{c.line}: {c.text}" for c in COMMANDS if SHELL_SYNTAX & set(c.argv)]
    assert not odd, "shell syntax this test does not run (pipes, redirections, ';'):\n" + "\n".join(odd)
    stale = [t for t in [*ALLOWED, *KNOWN_README_ERRORS] if t not in texts]
    assert not stale, "entries for commands README.md no longer holds (drop them):\n" + "\n".join(stale)
    runnable = [t for t in ALLOWED if t.startswith(("bench ", "torchrun "))]
    assert not runnable, f"bench commands are run, not allow-listed: {runnable}"
    words = {w for c in COMMANDS for w in c.argv}
    unused = sorted({p.name for p in PLACEHOLDERS} - words)
    assert not unused, f"PLACEHOLDERS binds names no README command uses (drop them): {unused}"
    wrong = [t for t in KNOWN_README_ERRORS if not t.startswith(("bench ", "torchrun "))]
    assert not wrong, f"KNOWN_README_ERRORS holds commands this test does not run: {wrong}"


def test_the_parser_joins_continuations_drops_comments_and_splits_and():
    text = "x\n```bash\n# a comment line\nbench run --a 1 \\\n  --b '#2'   # say #3\n\npip x && bench list\n```\n"
    got = readme_commands(text)
    assert [(c.line, c.argv, c.comment) for c in got] == [
        (4, ("bench", "run", "--a", "1", "--b", "#2"), "say #3"), (7, ("pip", "x"), ""), (7, ("bench", "list"), "")]


# -- the rewrite table: a README command made to run here in seconds ---------------------------------
def _registered(kind: str) -> set[str]:
    from bench.catalog import catalog

    return {name for name, _ in catalog(kind)[kind]}


def tiny_model(name: str, argv: list[str]) -> str:
    return f"{name}-tiny" if f"{name}-tiny" in _registered("models") else name


def tiny_reward(spec: str, argv: list[str]) -> str:
    """Each reward of a weighted sum ('5*hpsv2.1+imagereward-1.0') by its -tiny build where there is one."""
    names = _registered("rewards")
    return re.sub(r"[A-Za-z][\w.-]*", lambda m: f"{m[0]}-tiny" if f"{m[0]}-tiny" in names else m[0], spec)


def tiny_evaluator(spec: str, argv: list[str]) -> str:
    name = spec.partition(":")[0]  # vqascore:HUB_ID -> vqascore-tiny: no hub here
    return f"{name}-tiny" if f"{name}-tiny" in _registered("evaluators") else spec


def local_suite(spec: str, argv: list[str]) -> str:
    """A registered suite that downloads its file, read from ../shared/suites instead (NAME:PATH)."""
    name = spec.partition(":")[0]
    if ":" in spec or not (name == "geneval" or name.startswith("t2i-compbench-")):
        return spec
    if not SUITES.is_dir():
        pytest.skip(f"{SUITES} is not beside the repository (README command with --suite {spec})")
    if name == "geneval":
        return f"geneval:{SUITES / 'geneval' / 'evaluation_metadata.jsonl'}"
    return f"{name}:{SUITES / 't2i-compbench' / (name.removeprefix('t2i-compbench-') + '_val.txt')}"


SUITE_JUDGES = {"geneval": "geneval-tiny", "t2i-compbench": "t2i-compbench-tiny"}  # the suites' judges load hub weights


def suite_judge(argv: list[str]) -> str | None:
    suite = (option(argv, "--suite") or "").partition(":")[0]
    return next((judge for prefix, judge in SUITE_JUDGES.items() if suite.startswith(prefix)), None)


@dataclass(frozen=True)
class Rewrite:
    commands: tuple[str, ...]  # the bench subcommands it applies to
    option: str
    value: str | Callable[[str, list[str]], str] | None  # the new value, or a function of (old value, argv); None: kept
    default: str | Callable[[list[str]], str | None] | None  # appended when the option is absent (None: nothing)
    why: str


REWRITES = [
    Rewrite(("run", "train", "evaluate"), "--device", "cpu", None, "no GPU here (cuda, cuda:N -> cpu)"),
    Rewrite(("run", "train"), "--dtype", "float32", None, "float16/bfloat16 are for GPUs"),
    Rewrite(("run", "train", "cost"), "--model", tiny_model, None, "hub models -> their -tiny twins (sd-turbo -> sd-turbo-tiny): same code, no download"),
    Rewrite(("run", "train", "cost"), "--reward", tiny_reward, None, "hub rewards -> their -tiny builds (reno-ensemble -> reno-ensemble-tiny)"),
    Rewrite(("run", "evaluate"), "--evaluator", tiny_evaluator, None, "hub judges -> their -tiny builds (vqascore -> vqascore-tiny)"),
    Rewrite(("run",), "--evaluator", None, suite_judge, "the geneval suite's judge loads Mask2Former and CLIP from the hub: --evaluator geneval-tiny"),
    Rewrite(("run",), "--suite", local_suite, None, "geneval -> geneval:../shared/suites/geneval/evaluation_metadata.jsonl (no download)"),
    Rewrite(("run",), "--limit", "1", "1", "the first prompt of each task (6 of shapes-geneval's 288)"),
    Rewrite(("run",), "--seeds", None, "0", "seed 0 where the README gives none (bench.toml's 0-3)"),
    Rewrite(("sweep",), "--limit", "1", "1", "every cell of a sweep on the first prompt of each task"),
    Rewrite(("sweep",), "--seeds", "0", "0", "every cell of a sweep on seed 0"),
    Rewrite(("train",), "--steps", "2", "2", "two optimisation steps (1,000 or the trainer's 500)"),
    Rewrite(("train",), "--batch-size", "2", "2", "two images a step (32)"),
]
SET_REWRITES = [  # (bench subcommands, method or None for any, setting, value, why): --set key=value replaced or added
    (("run",), "reno", "iterations", "2", "ReNO's 50 iterations on the tiny SD-Turbo with reno-ensemble-tiny take 30 s"),
    (("train",), None, "eval_size", "4", "4 held-out prompts at the end of training (64; 192 in the recipe)"),
]
TORCHRUN_REWRITES = [  # (option, value, why): set or added
    ("--nproc_per_node", "2", "2 CPU processes (gloo), as tests/running/test_distributed.py"),
    ("--master_port", None, "a free port, not torchrun's 29500 that another test may hold"),
]


def option(argv: list[str], *names: str) -> str | None:
    return next((argv[i + 1] for i, a in enumerate(argv[:-1]) if a in names), None)


HELP = {"-h", "--help"}


def reduce(argv: list[str]) -> list[str]:
    """`bench ARGV` as it runs here: REWRITES then SET_REWRITES, in order (help as it is)."""
    if not argv or HELP & set(argv):
        return argv
    argv = [w for a in argv for w in (a.split("=", 1) if a.startswith("--") and "=" in a else [a])]
    sub = argv[0]
    for r in REWRITES:
        if sub not in r.commands:
            continue
        at = [i + 1 for i, a in enumerate(argv[:-1]) if a == r.option]
        for i in at:
            if r.value is not None:
                argv[i] = r.value if isinstance(r.value, str) else r.value(argv[i], argv)
        if not at and r.default is not None:
            value = r.default if isinstance(r.default, str) else r.default(argv)
            if value is not None:
                argv += [r.option, value]
    method = option(argv, "--method", "-m")
    for commands, for_method, key, value, _ in SET_REWRITES:
        if sub in commands and for_method in (None, method):
            at = [i + 1 for i, a in enumerate(argv[:-1]) if a == "--set" and argv[i + 1].partition("=")[0] == key]
            for i in at:
                argv[i] = f"{key}={value}"
            if not at:
                argv += ["--set", f"{key}={value}"]
    return argv


def torchrun(argv: list[str]) -> list[str]:
    """`torchrun OPTIONS -m bench.cli ARGS` as it runs here: this Python's torch.distributed.run,
    TORCHRUN_REWRITES on its options, the bench arguments through reduce()."""
    m = argv.index("bench.cli")
    options, bench_args = list(argv[1:m - 1]), argv[m + 1:]
    for name, value, _ in TORCHRUN_REWRITES:
        value = value or free_port()
        spellings = (name, name.replace("_", "-"))
        at = [i + 1 for i, a in enumerate(options[:-1]) if a in spellings]
        for i in at:
            options[i] = value
        if not at:
            options = [name, value, *options]
    return [sys.executable, "-m", "torch.distributed.run", *options, "-m", "bench.cli", *reduce(bench_args)]


def free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


# -- placeholders: R, R1, DIR, ... bound to folders and files of the block ---------------------------
SHAPES_GRID = ["--limit", "1", "--seeds", "0"]  # what REWRITES makes of a shapes-geneval run


def geneval_results(work: Path) -> None:
    """results.jsonl as GenEval's evaluate_images.py writes it, for the images exported to geneval-layout."""
    layout = work / "geneval-layout"
    assert layout.is_dir(), "`bench import-geneval R results.jsonl` needs the README's `bench export R --format geneval` first"
    lines = []
    for i, folder in enumerate(sorted(p for p in layout.iterdir() if p.is_dir())):
        tag = json.loads((folder / "metadata.jsonl").read_text())["tag"]
        for k, image in enumerate(sorted((folder / "samples").glob("*.png"))):
            ok = (i + k) % 2 == 0
            lines.append(json.dumps({"filename": str(image), "tag": tag, "correct": ok, "reason": "" if ok else "no object"}))
    (work / "results.jsonl").write_text("\n".join(lines) + "\n")


def vqa_results(work: Path) -> None:
    """vqa_result.json as T2I-CompBench's BLIP-VQA script writes it for the images in t2i-layout
    (question_id: the image's rank by k; tests/evaluators/test_t2i_compbench.py)."""
    samples = work / "t2i-layout" / "samples"
    assert samples.is_dir(), "`bench import-t2i-compbench R vqa_result.json` needs `bench export R --format t2i-compbench` first"
    images = sorted(samples.glob("*.png"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    (work / "vqa_result.json").write_text(json.dumps([{"question_id": i, "answer": f"{0.1 * (i + 1):.4f}"} for i in range(len(images))]))


GENEVAL_RUN = "results/best-of-n-sd-turbo-tiny-geneval"  # the README's `bench run --method best-of-n ... --suite geneval`


@dataclass(frozen=True)
class Placeholder:
    name: str
    context: str  # 'geneval', 't2i-compbench' (export --format X, import-X) or '' (any)
    path: str
    make: list[str] | Callable[[Path], None] | None  # how the test makes it when no README command of the block has


PLACEHOLDERS = [  # in the analysis commands (not run/train, whose --out is a name); the first that fits wins
    Placeholder("GENEVAL_RUN", "", GENEVAL_RUN, ["run", "--method", "best-of-n", "--set", "n=16", "--model", "sd-turbo-tiny",
                                              "--reward", "redness", "--suite", "geneval", *SHAPES_GRID]),
    Placeholder("T2I_RUN", "", "t2i-run", ["run", "--model", "sd-turbo-tiny", "--reward", "redness", "--suite",
                                                  "t2i-compbench-color", "--limit", "2", "--seeds", "0", "--out", "t2i-run"]),
    Placeholder("R", "", "R", ["run", "--method", "reno", "--model", "sd-turbo-tiny", "--reward", "redness", "--suite",
                               "examples/prompts.txt", "--seeds", "0,1", "--out", "R"]),
    Placeholder("R1", "", "results/base-shapes-shapes-geneval", ["run", *SHAPES_GRID]),
    Placeholder("R2", "", "results/best-of-n-shapes-shapes-geneval", ["run", "--method", "best-of-n", "--set", "n=16", *SHAPES_GRID]),
    Placeholder("R3", "", "results/hypernoise-shapes-shapes-geneval", ["run", "--method", "hypernoise", *SHAPES_GRID]),
    Placeholder("results.jsonl", "", "results.jsonl", geneval_results),
    Placeholder("vqa_result.json", "", "vqa_result.json", vqa_results),
]


def context(argv: list[str]) -> str:
    fmt = option(argv, "--format", "-f")
    if argv[0] == "import-geneval" or fmt == "geneval":
        return "geneval"
    if argv[0] == "import-t2i-compbench" or fmt == "t2i-compbench":
        return "t2i-compbench"
    return ""


# -- running ---------------------------------------------------------------------------------------
@dataclass
class Outcome:
    code: int
    output: str  # stdout and stderr


def bench_in_process(args: list[str]) -> Outcome:
    """The installed `bench` console script's entry point, called in this process."""
    (script,) = entry_points(group="console_scripts", name="bench")
    main = script.load()
    out, argv = io.StringIO(), sys.argv
    sys.argv = ["bench", *args]
    try:
        with redirect_stdout(out), redirect_stderr(out):
            try:
                main()
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except Exception:  # what the console script does with a crash: a traceback, exit 1
                traceback.print_exc()
                code = 1
    finally:
        sys.argv = argv
    return Outcome(code, out.getvalue())


def in_subprocess(cmd: list[str], work: Path) -> Outcome:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "BENCH_OFFLINE": "1"}
    p = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    return Outcome(p.returncode, p.stdout + p.stderr)


def bench_script() -> str:
    script = shutil.which("bench", path=str(Path(sys.executable).parent)) or shutil.which("bench")
    assert script, "the `bench` console script is not installed (pip install -e .)"
    return script


def run_bench(args: list[str], work: Path) -> Outcome:
    if next((a for a in args if not a.startswith("-")), None) == "list":  # through the installed executable
        return in_subprocess([bench_script(), *args], work)
    return bench_in_process(args)


def bind(args: list[str], work: Path) -> list[str]:
    """Placeholders of an analysis command bound (and made, when the block made none)."""
    if not args or args[0] in ("run", "train"):
        return args
    ctx, bound = context(args), []
    for a in args:
        p = next((p for p in PLACEHOLDERS if p.name == a and p.context in (ctx, "")), None)
        if p is not None and not (work / p.path).exists() and p.make is not None:
            if callable(p.make):
                p.make(work)
            else:
                made = run_bench(reduce(list(p.make)), work)
                assert made.code == 0, f"making {p.name} ({p.path}): {made.output}"
        bound.append(p.path if p is not None else a)
    return bound


# -- what the README promises ----------------------------------------------------------------------
def expected(cmd: Command, args: list[str]) -> tuple[int, str | None]:
    """(exit code, a fragment of the output) the README promises for the command as run here."""
    if cmd.text in KNOWN_README_ERRORS:
        code, fragment, _ = KNOWN_README_ERRORS[cmd.text]
        return code, fragment
    if args[:1] == ["check"]:
        # "exit 0 all hold, 1 a regression, 2 bad input or unlike runs": the runs here are --limit
        # runs, which bench.toml's thresholds (measured on the whole suite x 4 seeds) refuse
        return 2, "was not measured like"
    return 0, None


def files_named(comment: str) -> list[str]:
    """'report.html, table.csv/.md, pareto.png/.svg' -> report.html, table.csv, table.md, pareto.png, pareto.svg."""
    names = []
    for stem, ext, more in re.findall(r"\b([\w-]+)\.([a-z]{2,5})((?:/\.[a-z]{2,5})*)\b", comment):
        names += [f"{stem}.{e}" for e in [ext, *re.findall(r"\.([a-z]+)", more)]]
    return names


def run_folder(args: list[str], work: Path) -> Path:
    """--out, or the README's results/<method>-<model>-<suite> from the flags and bench.toml's [run]."""
    out = option(args, "--out", "-o")
    if out:
        return work / out
    defaults = tomllib.loads((work / "bench.toml").read_text()).get("run", {})
    method = option(args, "--method", "-m") or defaults.get("method", "base")
    model = option(args, "--model") or defaults.get("model", "shapes")
    suite = option(args, "--suite") or defaults.get("suite", "shapes-geneval")
    return work / "results" / f"{method}-{model}-{Path(suite.partition(':')[0]).stem}"


def leading(args: list[str]) -> list[str]:
    """The positional arguments before the first option (the README puts RUN... first)."""
    return list(next((args[1:i] for i, a in enumerate(args) if i and a.startswith("-")), args[1:]))


def rows(path: Path) -> int:
    return len(pd.read_csv(path / "records.csv"))


def check_outputs(cmd: Command, args: list[str], output: str, work: Path) -> None:
    """The files and output the README names for the command."""
    sub = args[0] if args else None
    if sub is None or HELP & set(args):  # `bench`, `bench -h`, `bench run -h`: the help
        assert "Usage" in output, output
    elif sub == "run" and "--shard" in args:  # one shard: its journal, no tables until --merge
        folder = run_folder(args, work)
        assert json.loads((folder / "manifest.json").read_text())["status"] == "running"
        assert not (folder / "records.csv").exists() and "--merge in place of --shard" in output
    elif sub == "sweep":
        name = leading(args)[0]
        folder = work / (option(args, "--out", "-o") or f"results/sweeps/{name}")
        if "--dry-run" in args:
            assert f"sweep '{name}'" in output and not folder.exists(), output
        elif "--slurm" in args:
            for script in ("array.sbatch", "merge.sbatch", "submit.sh"):
                assert (folder / "slurm" / script).is_file(), f"{folder}/slurm/{script} is missing"
        else:
            assert (folder / "sweep.json").is_file()
            for name in files_named(cmd.comment) or ["table.csv"]:
                assert (folder / "compare" / name).is_file(), f"README.md:{cmd.line} names {name}, which {folder}/compare lacks"
    elif sub == "run":
        folder = run_folder(args, work)
        for name in ("records.parquet", "records.csv", "manifest.json"):  # README, Records
            assert (folder / name).is_file(), f"{folder / name} is missing"
        assert json.loads((folder / "manifest.json").read_text())["status"] == "complete"
        if "--no-images" not in args:
            assert any((folder / "images").glob("*.png")), f"no image in {folder}/images"
    elif sub == "train":
        folder = work / (option(args, "--out", "-o") or f"results/{option(args, '--method', '-m') or 'hypernoise'}-"
                                                        f"{option(args, '--model') or 'shapes'}")
        # README, HyperNoise: the trainer writes log.csv/log.png, eval.csv, the checkpoint and trainer_state
        for name in ("hypernoise.safetensors", "trainer_state.safetensors", "log.csv", "log.png", "eval.csv"):
            assert (folder / name).is_file(), f"{folder / name} is missing"
    elif sub == "compare":
        folder = work / (option(args, "--out", "-o") or "results/compare")
        named = files_named(cmd.comment)
        assert named, f"README.md:{cmd.line}: the comment names no output file: {cmd.comment!r}"
        for name in [*named, "comparison.json"]:
            assert (folder / name).is_file(), f"README.md:{cmd.line} names {name}, which {folder} lacks"
        assert len(pd.read_csv(folder / "table.csv")) == len(leading(args))  # one row per run
    elif sub == "evaluate":
        manifest = json.loads((work / args[1] / "manifest.json").read_text())
        judges = {e["name"] for e in manifest.get("evaluations", [])}
        assert set(filter(None, [option(args, "--evaluator")])) <= judges, manifest.get("evaluations")
        if any(a.startswith("vqascore") for a in args):  # the judge's column added to the records
            assert "vqascore" in pd.read_csv(work / args[1] / "records.csv")
    elif sub == "export":
        out = work / (option(args, "--output", "--out", "-o") or "")
        runs = [work / a for a in leading(args)]
        fmt = option(args, "--format", "-f") or "csv"
        if fmt == "geneval":  # DIR/<index:05d>/metadata.jsonl and samples/<k:04d>.png
            folders = sorted(p for p in out.iterdir())
            assert folders and all(re.fullmatch(r"\d{5}", p.name) for p in folders)
            assert all((p / "metadata.jsonl").is_file() and (p / "samples" / "0000.png").is_file() for p in folders)
        elif fmt == "t2i-compbench":  # DIR/samples/<prompt>_<k:06d>.png
            names = [p.name for p in (out / "samples").iterdir()]
            assert len(names) == rows(runs[0]) and all(re.search(r"_\d{6}\.png$", n) for n in names)
        else:
            table = {"csv": pd.read_csv, "parquet": pd.read_parquet, "jsonl": lambda p: pd.read_json(p, lines=True)}[fmt](out)
            assert len(table) == sum(rows(r) for r in runs)
            if len(runs) > 1:  # several runs merged, one `setting` column
                assert list(table.columns[:2]) == ["setting", "run_dir"] and table["setting"].nunique() == len(runs)
    elif sub == "import-geneval":
        assert (work / args[1] / "geneval_official.csv").is_file() and "agree" in output
    elif sub == "import-t2i-compbench":
        assert (work / args[1] / "t2i_official.csv").is_file() and "pearson" in output
    elif sub == "list":
        kinds = [args[1]] if len(args) > 1 else ["methods", "models", "rewards", "suites", "evaluators"]
        assert all(f"{k}:" in output for k in kinds), output


# -- the blocks, each run in a fresh folder ---------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=[f"README-line-{b}" for b in BLOCKS])
def test_readme_block_runs(block, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(REPO / "bench.toml", work / "bench.toml")
    shutil.copytree(REPO / "examples", work / "examples")
    monkeypatch.chdir(work)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    commands = [c for c in COMMANDS if c.block == block and c.kind in ("bench", "torchrun")]
    ran = []
    for cmd in commands:
        if cmd.kind == "bench":
            words = list(cmd.argv[1:])
            n = next((i for i, w in enumerate(words) if not w.startswith("-")), len(words))
            options, args = words[:n], bind(reduce(words[n:]), work)  # `bench --debug run ...`: options before the command
            shown, outcome = shlex.join(["bench", *options, *args]), run_bench([*options, *args], work)
        else:
            full = torchrun(list(cmd.argv))
            args = full[full.index("bench.cli") + 1:]
            shown, outcome = shlex.join(full), in_subprocess(full, work)
        where = f"README.md:{cmd.line}: {cmd.text}\n  ran as: {shown}\n  exit {outcome.code}:\n{outcome.output[-4000:]}"
        print(f"README.md:{cmd.line}: exit {outcome.code}: {shown}")  # shown by pytest when the test fails (or with -s)
        code, fragment = expected(cmd, args)
        if cmd.text in KNOWN_README_ERRORS:
            assert outcome.code != 0, (f"{where}\nthis README command works now: drop it from KNOWN_README_ERRORS "
                                       f"(fix was: {KNOWN_README_ERRORS[cmd.text][2]})")
        assert outcome.code == code, f"expected exit {code}\n{where}"
        assert fragment is None or fragment in outcome.output, f"expected {fragment!r} in the output\n{where}"
        if code == 0:
            check_outputs(cmd, args, outcome.output, work)
        ran.append(cmd.text)
    assert len(ran) == len(commands) > 0

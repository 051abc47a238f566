"""A sweep as a SLURM job array: `bench sweep NAME --slurm` writes the scripts, SLURM runs them.

    <sweep>/slurm/array.sbatch   the job array: task i runs `bench sweep <sweep> --shard i/N`, shard i of
                                 every cell (whole batches of each cell's grid, bench.running.grid)
    <sweep>/slurm/merge.sbatch   `bench sweep <sweep> --merge`: every cell's shards into its tables, then
                                 the comparison (a CPU job: nothing is generated)
    <sweep>/slurm/submit.sh      sbatch the array, then the merge with --dependency=afterok on it
    <sweep>/slurm/logs/          each task's output, <array job>_<task>.out, and merge-<job>.out

The tasks are independent processes: each writes its own journals and takes its own lock in every
cell folder, so they need only a file system they all see, no scheduler of ours. A task that is
lost (preempted, timed out, killed) is rerun by resubmitting its index (``sbatch --array=I
array.sbatch``): it skips the rows on disk and makes the rest, and the merge then finds every row.
The scripts hold absolute paths (this Python, the sweep folder, the working directory), so they run
from anywhere on the cluster's shared file system; ``bash array.sbatch`` with SLURM_ARRAY_TASK_ID set
runs one task by hand (the tests run a whole array that way).
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import ConfigError
from bench.files import atomic_write_text


@dataclass
class Resources:
    """What each array task asks SLURM for (None: the cluster's default)."""

    tasks: int = 4  # array tasks (shards)
    partition: str | None = None
    time: str | None = None  # e.g. 04:00:00
    gpus: int = 0  # GPUs per task; more than one runs the task under torchrun on them
    cpus: int | None = None  # CPUs per task
    mem: str | None = None  # e.g. 64G
    account: str | None = None
    parallel: int | None = None  # at most this many tasks at once (--array=0-N%K)
    sbatch: list[str] = field(default_factory=list)  # further #SBATCH options, e.g. --qos=high
    setup: list[str] = field(default_factory=list)  # shell lines before bench runs (module load, activate)

    def check(self) -> None:
        if self.tasks < 1:
            raise ConfigError(f"--tasks {self.tasks}: a job array needs at least one task")
        if self.gpus < 0 or (self.cpus is not None and self.cpus < 1) or (self.parallel is not None and self.parallel < 1):
            raise ConfigError("--gpus must be 0 or more, --cpus and --parallel 1 or more")
        for option in self.sbatch:
            if not option.startswith("--") or "\n" in option:
                raise ConfigError(f"--sbatch '{option}' is not one sbatch option; e.g. --sbatch=--qos=high")


def _header(name: str, res: Resources, log: Path, gpus: int, extra: list[str]) -> list[str]:
    # One process a task (torchrun spawns its own workers); --gpus-per-task wants the task count said
    lines = [f"#SBATCH --job-name={name}", f"#SBATCH --output={log}", f"#SBATCH --chdir={Path.cwd()}",
             "#SBATCH --nodes=1", "#SBATCH --ntasks=1"]
    lines += [f"#SBATCH {line}" for line in extra]
    for key, value in (("partition", res.partition), ("time", res.time), ("account", res.account)):
        if value:
            lines.append(f"#SBATCH --{key}={value}")
    if gpus:
        lines.append(f"#SBATCH --gpus-per-task={gpus}")
    if res.cpus:
        lines.append(f"#SBATCH --cpus-per-task={res.cpus}")
    if res.mem:
        lines.append(f"#SBATCH --mem={res.mem}")
    lines += [f"#SBATCH {option}" for option in res.sbatch]
    return lines


def write(sweep_path: Path, name: str, res: Resources) -> dict[str, Path]:
    """Write the array, the merge and the submit script for the sweep in ``sweep_path``."""
    res.check()
    folder = Path(sweep_path).resolve() / "slurm"
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    python, sweep = shlex.quote(sys.executable), shlex.quote(str(Path(sweep_path).resolve()))
    setup = [*res.setup]
    if res.cpus:  # a CPU run's records depend on its thread count: every task uses the same
        setup.append(f"export OMP_NUM_THREADS={res.cpus}")
    array = f"0-{res.tasks - 1}" + (f"%{res.parallel}" if res.parallel else "")
    launch = (f"{python} -m torch.distributed.run --standalone --nproc_per_node {res.gpus} -m bench.cli"
              if res.gpus > 1 else f"{python} -m bench.cli")
    task = [
        "#!/bin/bash",
        f"# bench sweep '{name}' as a job array: task i makes shard i/{res.tasks} of every cell. Submit with",
        "# submit.sh beside this file; rerun a lost task by its index: sbatch --array=I array.sbatch",
        *_header(f"bench-{name}", res, logs / "%A_%a.out", res.gpus, [f"--array={array}"]),
        "set -euo pipefail",
        f"cd {shlex.quote(str(Path.cwd()))}  # as --chdir does under SLURM, also when run by hand",
        *setup,
        f'exec {launch} sweep {sweep} --shard "${{SLURM_ARRAY_TASK_ID:?set by SLURM}}/{res.tasks}" -q',
        "",
    ]
    merge = [
        "#!/bin/bash",
        f"# bench sweep '{name}': every cell's shards into its tables, then the comparison (nothing is generated)",
        *_header(f"bench-{name}-merge", Resources(partition=res.partition, time=res.time, account=res.account,
                                                  sbatch=res.sbatch), logs / "merge-%j.out", 0, []),
        "set -euo pipefail",
        f"cd {shlex.quote(str(Path.cwd()))}",
        *res.setup,
        f"exec {python} -m bench.cli sweep {sweep} --merge",
        "",
    ]
    submit = [
        "#!/bin/bash",
        "# The array, then the merge once every task has succeeded. If a task fails, rerun it",
        "# (sbatch --array=I array.sbatch), then run merge.sbatch (or bench sweep FOLDER --merge).",
        "set -euo pipefail",
        'here="$(cd "$(dirname "$0")" && pwd)"',
        'array=$(sbatch --parsable "$here/array.sbatch")',
        'array="${array%%;*}"',
        'merge=$(sbatch --parsable --dependency=afterok:"$array" "$here/merge.sbatch")',
        'echo "array job $array (' + str(res.tasks) + ' tasks); merge job ${merge%%;*} after it"',
        "",
    ]
    files = {"array": folder / "array.sbatch", "merge": folder / "merge.sbatch", "submit": folder / "submit.sh"}
    for key, lines in (("array", task), ("merge", merge), ("submit", submit)):
        atomic_write_text(files[key], "\n".join(lines))
        os.chmod(files[key], 0o755)
    return files

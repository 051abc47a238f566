"""Sweeps: a study of several methods x budgets x models as one command (`bench sweep`).

    sweep   a [sweeps.NAME] table -> cells (one run each) -> the runs, sharded as asked -> one comparison
    slurm   a sweep as a SLURM job array (one shard of every cell a task) and its merge

Above the runner and the comparison: it runs cells through ``bench.running`` and compares them
through ``bench.analysis`` and ``bench.report``; nothing below imports it.
"""

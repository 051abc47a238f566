"""bench: what test-time compute buys in a diffusion model, and what it costs.

The Python API (``bench.api``), loaded on first use so that ``import bench`` stays light::

    import bench
    r = bench.run(method="reno", seeds=[0, 1], limit=4)     # a Run: .records (DataFrame), .path, .manifest
    c = bench.compare([bench.run(seeds=[0, 1], limit=4), r]) # a Comparison: .table, .records
    bench.load_run(r.path)                                  # a finished run folder, read back
    bench.train(method="hypernoise", steps=100)             # a Training: .path, .cost
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Comparison", "Run", "Sweep", "Training", "compare", "load_run", "run", "sweep", "train"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from bench import api

        return getattr(api, name)
    raise AttributeError(f"module 'bench' has no attribute '{name}'")

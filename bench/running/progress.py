"""Progress of a run or an evaluation, for a person at a terminal or a log file.

At a terminal: one tqdm bar (images, images per second, and the running mean reward where there is
one). Elsewhere (CI logs, files, pipes): no carriage returns, a plain line each time another tenth
of the work is done, and one at the end: ``base: 144/288 images (50%), 3.2 img/s, mean reward 70.12``.
Inside a long batch the bar moves as the method reports its progress (``Job.advance``).
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class Progress:
    def __init__(self, total: int, done: int, label: str, enabled: bool = True, stream: TextIO | None = None,
                 steps: int = 10):
        self.total, self.done, self.label, self.enabled = total, done, label, enabled and total > done
        self.stream = stream or sys.stderr
        self.start_done, self.start = done, time.perf_counter()
        self.sum, self.count = 0.0, 0
        self.in_batch = 0  # images of the batch in flight already shown as done (``partial``)
        self.steps = steps
        self.next_step = self._step(done) + 1
        self.bar: Any = None
        if self.enabled and self.stream.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=done, unit="img", desc=label, dynamic_ncols=True, file=self.stream)

    def _step(self, done: int) -> int:
        return done * self.steps // max(self.total, 1)

    def partial(self, batch: int, fraction: float) -> None:
        """``fraction`` of the batch in flight (``batch`` images) is done: the bar moves by the whole
        images that fraction stands for (methods report it through ``Job.advance``)."""
        target = min(int(fraction * batch), batch - 1)  # the batch's last image counts when it returns
        if target > self.in_batch:
            step, self.in_batch = target - self.in_batch, target
            self._advance(step)

    def update(self, n: int, rewards: list[float] | None = None) -> None:
        """``n`` more images done (a batch returned); ``rewards`` their rewards, for the running mean."""
        for r in rewards or []:
            if r == r:  # NaN-free mean
                self.sum, self.count = self.sum + r, self.count + 1
        step, self.in_batch = n - self.in_batch, 0
        self._advance(step)

    def _advance(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(n)
            if self.count:
                self.bar.set_postfix_str(f"mean reward {self.sum / self.count:.4g}", refresh=False)
        elif self._step(self.done) >= self.next_step or self.done >= self.total:
            self.next_step = self._step(self.done) + 1
            print(self.line(), file=self.stream, flush=True)

    def line(self) -> str:
        seconds = time.perf_counter() - self.start
        rate = (self.done - self.start_done) / seconds if seconds > 0 else float("nan")
        text = f"{self.label}: {self.done}/{self.total} images ({100 * self.done // max(self.total, 1)}%), {rate:.3g} img/s"
        return text + (f", mean reward {self.sum / self.count:.4g}" if self.count else "")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

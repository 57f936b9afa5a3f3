"""Progress reporting for ``fit``/``evaluate``/``predict``: updated per chunk of steps.

``verbose=1`` shows a bar per epoch (``tqdm.auto`` when installed, so notebooks get a widget;
otherwise a plain text bar on stdout), ``verbose=2`` one line per epoch, ``0`` nothing.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


def resolve_verbose(verbose: Any) -> int:
    """Keras's ``verbose``: "auto" means 1; otherwise 0, 1 or 2."""
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}.")
    return int(verbose)


def format_logs(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class ProgressBar:
    """A per-epoch progress bar over ``total`` steps, updated with :meth:`update`."""

    def __init__(self, total: int, desc: str = "", file: TextIO | None = None) -> None:
        self.total, self.desc, self.done = total, desc, 0
        self.file = file or sys.stdout
        self.start = time.perf_counter()
        try:
            from tqdm.auto import tqdm
        except ImportError:
            self._bar = None
        else:
            self._bar = tqdm(total=total, desc=desc, unit="step", file=self.file, leave=True)

    def update(self, steps: int, logs: dict[str, float] | None = None) -> None:
        self.done += steps
        if self._bar is not None:
            if logs:
                self._bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
            self._bar.update(steps)
            return
        elapsed = time.perf_counter() - self.start
        eta = elapsed / max(self.done, 1) * (self.total - self.done)
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        bar = "=" * filled + "." * (width - filled)
        tail = f" - {format_logs(logs)}" if logs else ""
        self.file.write(f"\r{self.desc} {self.done}/{self.total} [{bar}] ETA {eta:.1f}s{tail}")
        self.file.flush()

    def close(self, logs: dict[str, float] | None = None) -> None:
        if self._bar is not None:
            if logs:
                self._bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
            self._bar.close()
            return
        elapsed = time.perf_counter() - self.start
        tail = f" - {format_logs(logs)}" if logs else ""
        self.file.write(f"\r{self.desc} {self.done}/{self.total} - {elapsed:.1f}s{tail}\n")
        self.file.flush()

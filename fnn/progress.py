"""Progress reporting for ``fit``/``evaluate``/``predict``: updated per chunk of steps.

``verbose=1`` shows a bar per epoch (``tqdm.auto`` when installed, so notebooks get a widget;
otherwise a plain text bar on stdout), ``verbose=2`` one line per epoch, ``0`` nothing.
"""

from __future__ import annotations

import numbers
import sys
import time
from typing import Any, TextIO


def resolve_verbose(verbose: Any) -> int:
    """Keras's ``verbose``: "auto" means 1; otherwise 0, 1 or 2."""
    if verbose == "auto":
        return 1
    valid = isinstance(verbose, numbers.Integral) and not isinstance(verbose, bool)
    if not valid or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}.")
    return int(verbose)


def format_logs(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class ProgressBar:
    """A per-epoch progress bar over ``total`` steps, updated with :meth:`update`.

    Uses ``tqdm.auto`` when tqdm is installed (a widget in notebooks), else a plain text bar
    on ``file``. Each update shows the running logs and an ETA; :meth:`close` shows the epoch's
    final logs (validation entries included).

    >>> import io
    >>> out = io.StringIO()
    >>> bar = ProgressBar(4, desc="Epoch 1/1", file=out, use_tqdm=False)
    >>> bar.update(4, {"loss": 0.5})
    >>> bar.close({"loss": 0.5, "val_loss": 0.75})
    >>> out.getvalue().rstrip().endswith(" - loss: 0.5000 - val_loss: 0.7500")
    True
    """

    def __init__(
        self, total: int, desc: str = "", file: TextIO | None = None, use_tqdm: bool = True
    ) -> None:
        self.total, self.desc, self.done = total, desc, 0
        self.file = file or sys.stdout
        self.start = time.perf_counter()
        self._width = 0  # length of the last plain-text line, to blank it when shorter
        self._bar = None
        if use_tqdm:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                pass
            else:
                self._bar = tqdm(total=total, desc=desc, unit="step", file=self.file, leave=True)

    def update(self, steps: int, logs: dict[str, float] | None = None) -> None:
        """Advance by ``steps`` steps and show the running ``logs``."""
        self.done += steps
        if self._bar is not None:
            if logs:
                self._bar.set_postfix(_postfix(logs), refresh=False)
            self._bar.update(steps)
            return
        elapsed = time.perf_counter() - self.start
        eta = elapsed / max(self.done, 1) * (self.total - self.done)
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        bar = "=" * filled + "." * (width - filled)
        tail = f" - {format_logs(logs)}" if logs else ""
        self._write(f"{self.desc} {self.done}/{self.total} [{bar}] ETA {eta:.1f}s{tail}")

    def close(self, logs: dict[str, float] | None = None) -> None:
        """Finish the bar, showing the epoch's final ``logs``."""
        if self._bar is not None:
            if logs:
                self._bar.set_postfix(_postfix(logs), refresh=False)
            self._bar.close()
            return
        elapsed = time.perf_counter() - self.start
        tail = f" - {format_logs(logs)}" if logs else ""
        self._write(f"{self.desc} {self.done}/{self.total} - {elapsed:.1f}s{tail}", end="\n")

    def _write(self, line: str, end: str = "") -> None:
        pad = " " * max(self._width - len(line), 0)
        self._width = 0 if end else len(line)
        self.file.write(f"\r{line}{pad}{end}")
        self.file.flush()


def _postfix(logs: dict[str, float]) -> dict[str, str]:
    return {k: f"{v:.4f}" for k, v in logs.items()}

"""Progress reporting for ``fit``/``evaluate``/``predict``: updated per chunk of steps.

``verbose=1`` shows a bar per epoch, ``verbose=2`` one line per epoch, ``0`` nothing. Where the
bar goes decides how it looks:

- a terminal: a Keras-like line redrawn in place, ``Epoch 3/10`` above it. Every metric is
  shown whatever the terminal's width: the bar shrinks first, and when the numbers alone are
  wider than the terminal they continue on a second row (never cut).
- a file, a pipe or a CI log: one line per epoch when it ends, no carriage returns.
- a Jupyter notebook: tqdm's widget when tqdm and ipywidgets are installed, otherwise one line
  per epoch (no ``IProgress not found`` warning).
"""

from __future__ import annotations

import importlib.util
import numbers
import os
import sys
import time
from typing import Any, TextIO

#: The widest bar drawn (characters between the brackets), as Keras's fixed-width line.
BAR_WIDTH = 30
#: The narrowest bar worth drawing; below it the bar is left out rather than the numbers cut.
MIN_BAR_WIDTH = 6
#: Columns assumed when the output's width cannot be read.
DEFAULT_COLUMNS = 80


def resolve_verbose(verbose: Any) -> int:
    """Keras's ``verbose`` argument as an int.

    Args:
        verbose: ``"auto"`` (means 1), or 0 (silent), 1 (a progress bar) or 2 (one line per
            epoch).

    Returns:
        0, 1 or 2.

    Raises:
        ValueError: for any other value (booleans and floats included).

    >>> resolve_verbose("auto"), resolve_verbose(2)
    (1, 2)
    """
    if verbose == "auto":
        return 1
    valid = isinstance(verbose, numbers.Integral) and not isinstance(verbose, bool)
    if not valid or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}.")
    return int(verbose)


def format_logs(logs: dict[str, float]) -> str:
    """Keras's log format: ``name: value`` pairs, four decimals, joined by ``" - "``.

    Args:
        logs: metric names to values.

    Returns:
        The formatted line, every entry whole.

    >>> format_logs({"loss": 0.25, "val_accuracy": 1.0})
    'loss: 0.2500 - val_accuracy: 1.0000'
    """
    return " - ".join(_entries(logs))


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (IPython's ``ZMQInteractiveShell``).

    Returns:
        True inside a notebook's kernel, False in a terminal, a script or a plain IPython.

    >>> in_notebook()
    False
    """
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # an IPython too broken to ask: not a notebook we can draw in
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def terminal_columns(file: TextIO) -> int | None:
    """The width of the terminal ``file`` writes to, or None when it is not a terminal.

    Args:
        file: a text stream.

    Returns:
        The terminal's columns (``$COLUMNS`` when the terminal reports none), or None for a
        file, a pipe or a stream without a file descriptor.

    >>> import io
    >>> terminal_columns(io.StringIO()) is None
    True
    """
    try:
        if not file.isatty():
            return None
        columns = os.get_terminal_size(file.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return None
    if columns <= 0:
        columns = int(os.environ.get("COLUMNS", DEFAULT_COLUMNS) or DEFAULT_COLUMNS)
    return columns


class ProgressBar:
    """A per-epoch progress display over ``total`` steps, advanced with :meth:`update`.

    In a terminal (or with ``columns`` given), each update redraws the line with the running
    logs, the bar shortened to make room; :meth:`close` leaves the epoch's final logs
    (validation entries included). Elsewhere only :meth:`close` writes, one line.

    Args:
        total: the number of steps in the epoch.
        desc: the title, e.g. ``"Epoch 3/10"`` (default none).
        file: where to write (default: ``sys.stdout``).
        use_tqdm: in a notebook (with ``file`` and ``columns`` left as None), draw tqdm's
            widget when tqdm and ipywidgets are installed (default True).
        columns: the width to draw at. Default: the terminal's width when ``file`` is a
            terminal, else no redrawing at all (one line at :meth:`close`).

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> bar = ProgressBar(4, desc="Epoch 1/1", file=out)
        >>> bar.update(4, {"loss": 0.5})
        >>> bar.close({"loss": 0.5, "val_loss": 0.75})
        >>> print(out.getvalue().replace("0.0s", "T"), end="")
        Epoch 1/1 4/4 - T - loss: 0.5000 - val_loss: 0.7500
    """

    def __init__(
        self,
        total: int,
        desc: str = "",
        file: TextIO | None = None,
        use_tqdm: bool = True,
        columns: int | None = None,
    ) -> None:
        self.total, self.desc, self.done = total, desc, 0
        self.file = file if file is not None else sys.stdout
        self.start = time.perf_counter()
        self.columns = columns if columns is not None else terminal_columns(self.file)
        self._rows = 0  # rows the last redraw took, to move back over them
        self._bar: Any = None
        if use_tqdm and file is None and self.columns is None and in_notebook():
            self._bar = _notebook_bar(total, desc)
        if self._bar is None and self.columns is not None and desc:
            self.file.write(f"{desc}\n")  # Keras's header row; the bar line redraws below it
            self.file.flush()

    @property
    def live(self) -> bool:
        """Whether :meth:`update` draws anything (a terminal or a notebook widget).

        Returns:
            False for a file or a pipe, where only :meth:`close` writes: a caller may then
            skip the per-chunk updates (and their host syncs).
        """
        return self._bar is not None or self.columns is not None

    def update(self, steps: int, logs: dict[str, float] | None = None) -> None:
        """Advance by ``steps`` steps and show the running ``logs``.

        Args:
            steps: steps done since the last update.
            logs: the running metric means, shown in a terminal or a notebook widget.
        """
        self.done += steps
        if self._bar is not None:
            if logs:
                self._bar.set_postfix(_postfix(logs), refresh=False)
            self._bar.update(steps)
            return
        if self.columns is None:
            return  # a file or a pipe: nothing until the epoch's line
        elapsed = time.perf_counter() - self.start
        eta = elapsed / max(self.done, 1) * (self.total - self.done)
        self._draw(f"ETA {_duration(eta)}", logs or {})

    def close(self, logs: dict[str, float] | None = None) -> None:
        """Finish the epoch, showing its final ``logs``.

        Args:
            logs: the epoch's logs, validation entries included.
        """
        logs = logs or {}
        if self._bar is not None:
            if logs:
                self._bar.set_postfix(_postfix(logs), refresh=False)
            self._bar.close()
            return
        elapsed = _duration(time.perf_counter() - self.start)
        if self.columns is None:
            head = f"{self.desc} {self.done}/{self.total}".strip()
            self.file.write(" - ".join([head, elapsed, *_entries(logs)]) + "\n")
            self.file.flush()
            return
        self._draw(elapsed, logs)
        self.file.write("\n")
        self.file.flush()
        self._rows = 0

    def render(self, timing: str, logs: dict[str, float]) -> list[str]:
        """The rows drawn for ``timing`` and ``logs`` at :attr:`columns` (80 when unset).

        The bar shrinks (down to :data:`MIN_BAR_WIDTH`) to keep everything on one row; when the
        entries still do not fit, they go on the rows below the bar's, each entry whole.

        Args:
            timing: the ETA or the elapsed time, e.g. ``"ETA 3s"``.
            logs: metric names to values.

        Returns:
            The rows, none longer than the width unless a single entry is.

        >>> bar = ProgressBar(10, columns=42)
        >>> bar.done = 5
        >>> bar.render("ETA 1s", {"loss": 0.5})
        [' 5/10 [=====.....] ETA 1s - loss: 0.5000']
        """
        width = max((self.columns or DEFAULT_COLUMNS) - 1, 1)  # the last column wraps early
        count = f"{self.done:>{len(str(self.total))}}/{self.total}"
        entries = _entries(logs)
        tail = " - ".join([timing, *entries])
        room = width - len(count) - len(tail) - 4  # spaces and brackets around the bar
        if room >= MIN_BAR_WIDTH:
            return [f"{count} {self._bar_text(min(room, BAR_WIDTH))} {tail}"]
        first = count
        if width - len(count) - len(timing) - 4 >= MIN_BAR_WIDTH:
            bar_width = min(width - len(count) - len(timing) - 4, BAR_WIDTH)
            first = f"{count} {self._bar_text(bar_width)}"
        rows = [f"{first} {timing}", ""]
        for entry in entries:
            candidate = f"{rows[-1]} - {entry}" if rows[-1] else f"  {entry}"
            if len(candidate) <= width or not rows[-1]:
                rows[-1] = candidate
            else:
                rows.append(f"  {entry}")
        return rows if entries else rows[:1]

    def _bar_text(self, width: int) -> str:
        filled = int(width * self.done / max(self.total, 1))
        return "[" + "=" * filled + "." * (width - filled) + "]"

    def _draw(self, timing: str, logs: dict[str, float]) -> None:
        rows = self.render(timing, logs)
        # Back to the first row of the previous drawing, clear to the end of the screen.
        back = f"\x1b[{self._rows - 1}A" if self._rows > 1 else ""
        clear = "\x1b[J" if self._rows else ""
        self.file.write(f"\r{back}{clear}" + "\n".join(rows))
        self.file.flush()
        self._rows = len(rows)


def _entries(logs: dict[str, float]) -> list[str]:
    return [f"{k}: {v:.4f}" for k, v in logs.items()]


def _postfix(logs: dict[str, float]) -> dict[str, str]:
    return {k: f"{v:.4f}" for k, v in logs.items()}


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}m{seconds:02d}s"


def _notebook_bar(total: int, desc: str) -> Any:
    """tqdm's notebook widget, or None when tqdm or ipywidgets is missing (no warning)."""
    if importlib.util.find_spec("tqdm") is None or importlib.util.find_spec("ipywidgets") is None:
        return None
    from tqdm.notebook import tqdm

    return tqdm(total=total, desc=desc, unit="step", leave=True)

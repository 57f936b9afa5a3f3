"""What the monitoring callbacks share: checked arguments, the direction of a monitored quantity,
the "is this an improvement" test, and reading the monitored value from the epoch's logs.

>>> from fnn.callbacks.monitor import Monitor
>>> m = Monitor("val_accuracy", mode="auto", min_delta=0.01, owner="EarlyStopping")
>>> m.mode, m.improved(0.90, 0.85), m.improved(0.855, 0.85)
('max', True, False)
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from fnn.checks import check_int
from fnn.registry import unknown_name_error

MODES = ("auto", "min", "max")

#: Monitored names (after a ``val_`` prefix) that improve upwards in ``mode="auto"``.
_MAXIMISED = ("acc", "auc", "precision", "recall")


def check_count(value: Any, argument: str, owner: str) -> int:
    """``value`` must be an int >= 0 (patience, cooldown, start_from_epoch, verbose)."""
    return check_int(value, f"{owner}({argument}=...)", minimum=0)


def check_number(value: Any, argument: str, owner: str, *, optional: bool = False) -> Any:
    """``value`` must be a finite real number (or None when ``optional``)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        accepted = "a finite number" + (" or None" if optional else "")
        raise TypeError(f"{owner}({argument}=...) must be {accepted}, got {value!r}.")
    return float(value)


def auto_mode(monitor: str) -> str:
    """Keras's rule: accuracy-like quantities are maximised, everything else minimised."""
    name = monitor.removeprefix("val_").lower()
    return "max" if any(word in name for word in _MAXIMISED) else "min"


class Monitor:
    """A monitored log entry, its direction and the smallest change that counts."""

    def __init__(self, monitor: str, mode: str, min_delta: float, owner: str) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(
                f"{owner}(monitor=...) must be a log name such as 'val_loss', got {monitor!r}."
            )
        if mode not in MODES:
            raise unknown_name_error(f"{owner} mode", mode, list(MODES))
        self.monitor = monitor
        self.mode = auto_mode(monitor) if mode == "auto" else mode
        self.min_delta = abs(check_number(min_delta, "min_delta", owner))
        self.owner = owner

    @property
    def worst(self) -> float:
        """The starting "best" value: anything finite beats it."""
        return math.inf if self.mode == "min" else -math.inf

    def improved(self, current: float, reference: float) -> bool:
        """Whether ``current`` beats ``reference`` by more than ``min_delta``."""
        if self.mode == "min":
            return current < reference - self.min_delta
        return current > reference + self.min_delta

    def value(self, logs: dict[str, Any] | None) -> Any:
        """The monitored value in ``logs`` (a float; an array with one value per member for a
        population); a warning naming the available entries if absent."""
        logs = logs or {}
        if self.monitor not in logs:
            warnings.warn(
                f"{self.owner} monitors {self.monitor!r}, which is not in the epoch's logs "
                f"(available: {', '.join(logs) or 'none'}); skipping this epoch. Pass "
                "validation data for 'val_' entries, or monitor one of those.",
                stacklevel=3,
            )
            return None
        value = np.asarray(logs[self.monitor], np.float64)
        return float(value) if value.ndim == 0 else value


def to_plain(value: Any) -> Any:
    """A number or a list of them (a population's per-member arrays), JSON-able: infinities
    (a "best" not set yet) become None. For :meth:`Callback.get_state`."""
    arr = np.asarray(value)
    if arr.dtype.kind == "f":
        arr = np.where(np.isfinite(arr), arr, np.nan).astype(object)
        arr[np.isnan(arr.astype(float))] = None
    return arr.tolist() if arr.ndim else arr.item()


def from_plain(value: Any) -> Any:
    """Inverse of :func:`to_plain` for counts: an int, or an array of them."""
    arr = np.asarray(value)
    return arr if arr.ndim else arr.item()


def saved_best(value: Any, worst: float) -> Any:
    """A saved "best" value: None entries become the starting ``worst``."""
    arr = np.asarray(value, dtype=object)
    arr = np.where(np.equal(arr, None), worst, arr).astype(np.float64)
    return arr if arr.ndim else float(arr)

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
    """Check a count argument (patience, cooldown, start_from_epoch, verbose).

    Args:
        value: the value given.
        argument: the argument's name, for the error message.
        owner: the callback's class name, for the error message.

    Returns:
        ``value`` as an int.

    Raises:
        TypeError: ``value`` is not an int.
        ValueError: ``value`` is negative.
    """
    return check_int(value, f"{owner}({argument}=...)", minimum=0)


def check_number(value: Any, argument: str, owner: str, *, optional: bool = False) -> Any:
    """Check a number argument: a finite real number (or None when ``optional``).

    Args:
        value: the value given.
        argument: the argument's name, for the error message.
        owner: the callback's class name, for the error message.
        optional: whether None is accepted.

    Returns:
        ``value`` as a float, or None.

    Raises:
        TypeError: ``value`` is not a finite real number (a bool included).
    """
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        accepted = "a finite number" + (" or None" if optional else "")
        raise TypeError(f"{owner}({argument}=...) must be {accepted}, got {value!r}.")
    return float(value)


def auto_mode(monitor: str) -> str:
    """The direction ``mode="auto"`` means, by Keras's rule.

    Args:
        monitor: the monitored log name (``"val_accuracy"``, ``"loss"``, ...).

    Returns:
        ``"max"`` for accuracy-like quantities, else ``"min"``.
    """
    name = monitor.removeprefix("val_").lower()
    return "max" if any(word in name for word in _MAXIMISED) else "min"


class Monitor:
    """A monitored log entry, its direction and the smallest change that counts.

    Args:
        monitor: the log name to watch (``"val_loss"``).
        mode: ``"min"``, ``"max"`` or ``"auto"`` (from the name, see :func:`auto_mode`).
        min_delta: the smallest change that counts as an improvement (its absolute value).
        owner: the callback's class name, for messages.

    Raises:
        TypeError: ``monitor`` is not a non-empty string, or ``min_delta`` not a number.
        ValueError: ``mode`` is not one of the modes.
    """

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
        """Whether ``current`` beats ``reference`` by more than ``min_delta``.

        Args:
            current: the new value.
            reference: the best value so far.

        Returns:
            True for an improvement in the monitor's direction.
        """
        if self.mode == "min":
            return current < reference - self.min_delta
        return current > reference + self.min_delta

    def value(self, logs: dict[str, Any] | None) -> Any:
        """The monitored value in ``logs``; a warning naming the available entries if absent.

        Args:
            logs: the epoch's logs.

        Returns:
            A float (an array with one value per member for a population), or None when the
            entry is absent.
        """
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
    """A number or array made JSON-able, for :meth:`Callback.get_state`.

    Args:
        value: a number, or a population's per-member array.

    Returns:
        A number or a list of them; infinities and NaN (a "best" not set yet) become None.
    """
    arr = np.asarray(value)
    if arr.dtype.kind == "f":
        arr = np.where(np.isfinite(arr), arr, np.nan).astype(object)
        arr[np.isnan(arr.astype(float))] = None
    return arr.tolist() if arr.ndim else arr.item()


def from_plain(value: Any) -> Any:
    """Inverse of :func:`to_plain` for counts.

    Args:
        value: a number or a list of them.

    Returns:
        An int, or an array of them.
    """
    arr = np.asarray(value)
    return arr if arr.ndim else arr.item()


def saved_best(value: Any, worst: float) -> Any:
    """A saved "best" value back from :func:`to_plain`.

    Args:
        value: a number, None, or a list of them.
        worst: the starting value that None entries become.

    Returns:
        A float, or a float64 array of them.
    """
    arr = np.asarray(value, dtype=object)
    arr = np.where(np.equal(arr, np.asarray(None, dtype=object)), worst, arr).astype(np.float64)
    return arr if arr.ndim else float(arr)

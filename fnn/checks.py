"""Argument checks shared by every fnn module, with one rule for all of them.

A value of the wrong *type* raises ``TypeError``; a value of the right type that is out of range
raises ``ValueError``. Both name the argument, what came and what would be accepted. Every
``numbers.Integral`` (NumPy's integers included) is an int and every ``numbers.Real`` a number;
``bool`` is never accepted where an int or a number is meant::

    >>> import numpy as np
    >>> check_int(np.int64(3), "epochs")
    3
    >>> check_int(True, "epochs")
    Traceback (most recent call last):
    ...
    TypeError: epochs must be an int >= 0, got bool: True.
    >>> check_int(-1, "epochs")
    Traceback (most recent call last):
    ...
    ValueError: epochs must be an int >= 0, got -1.
"""

from __future__ import annotations

import math
import numbers
from typing import Any


def is_int(value: Any) -> bool:
    """Whether ``value`` is an integer in the sense of fnn's argument checks.

    Args:
        value: any object.

    Returns:
        True for every ``numbers.Integral`` (Python and NumPy integers), False for ``bool``
        (``True`` is not an epoch count) and for everything else (floats, arrays, None).
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number in the sense of fnn's argument checks.

    Args:
        value: any object.

    Returns:
        True for every ``numbers.Real`` (Python and NumPy ints and floats, NaN and infinities
        included), False for ``bool`` and for everything else (complex numbers, arrays, None).
    """
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(value: Any, argument: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    """``value`` as an int in ``[minimum, maximum]``.

    Args:
        value: what the caller passed.
        argument: the argument's name, for the message.
        minimum: the smallest value accepted.
        maximum: the largest value accepted (None: no bound).

    Returns:
        ``int(value)``.

    Raises:
        TypeError: ``value`` is not an int (a bool is not).
        ValueError: ``value`` is out of range.
    """
    if maximum is not None:
        accepted = f"an int in [{minimum}, {maximum}]"
    elif minimum == 1:
        accepted = "a positive int (an int >= 1)"
    else:
        accepted = f"an int >= {minimum}"
    if not is_int(value):
        raise TypeError(f"{argument} must be {accepted}, got {type(value).__name__}: {value!r}.")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{argument} must be {accepted}, got {value!r}.")
    return int(value)


def check_number(
    value: Any,
    argument: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    finite: bool = True,
) -> float:
    """``value`` as a float, optionally finite and within ``[minimum, maximum]``.

    Args:
        value: what the caller passed.
        argument: the argument's name, for the message.
        minimum: the smallest value accepted (None: no bound).
        maximum: the largest value accepted (None: no bound).
        finite: refuse NaN and infinities.

    Returns:
        ``float(value)``.

    Raises:
        TypeError: ``value`` is not a real number (a bool is not).
        ValueError: ``value`` is NaN/infinite (with ``finite``) or out of range.
    """
    if not is_number(value):
        raise TypeError(f"{argument} must be a number, got {type(value).__name__}: {value!r}.")
    out = float(value)
    if finite and not math.isfinite(out):
        raise ValueError(f"{argument} must be a finite number, got {value!r}.")
    if (minimum is not None and out < minimum) or (maximum is not None and out > maximum):
        low = "-inf" if minimum is None else minimum
        high = "inf" if maximum is None else maximum
        raise ValueError(f"{argument} must be in [{low}, {high}], got {value!r}.")
    return out


#: Seeds are folded into ``jax.random.key``: unsigned 32-bit integers.
MAX_SEED = 2**32 - 1


def check_seed(value: Any, argument: str = "seed") -> int:
    """A PRNG seed: an int in ``[0, 2**32 - 1]`` (what ``jax.random.key`` takes exactly).

    Args:
        value: what the caller passed as the seed.
        argument: the argument's name, for the error message (default ``"seed"``).

    Returns:
        ``int(value)``.

    Raises:
        TypeError: ``value`` is not an int (a bool is not).
        ValueError: ``value`` is negative or above ``MAX_SEED`` (``2**32 - 1``).

    Example:
        >>> check_seed(1337)
        1337
        >>> check_seed(-1, "random_state")
        Traceback (most recent call last):
        ...
        ValueError: random_state must be an int in [0, 4294967295], got -1.
    """
    return check_int(value, argument, minimum=0, maximum=MAX_SEED)

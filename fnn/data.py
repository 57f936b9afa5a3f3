"""Host-side input handling: checks at the door, and the order of examples in an epoch.

Everything here runs once per call on the host, before anything is compiled, so bad input gets a
clear ``ValueError``/``TypeError`` naming the argument instead of a JAX traceback.

The shuffle order of epoch ``e`` is a NumPy permutation seeded by ``(seed, e)``: reproducible,
independent of how many epochs ran before, and ~50x cheaper on a CPU than
``jax.random.permutation`` (which sorts)::

    >>> from fnn.data import epoch_order
    >>> order, rest = epoch_order(10, 4, seed=0, epoch=0, shuffle=False)
    >>> order.tolist(), rest.tolist()
    ([[0, 1, 2, 3], [4, 5, 6, 7]], [8, 9])
"""

from __future__ import annotations

from typing import Any

import numpy as np


def to_numpy(value: Any, argument: str, *, dtype: Any = None) -> np.ndarray:
    """Convert array-like input to a NumPy array, refusing non-numeric data by name."""
    if value is None:
        raise ValueError(f"{argument} is required, got None.")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{argument} could not be converted to an array: {exc}") from None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{argument} must hold numbers (bool, int or float), got an array of dtype {arr.dtype}."
        )
    if arr.ndim == 0:
        raise ValueError(f"{argument} must have a batch axis, got a scalar.")
    if arr.shape[0] == 0:
        raise ValueError(f"{argument} is empty (0 examples).")
    return arr.astype(dtype) if dtype is not None else arr


def check_finite(arr: np.ndarray, argument: str) -> None:
    """Raise a ValueError naming ``argument`` and the first row holding NaN or inf."""
    if arr.dtype.kind != "f":
        return
    finite = np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        raise ValueError(
            f"{argument} holds NaN or inf (first at row {row}); clean the data, or pass "
            "check_finite=False if that is intended."
        )


def check_lengths(**arrays: np.ndarray | None) -> int:
    """All given arrays must have the same number of examples; return it."""
    lengths = {name: a.shape[0] for name, a in arrays.items() if a is not None}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"Inputs must have the same number of examples: {described}.")
    return next(iter(lengths.values()))


def check_positive_int(value: Any, argument: str, *, minimum: int = 1) -> int:
    """``value`` must be an int ≥ ``minimum`` (a TypeError for other types, else ValueError)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{argument} must be an int >= {minimum}, got {type(value).__name__}: {value!r}."
        )
    if value < minimum:
        raise ValueError(f"{argument} must be an int >= {minimum}, got {value!r}.")
    return int(value)


def check_validation_freq(value: Any) -> None:
    """Keras's ``validation_freq``: an int ≥ 1 (every n-th epoch) or a list of epochs (from 1)."""
    if isinstance(value, (list, tuple, set, range)):
        for epoch in value:
            check_positive_int(epoch, "validation_freq entries")
    else:
        check_positive_int(value, "validation_freq")


def check_sample_weight(weights: np.ndarray, argument: str = "sample_weight") -> None:
    """Per-example weights: shape (n,), finite and non-negative."""
    if weights.ndim != 1:
        raise ValueError(f"{argument} must have shape (n,), got shape {weights.shape}.")
    check_finite(weights, argument)
    negative = np.flatnonzero(weights < 0)
    if negative.size:
        raise ValueError(
            f"{argument} must be >= 0, got {weights[negative[0]]} at row {negative[0]}."
        )


def check_class_weight(class_weight: Any, num_classes: int) -> dict[int, float]:
    """``class_weight``: a dict {class index in [0, num_classes): finite weight >= 0}."""
    if not isinstance(class_weight, dict):
        raise TypeError(
            f"class_weight must be a dict {{class index: weight}}, got "
            f"{type(class_weight).__name__}."
        )
    out = {}
    for cls, w in class_weight.items():
        if isinstance(cls, bool) or not isinstance(cls, (int, np.integer)):
            raise TypeError(f"class_weight keys must be int class indices, got {cls!r}.")
        if not 0 <= cls < num_classes:
            raise ValueError(
                f"class_weight has class {cls}, outside the model's {num_classes} classes "
                f"[0, {num_classes - 1}]."
            )
        if (
            isinstance(w, bool)
            or not isinstance(w, (int, float, np.number))
            or not (np.isfinite(w) and w >= 0)
        ):
            raise ValueError(f"class_weight[{cls}] must be a finite number >= 0, got {w!r}.")
        out[int(cls)] = float(w)
    return out


def epoch_order(
    n: int, batch_size: int, *, seed: int, epoch: int, shuffle: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Example indices for one epoch: ``(order (steps, batch_size), rest (n % batch_size,))``.

    Every example is used once; the last, smaller batch is ``rest`` (empty when it divides).
    """
    if shuffle:
        idx = np.random.default_rng([seed, epoch]).permutation(n).astype(np.int32)
    else:
        idx = np.arange(n, dtype=np.int32)
    steps = n // batch_size
    return idx[: steps * batch_size].reshape(steps, batch_size), idx[steps * batch_size :]


def split_validation(
    arrays: list[np.ndarray | None], validation_split: float
) -> tuple[list[np.ndarray | None], list[np.ndarray | None]]:
    """Keras's ``validation_split``: the last fraction of examples, taken before shuffling."""
    if not isinstance(validation_split, (int, float)) or not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be a float in [0, 1), got {validation_split!r}.")
    n = next(a for a in arrays if a is not None).shape[0]
    cut = int(n * (1.0 - validation_split))
    if cut < 1 or cut >= n:
        raise ValueError(
            f"validation_split={validation_split} leaves {cut} training and {n - cut} "
            f"validation examples out of {n}; both need at least one."
        )
    train = [None if a is None else a[:cut] for a in arrays]
    val = [None if a is None else a[cut:] for a in arrays]
    return train, val

"""The door: every check and conversion of user data, on the host, before anything compiles.

``Sequential`` and ``Population`` both come through here, so bad input gets the same clear
``ValueError``/``TypeError`` naming the argument, whichever facade it was given to, and nothing
of the model changes when it is refused. The per-loss label rules (integer labels for sparse
cross-entropy, a single output unit's 1-D targets) and class weights live here too::

    >>> import numpy as np
    >>> check_sample_weight(np.array([1.0, -2.0]))
    Traceback (most recent call last):
    ...
    ValueError: sample_weight must be >= 0, got -2.0 at row 1.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from fnn import losses as losses_lib
from fnn.checks import check_int, is_int, is_number
from fnn.progress import resolve_verbose


def _is_array_like(value: Any) -> bool:
    """Arrays, things with ``__array__`` (pandas, JAX), scalars, and (nested) lists/tuples."""
    return isinstance(value, (np.ndarray, list, tuple, numbers.Number)) or hasattr(
        value, "__array__"
    )


def to_numpy(value: Any, argument: str, *, dtype: Any = None) -> np.ndarray:
    """Convert array-like input to a NumPy array, refusing non-numeric data by name.

    Args:
        value: a NumPy or JAX array (bfloat16 included), a pandas object (nullable columns
            included, missing values refused), or nested lists of numbers.
        argument: the argument's name, for messages.
        dtype: convert to this dtype (no copy when it already has it).

    Returns:
        The data as a NumPy array with a batch axis.

    Raises:
        TypeError: ``value`` is not array data, or does not hold numbers.
        ValueError: ``value`` is None, ragged, a scalar, empty, or has missing values.
    """
    if value is None:
        raise ValueError(f"{argument} is required, got None.")
    if not _is_array_like(value):
        # Never np.asarray an arbitrary object: one whose __getitem__ never raises IndexError
        # would be iterated forever.
        raise TypeError(
            f"{argument} must be array data (a NumPy or JAX array, a pandas DataFrame/Series, or "
            f"a list of numbers), got {type(value).__name__}."
        )
    to_numpy_method = getattr(value, "to_numpy", None)
    if callable(to_numpy_method) and not isinstance(value, np.ndarray):
        value = _from_pandas(value, argument)
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{argument} could not be converted to an array: {exc}") from None
    if arr.dtype.name == "bfloat16" or (arr.dtype.kind == "V" and arr.dtype.itemsize == 2):
        arr = arr.astype(np.float32)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{argument} must hold numbers (bool, int or float), got an array of dtype {arr.dtype}."
        )
    if arr.ndim == 0:
        raise ValueError(f"{argument} must have a batch axis, got a scalar.")
    if arr.shape[0] == 0:
        raise ValueError(f"{argument} is empty (0 examples).")
    # copy=False: data already in the right dtype is used as it is (a copy of a large array
    # costs more than a fused epoch of a small model).
    return arr.astype(dtype, copy=False) if dtype is not None else arr


def _from_pandas(value: Any, argument: str) -> np.ndarray:
    """A pandas object's values; nullable columns (``Float32``, ``Int64``) without missing
    values become plain NumPy numbers, missing values are refused by row."""
    isna = getattr(value, "isna", None)
    if callable(isna):
        missing = np.asarray(isna())
        if missing.dtype == bool and missing.any():
            rows = missing.reshape(missing.shape[0], -1).any(axis=1)
            raise ValueError(
                f"{argument} has missing values (first at row {int(np.argmax(rows))}); fill or "
                "drop them first."
            )
    try:
        return np.asarray(value.to_numpy(dtype=np.float64 if _has_float(value) else None))
    except (TypeError, ValueError):
        return np.asarray(value.to_numpy())


def _has_float(value: Any) -> bool:
    dtypes = getattr(value, "dtypes", None)
    kinds = [getattr(value, "dtype", None)] if dtypes is None else list(dtypes)
    return any("float" in str(d).lower() for d in kinds)


#: Bytes of data the finite check looks at in one go.
FINITE_BLOCK_BYTES = 64 << 20


def check_finite(arr: np.ndarray, argument: str) -> None:
    """Raise a ValueError naming ``argument`` and the first row holding NaN or inf."""
    if arr.dtype.kind != "f":
        return
    # Blocks of rows: a memory-mapped data set larger than memory is read a block at a time.
    rows = max(1, FINITE_BLOCK_BYTES // max(arr[:1].nbytes, 1))
    for start in range(0, arr.shape[0], rows):
        block = np.asarray(arr[start : start + rows])
        if np.isfinite(block).all():  # the common case, ~20x cheaper than the per-row pass
            continue
        finite = np.isfinite(block.reshape(block.shape[0], -1)).all(axis=1)
        row = start + int(np.argmin(finite))
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
    return check_int(value, argument, minimum=minimum)


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
        if not is_int(cls):
            raise TypeError(f"class_weight keys must be int class indices, got {cls!r}.")
        if not 0 <= cls < num_classes:
            raise ValueError(
                f"class_weight has class {cls}, outside the model's {num_classes} classes "
                f"[0, {num_classes - 1}]."
            )
        if not is_number(w) or not (np.isfinite(w) and w >= 0):
            raise ValueError(f"class_weight[{cls}] must be a finite number >= 0, got {w!r}.")
        out[int(cls)] = float(w)
    return out


def check_batch_size(batch_size: Any, argument: str = "batch_size") -> int:
    """A batch size: None means Keras's default, 32; otherwise an int >= 1."""
    return check_positive_int(32 if batch_size is None else batch_size, argument)


def split_validation(
    arrays: list[np.ndarray | None], validation_split: float
) -> tuple[list[np.ndarray | None], list[np.ndarray | None]]:
    """Keras's ``validation_split``: the last fraction of examples, taken before shuffling."""
    if not is_number(validation_split) or not 0.0 <= validation_split < 1.0:
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


def check_shuffle(shuffle: Any) -> bool | str:
    """Keras's ``shuffle``: True, False, or ``"batch"`` (treated as True: fnn shuffles examples
    within each epoch's program)."""
    if shuffle is True or shuffle is False or isinstance(shuffle, (bool, np.bool_)):
        return bool(shuffle)
    if shuffle == "batch":
        return "batch"
    raise TypeError(
        f"shuffle must be True, False or 'batch', got {type(shuffle).__name__}: {shuffle!r}."
    )


# -- a model's data --------------------------------------------------------------------------
def prepare_x(model: Any, x: Any, argument: str = "x", check: bool = True) -> np.ndarray:
    """``x`` for ``model`` as float32 NumPy (int32 ids for a model that starts with an
    ``Embedding``, each id checked against its vocabulary), building the model from its shape if
    needed."""
    first = model.layers[0] if model.layers else None
    if first is not None and hasattr(first, "check_ids"):
        arr = to_numpy(x, argument)
        first.check_ids(arr, argument)  # integers in [0, input_dim), by row
        arr = arr.astype(np.int32, copy=False)
        check = False
    else:
        arr = to_numpy(x, argument, dtype=np.float32)
    if not model.built:
        if arr.ndim < 2:
            raise ValueError(
                f"{argument} has shape {arr.shape}: the model is not built yet and needs inputs of "
                "shape (batch, features...) to infer its input shape; reshape x (e.g. "
                "x[:, None]) or give the first layer input_shape."
            )
        model.build(arr.shape[1:])
    if tuple(arr.shape[1:]) != model.input_shape:
        raise ValueError(
            f"{argument} has shape {arr.shape}: each example is {arr.shape[1:]}, but the "
            f"model expects inputs of shape (batch, {', '.join(map(str, model.input_shape))})."
        )
    if check:
        check_finite(arr, argument)
    return arr


def _sparse_labels(arr: np.ndarray, argument: str, units: int, check: bool) -> np.ndarray:
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"{argument} must hold integer class labels of shape (n,) for "
            f"sparse_categorical_crossentropy, got shape {arr.shape}."
        )
    if check:
        check_finite(arr, argument)
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise ValueError(f"{argument} must hold integer class labels, got fractions.")
    # Range check on the values as given, before any cast can wrap them.
    bad = np.flatnonzero((arr < 0) | (arr >= units))
    if bad.size:
        raise ValueError(
            f"{argument} holds label {arr[bad[0]].item()!r} at row {bad[0]}, outside the "
            f"model's {units} classes [0, {units - 1}]."
        )
    return arr.astype(np.int32)


def prepare_y(model: Any, y: Any, argument: str = "y", check: bool = True) -> np.ndarray:
    """Targets for ``model``'s loss: int32 labels for sparse cross-entropy, else float32 of the
    output's shape (1-D targets of a single output unit get their unit axis)."""
    arr = to_numpy(y, argument)
    out_shape = model.output_shape
    loss = model.loss
    if isinstance(loss, losses_lib.SparseCategoricalCrossentropy):
        return _sparse_labels(arr, argument, out_shape[-1], check)
    arr = arr.astype(np.float32, copy=False)
    if arr.ndim == 1 and out_shape == (1,):
        arr = arr[:, None]
    if check:
        check_finite(arr, argument)
    builtin = isinstance(loss, tuple(losses_lib.LOSS_CLASSES.values()))
    if builtin and tuple(arr.shape[1:]) != tuple(out_shape):
        hint = ""
        if isinstance(loss, losses_lib.CategoricalCrossentropy) and arr.ndim == 1:
            hint = (
                " For integer labels use loss='sparse_categorical_crossentropy', or one-hot "
                "encode them."
            )
        raise ValueError(
            f"{argument} has shape {arr.shape}, but the model's output is (batch, "
            f"{', '.join(map(str, out_shape))}) and {loss.name} compares them "
            f"element-wise.{hint}"
        )
    return arr


def prepare_weights(
    model: Any,
    y: np.ndarray,
    sample_weight: Any,
    class_weight: Any,
    argument: str = "sample_weight",
) -> np.ndarray | None:
    """Per-example weights: ``sample_weight`` times the class weight of each example's class."""
    weights = None
    if sample_weight is not None:
        weights = to_numpy(sample_weight, argument, dtype=np.float32)
        check_sample_weight(weights, argument)
    if class_weight is not None:
        units = model.output_shape[-1]
        class_weight = check_class_weight(class_weight, max(units, 2))
        classes = y if y.ndim == 1 else np.argmax(y, axis=-1)
        if y.ndim == 2 and y.shape[1] == 1:
            classes = (y[:, 0] > 0.5).astype(np.int64)
        table = np.ones(int(max(classes.max(), *class_weight.keys(), 0)) + 1, np.float32)
        for cls, w in class_weight.items():
            table[int(cls)] = float(w)
        cw = table[classes.astype(np.int64)]
        weights = cw if weights is None else weights * cw
    return weights


def prepare_xy(
    model: Any,
    x: Any,
    y: Any,
    sample_weight: Any = None,
    class_weight: Any = None,
    prefix: str = "",
    check: bool = True,
) -> list[np.ndarray | None]:
    """``[x, y, sample_weight or None]`` for ``model``, checked and of one length."""
    xa = prepare_x(model, x, prefix + "x", check)
    ya = prepare_y(model, y, prefix + "y", check)
    wa = prepare_weights(model, ya, sample_weight, class_weight, prefix + "sample_weight")
    check_lengths(**{prefix + "x": xa, prefix + "y": ya, prefix + "sample_weight": wa})
    return [xa, ya, wa]


def prepare_validation(model: Any, validation_data: Any, check: bool) -> list[Any]:
    """``validation_data``: ``(x_val, y_val)`` or ``(x_val, y_val, val_sample_weight)``."""
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError(
            "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
            f"val_sample_weight), got {type(validation_data).__name__}."
        )
    vx, vy, *vw = validation_data
    return prepare_xy(model, vx, vy, vw[0] if vw else None, prefix="val_", check=check)


class FitPlan(NamedTuple):
    """What fit's door checks return: validated settings and host arrays."""

    batch_size: int
    epochs: int
    initial_epoch: int
    verbose: int
    shuffle: bool | str
    arrays: list[Any] | None
    val_arrays: list[Any] | None
    val_batch: int
    validation_freq: Any
    #: A pipeline's feed (:class:`fnn.engine.PipelineFeed`) instead of ``arrays``.
    stream: Any = None


def fit_plan(
    model: Any,
    x: Any,
    y: Any,
    *,
    batch_size: Any,
    epochs: Any,
    verbose: Any,
    validation_split: Any,
    validation_data: Any,
    shuffle: Any,
    class_weight: Any,
    sample_weight: Any,
    initial_epoch: Any,
    validation_batch_size: Any,
    validation_freq: Any,
    check: bool,
    check_batch: Any,
) -> FitPlan:
    """Every check of ``fit``'s arguments and data, before anything changes.

    ``model`` is the facade's model specification (``built``, ``build``, ``input_shape``,
    ``output_shape``, ``loss``); a lazy build from ``x`` is undone if a later check fails.
    ``check_batch(batch_size, argument)`` is the distribution's batch-size rule.
    """
    batch_size = check_batch_size(batch_size)
    epochs = check_positive_int(epochs, "epochs", minimum=0)
    initial_epoch = check_positive_int(initial_epoch, "initial_epoch", minimum=0)
    if initial_epoch > epochs:
        raise ValueError(
            f"initial_epoch ({initial_epoch}) must not be greater than epochs ({epochs})."
        )
    check_batch(batch_size, "batch_size")
    if validation_batch_size is not None:
        check_positive_int(validation_batch_size, "validation_batch_size")
        check_batch(validation_batch_size, "validation_batch_size")
    verbose = resolve_verbose(verbose)
    check_validation_freq(validation_freq)
    shuffle = check_shuffle(shuffle)
    with unchanged_on_error(model):
        arrays = prepare_xy(model, x, y, sample_weight, class_weight, check=check)
        val_arrays = None
        if validation_data is not None:
            val_arrays = prepare_validation(model, validation_data, check)
        if validation_split:
            if validation_data is not None:
                raise ValueError("Pass validation_split or validation_data, not both.")
            arrays, val_arrays = split_validation(arrays, validation_split)
    return FitPlan(
        batch_size,
        epochs,
        initial_epoch,
        verbose,
        shuffle,
        arrays,
        val_arrays,
        validation_batch_size or batch_size,
        validation_freq,
    )


@contextlib.contextmanager
def unchanged_on_error(model: Any) -> Iterator[None]:
    """Put back the model's snapshot (``model.snapshot()`` / ``model.restore(...)``) if the
    block raises: a lazy build on refused data leaves no trace."""
    saved = model.snapshot()
    try:
        yield
    except BaseException:
        model.restore(saved)
        raise


def is_due(epoch: int, validation_freq: int | Sequence[int]) -> bool:
    """Keras's ``validation_freq``: validate after epoch ``epoch`` (0-based)?"""
    if isinstance(validation_freq, int):
        return (epoch + 1) % validation_freq == 0
    return (epoch + 1) in set(validation_freq)

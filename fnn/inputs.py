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
    """Refuse NaN and inf in float data, naming ``argument`` and the first bad row.

    Integer and boolean arrays pass unchecked. The array is read in blocks of about
    :data:`FINITE_BLOCK_BYTES`, so a memory-mapped data set larger than memory can be checked.

    Args:
        arr: the data, batch axis first (a NumPy array or a ``np.memmap``).
        argument: the argument's name, for the message (``"x"``, ``"val_y"``).

    Raises:
        ValueError: if ``arr`` holds NaN or inf; the message names the first row holding one
            and the ``check_finite=False`` way out.

    Example:
        >>> import numpy as np
        >>> check_finite(np.array([[0.0], [np.inf]]), "x")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: x holds NaN or inf (first at row 1); clean the data, or pass ...
    """
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
    """All given arrays must have the same number of examples; return it.

    Args:
        **arrays: the arrays by argument name (``x=..., y=...``); None values are skipped.
            At least one must be an array.

    Returns:
        The common number of examples (the length of the first axis).

    Raises:
        ValueError: if two arrays differ in length (the message lists every length by name), or
            if no array was given (all None, or no argument).

    Example:
        >>> import numpy as np
        >>> check_lengths(x=np.zeros((3, 2)), y=np.zeros(3), sample_weight=None)
        3
    """
    lengths = {name: a.shape[0] for name, a in arrays.items() if a is not None}
    if not lengths:
        given = ", ".join(f"{name}=None" for name in arrays) or "no argument"
        raise ValueError(f"check_lengths needs at least one array to count, got {given}.")
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"Inputs must have the same number of examples: {described}.")
    return next(iter(lengths.values()))


def check_positive_int(value: Any, argument: str, *, minimum: int = 1) -> int:
    """``value`` as an int ≥ ``minimum``.

    Args:
        value: what the caller passed (a Python or NumPy integer; bools are refused).
        argument: the argument's name, for the message.
        minimum: the smallest value accepted (default 1).

    Returns:
        ``int(value)``.

    Raises:
        TypeError: if ``value`` is not an integer (raised by :func:`fnn.checks.check_int`).
        ValueError: if ``value`` is below ``minimum``.
    """
    return check_int(value, argument, minimum=minimum)


def check_validation_freq(value: Any) -> None:
    """Check Keras's ``validation_freq``: an int ≥ 1 or a collection of epochs counted from 1.

    An int ``n`` validates after every n-th epoch; a list, tuple, set or range names the
    (1-based) epochs after which to validate.

    Args:
        value: the ``validation_freq`` that ``fit`` received.

    Raises:
        TypeError: if ``value`` (or an entry of it) is not an integer (raised by
            :func:`check_positive_int`).
        ValueError: if ``value`` (or an entry of it) is below 1.
    """
    if isinstance(value, (list, tuple, set, range)):
        for epoch in value:
            check_positive_int(epoch, "validation_freq entries")
    else:
        check_positive_int(value, "validation_freq")


def check_sample_weight(weights: np.ndarray, argument: str = "sample_weight") -> None:
    """Check per-example weights: shape ``(n,)``, finite and non-negative.

    Args:
        weights: the weights as a NumPy array (already converted by :func:`to_numpy`).
        argument: the argument's name, for messages (default ``"sample_weight"``).

    Raises:
        ValueError: if ``weights`` is not 1-D, holds NaN or inf, or holds a negative weight
            (the message names the first such row).
    """
    if weights.ndim != 1:
        raise ValueError(f"{argument} must have shape (n,), got shape {weights.shape}.")
    check_finite(weights, argument)
    negative = np.flatnonzero(weights < 0)
    if negative.size:
        raise ValueError(
            f"{argument} must be >= 0, got {weights[negative[0]]} at row {negative[0]}."
        )


def check_class_weight(class_weight: Any, num_classes: int) -> dict[int, float]:
    """Check Keras's ``class_weight``: a dict ``{class index: weight}``.

    Classes left out keep weight 1 (applied by :func:`prepare_weights`).

    Args:
        class_weight: the dict ``fit`` received; keys are int class indices in
            ``[0, num_classes)``, values finite numbers ≥ 0.
        num_classes: the number of classes of the model's output (2 for a single sigmoid unit).

    Returns:
        A new dict with Python ``int`` keys and ``float`` weights.

    Raises:
        TypeError: if ``class_weight`` is not a dict, or a key is not an int.
        ValueError: if a key is outside ``[0, num_classes)`` or a weight is negative, NaN,
            inf or not a number.

    Example:
        >>> check_class_weight({0: 1, 1: 2.5}, num_classes=2)
        {0: 1.0, 1: 2.5}
    """
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
    """A batch size: None means Keras's default, 32; otherwise an int ≥ 1.

    Args:
        batch_size: the batch size received, or None.
        argument: the argument's name, for messages (default ``"batch_size"``).

    Returns:
        The batch size as an int (32 for None).

    Raises:
        TypeError: if ``batch_size`` is neither None nor an integer (raised by
            :func:`check_positive_int`).
        ValueError: if ``batch_size`` is below 1.
    """
    return check_positive_int(32 if batch_size is None else batch_size, argument)


def split_validation(
    arrays: list[np.ndarray | None], validation_split: float
) -> tuple[list[np.ndarray | None], list[np.ndarray | None]]:
    """Keras's ``validation_split``: the last fraction of examples, taken before shuffling.

    Args:
        arrays: ``[x, y, sample_weight]`` of one length; None entries stay None.
        validation_split: the fraction in ``[0, 1)`` of examples to hold out, from the end.

    Returns:
        ``(train, validation)``: two lists like ``arrays``, the first
        ``int(n * (1 - validation_split))`` examples and the rest (views, not copies).

    Raises:
        ValueError: if ``validation_split`` is not a number in ``[0, 1)``, or it leaves no
            training or no validation example.

    Example:
        >>> import numpy as np
        >>> train, val = split_validation([np.arange(10), None], 0.2)
        >>> train[0].tolist(), val[0].tolist(), val[1]
        ([0, 1, 2, 3, 4, 5, 6, 7], [8, 9], None)
    """
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
    """Check Keras's ``shuffle``: True, False, or ``"batch"``.

    fnn treats ``"batch"`` as True: it shuffles examples within each epoch's program.

    Args:
        shuffle: the value ``fit`` received (a Python or NumPy bool, or ``"batch"``).

    Returns:
        ``bool(shuffle)``, or the string ``"batch"``.

    Raises:
        TypeError: for any other value.
    """
    if shuffle is True or shuffle is False or isinstance(shuffle, (bool, np.bool_)):
        return bool(shuffle)
    if shuffle == "batch":
        return "batch"
    raise TypeError(
        f"shuffle must be True, False or 'batch', got {type(shuffle).__name__}: {shuffle!r}."
    )


# -- a model's data --------------------------------------------------------------------------
def prepare_x(model: Any, x: Any, argument: str = "x", check: bool = True) -> np.ndarray:
    """``x`` for ``model`` as float32 NumPy, building the model from its shape if needed.

    For a model whose first layer is an ``Embedding``, ``x`` holds ids instead: each is checked
    against the vocabulary and the result is int32 (and the finite check is skipped).

    Args:
        model: the model specification (``layers``, ``built``, ``build``, ``input_shape``).
        x: the inputs, any array-like :func:`to_numpy` accepts, shape ``(n, *input_shape)``.
        argument: the argument's name, for messages (default ``"x"``).
        check: whether to refuse NaN and inf (default True; ``check_finite`` in ``fit``).

    Returns:
        The inputs as a NumPy array of shape ``(n, *model.input_shape)``, float32 (int32 ids
        for an ``Embedding`` model).

    Raises:
        TypeError: if ``x`` is not array data or does not hold numbers (see :func:`to_numpy`).
        ValueError: if ``x`` is refused by :func:`to_numpy` (None, ragged, empty, missing
            values), holds NaN/inf (with ``check``) or out-of-vocabulary ids; if the model is
            unbuilt and ``x`` has fewer than 2 dimensions; or if each example's shape differs
            from the model's input shape.
    """
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


def _sparse_rule(loss: Any) -> tuple[bool, int | None]:
    """Whether ``loss`` takes integer class labels, and its ``ignore_class`` (None: none)."""
    if isinstance(loss, losses_lib.SparseCategoricalCrossentropy):
        return True, loss.ignore_class
    return losses_lib.wrapped_function(loss) is losses_lib.sparse_categorical_crossentropy, None


def _sparse_labels(
    arr: np.ndarray, argument: str, units: int, check: bool, ignore_class: int | None
) -> np.ndarray:
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
    # Range check on the values as given, before any cast can wrap them: a min and a max over
    # the labels (which the int32 cast below reads anyway); rows are looked for only on failure.
    if arr.size and (arr.min() < 0 or arr.max() >= units):
        bad = (arr < 0) | (arr >= units)
        if ignore_class is not None:
            bad &= arr != ignore_class
        rows = np.flatnonzero(bad)
        if rows.size:
            ignored = (
                "" if ignore_class is None else f", nor the loss's ignore_class={ignore_class}"
            )
            raise ValueError(
                f"{argument} holds label {arr[rows[0]].item()!r} at row {rows[0]}, outside the "
                f"valid range [0, {units}) of the model's {units} classes{ignored}."
            )
    return arr.astype(np.int32)


def prepare_y(model: Any, y: Any, argument: str = "y", check: bool = True) -> np.ndarray:
    """Targets for ``model``'s loss, checked against its output.

    Args:
        model: the built model specification (``output_shape``, ``loss``).
        y: the targets, any array-like :func:`to_numpy` accepts.
        argument: the argument's name, for messages (default ``"y"``).
        check: whether to refuse NaN and inf (default True).

    Returns:
        For ``SparseCategoricalCrossentropy`` (or the function
        :func:`fnn.losses.sparse_categorical_crossentropy`): int32 class labels of shape
        ``(n,)`` (a ``(n, 1)`` column is flattened), each in ``[0, num_classes)`` or equal to
        the loss's ``ignore_class``. Otherwise float32 of shape ``(n, *output_shape)``;
        1-D targets of a single output unit get their unit axis, ``(n,)`` → ``(n, 1)``.

    Raises:
        TypeError: if ``y`` is not array data or does not hold numbers (see :func:`to_numpy`).
        ValueError: if ``y`` is refused by :func:`to_numpy` or holds NaN/inf (with ``check``);
            if sparse labels are not 1-D, not whole numbers or outside ``[0, num_classes)``
            (and not ``ignore_class``); or if, for a built-in loss, the targets' shape differs
            from the output's (with a hint for integer labels given to categorical
            cross-entropy).
    """
    arr = to_numpy(y, argument)
    out_shape = model.output_shape
    loss = model.loss
    sparse, ignore_class = _sparse_rule(loss)
    if sparse:
        return _sparse_labels(arr, argument, out_shape[-1], check, ignore_class)
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
    """Per-example weights: ``sample_weight`` times the class weight of each example's class.

    An example's class is its label (sparse labels), its argmax (one-hot targets), or
    ``y > 0.5`` for a single output unit.

    Args:
        model: the built model specification (``output_shape``).
        y: the prepared targets, from :func:`prepare_y`.
        sample_weight: per-example weights of shape ``(n,)``, or None.
        class_weight: Keras's ``{class index: weight}`` dict, or None.
        argument: the name of ``sample_weight``, for messages (default ``"sample_weight"``).

    Returns:
        float32 weights of shape ``(n,)``, or None when both ``sample_weight`` and
        ``class_weight`` are None.
    """
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
    """``[x, y, sample_weight or None]`` for ``model``, checked and of one length.

    Args:
        model: the model specification (see :func:`prepare_x` and :func:`prepare_y`).
        x: the inputs.
        y: the targets.
        sample_weight: per-example weights of shape ``(n,)``, or None (default).
        class_weight: Keras's ``{class index: weight}`` dict, or None (default).
        prefix: put before each argument name in messages (``"val_"`` for validation data).
        check: whether to refuse NaN and inf (default True).

    Returns:
        ``[x, y, weights]`` as NumPy arrays (see :func:`prepare_x`, :func:`prepare_y`,
        :func:`prepare_weights`); ``weights`` is None when no weighting was asked for.
    """
    xa = prepare_x(model, x, prefix + "x", check)
    ya = prepare_y(model, y, prefix + "y", check)
    wa = prepare_weights(model, ya, sample_weight, class_weight, prefix + "sample_weight")
    check_lengths(**{prefix + "x": xa, prefix + "y": ya, prefix + "sample_weight": wa})
    return [xa, ya, wa]


def prepare_validation(model: Any, validation_data: Any, check: bool) -> list[Any]:
    """Check and convert ``fit``'s ``validation_data``.

    Args:
        model: the model specification.
        validation_data: a tuple or list ``(x_val, y_val)`` or
            ``(x_val, y_val, val_sample_weight)``, as in Keras.
        check: whether to refuse NaN and inf.

    Returns:
        ``[x_val, y_val, val_weights or None]``, as from :func:`prepare_xy` (messages name
        ``val_x``, ``val_y``, ``val_sample_weight``).

    Raises:
        ValueError: if ``validation_data`` is not a tuple or list of 2 or 3 items.
    """
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

    The keyword arguments are ``Sequential.fit``'s, with Keras's meanings; see there. A lazy
    build from ``x`` is undone if a later check fails.

    Args:
        model: the facade's model specification (``built``, ``build``, ``input_shape``,
            ``output_shape``, ``loss``, ``snapshot``, ``restore``).
        x: the training inputs.
        y: the training targets.
        batch_size: examples per step; None means 32.
        epochs: the epoch to train up to (an int ≥ 0).
        verbose: ``"auto"``, 0, 1 or 2.
        validation_split: the fraction of examples, from the end, to hold out (0 for none).
        validation_data: ``(x_val, y_val[, val_sample_weight])`` or None.
        shuffle: True, False or ``"batch"``.
        class_weight: ``{class index: weight}`` or None.
        sample_weight: per-example weights of shape ``(n,)`` or None.
        initial_epoch: the epoch to start from (an int in ``[0, epochs]``).
        validation_batch_size: the validation batch size; None means ``batch_size``.
        validation_freq: an int ≥ 1 or a collection of 1-based epochs.
        check: whether to refuse NaN and inf in the data (``check_finite``).
        check_batch: the distribution's batch-size rule, called as
            ``check_batch(batch_size, argument)``; it raises for a size it cannot split.

    Returns:
        A :class:`FitPlan` with the validated settings and the host arrays
        (``arrays``/``val_arrays`` as from :func:`prepare_xy`; ``val_arrays`` None without
        validation; ``stream`` None).

    Raises:
        TypeError: if an argument has the wrong type (from the checks called here).
        ValueError: if ``initial_epoch`` exceeds ``epochs``, both ``validation_split`` and
            ``validation_data`` are given, or any value or data is refused by the checks
            called here (which name the argument).
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
    """Put back the model's snapshot if the block raises: refused data leaves no trace.

    Args:
        model: anything with ``snapshot()`` and ``restore(snapshot)``.

    Yields:
        None; on any exception in the block, ``model.restore(...)`` runs and the exception
        propagates.
    """
    saved = model.snapshot()
    try:
        yield
    except BaseException:
        model.restore(saved)
        raise


def is_due(epoch: int, validation_freq: int | Sequence[int]) -> bool:
    """Keras's ``validation_freq``: validate after epoch ``epoch`` (0-based)?

    Args:
        epoch: the epoch just finished, counted from 0.
        validation_freq: an int ``n`` (every n-th epoch) or a collection of 1-based epochs.

    Returns:
        Whether to validate after this epoch.

    Example:
        >>> [is_due(e, 2) for e in range(4)], is_due(0, [1, 3]), is_due(1, [1, 3])
        ([False, True, False, True], True, False)
    """
    if isinstance(validation_freq, int):
        return (epoch + 1) % validation_freq == 0
    return (epoch + 1) in set(validation_freq)

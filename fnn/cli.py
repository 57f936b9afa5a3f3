"""Train a dense network with fnn on a built-in data set or your own, from the command line.

  fnn-train                                            # the seed network on the digits
  fnn-train --dataset iris --hidden 16 --batch-size 8 --epochs 100
  fnn-train --dataset data.csv --label price --json
  fnn-train --epochs 10 --save run.fnn
  fnn-train --epochs 20 --resume run.fnn               # ten more epochs

``fnn-train`` is installed with ``pip install "fnn[scripts]"``; ``python -m fnn.cli`` and
``python scripts/train.py`` in a checkout run the same program.

The data are split into a training and a test part (scikit-learn's shuffled
``train_test_split``, stratified for classification); features are
standardized with the training part's mean and standard deviation. Labels decide the task:
strings, or integers with few distinct values, mean classification (softmax output, sparse
categorical cross-entropy, accuracy); anything else regression (linear output, mean squared
error, mean absolute error, on targets standardized like the features; the test MAE is also
printed in the target's own units). Each epoch shows a progress bar in a terminal (one line
per epoch in a file or a pipe), then the test score. With --json the only output is one JSON
object with the final metrics.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

BUILTIN_DATASETS = ("digits", "diabetes", "iris")
#: Integer-valued labels with at most this many distinct values (and at least two examples per
#: value on average) are class labels.
MAX_CLASSES = 50
DEFAULTS = {"hidden": "32,64", "activation": "relu", "optimizer": "adam"}


class UsageError(Exception):
    """A bad argument or input file: reported as one line on stderr, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse, with every error on one line (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Exit with status 2 after writing ``message`` as one line on stderr.

        Args:
            message: what went wrong.

        Raises:
            SystemExit: always, with code 2.
        """
        message = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


@dataclass
class Dataset:
    """A data set the command line trains on: features, labels and what the labels mean.

    Args:
        name: the data set's name, for messages.
        x: the features, float32 of shape ``(n, features)``.
        y: the labels: int32 class indices of shape ``(n,)`` for classification, float32 of
            shape ``(n, targets)`` for regression.
        classes: the class names, in index order, for classification; None for regression.
    """

    name: str
    x: np.ndarray  # (n, features) float32
    y: np.ndarray  # classification: (n,) int32 class indices; regression: (n, targets) float32
    classes: list[str] | None  # class names (classification) or None (regression)

    @property
    def task(self) -> str:
        """``"classification"`` or ``"regression"``."""
        return "regression" if self.classes is None else "classification"


# -- arguments -------------------------------------------------------------------------------
def positive_int(text: str) -> int:
    """Parse a positive integer option.

    Args:
        text: the option's value.

    Returns:
        The integer.

    Raises:
        argparse.ArgumentTypeError: ``text`` is not an integer of at least 1.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """Parse a positive finite number option.

    Args:
        text: the option's value.

    Returns:
        The number.

    Raises:
        argparse.ArgumentTypeError: ``text`` is not a finite number above 0.
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def fraction(low_inclusive: bool) -> Any:
    """A parser of fractions in ``[0, 1)`` (``low_inclusive``) or ``(0, 1)``.

    Args:
        low_inclusive: whether 0 is allowed.

    Returns:
        A function from the option's text to the float, raising
        ``argparse.ArgumentTypeError`` outside the interval.
    """

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        ok = (value >= 0.0 if low_inclusive else value > 0.0) and value < 1.0
        if not ok:
            interval = "[0, 1)" if low_inclusive else "(0, 1)"
            raise argparse.ArgumentTypeError(f"expected a fraction in {interval}, got {text!r}")
        return value

    return parse


def hidden_sizes(text: str) -> list[int]:
    """Parse hidden layer widths: ``"32,64"`` -> ``[32, 64]``; ``""`` -> ``[]`` (none).

    Args:
        text: comma-separated positive integers, or empty.

    Returns:
        The widths.

    Raises:
        argparse.ArgumentTypeError: an entry is not a positive integer.

    >>> hidden_sizes("32, 64"), hidden_sizes("")
    ([32, 64], [])
    """
    parts = [p.strip() for p in text.split(",")] if text.strip() else []
    sizes = []
    for part in parts:
        if not part.isdigit() or int(part) < 1:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated positive layer widths like 32,64, got {text!r}"
            )
        sizes.append(int(part))
    return sizes


def build_parser(prog: str = "fnn-train") -> Parser:
    """The command line's parser.

    Args:
        prog: the program name shown in usage and error messages.

    Returns:
        An argparse parser whose errors are one line on stderr, exit status 2.
    """
    doc = __doc__ or ""
    examples = doc.split("\n\n")[1]
    parser = Parser(
        prog=prog,
        description=doc.split("\n\n")[0],
        epilog=f"examples:\n{examples}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        default="digits",
        help="digits, diabetes, iris (scikit-learn's, no download), or a path to a .npz file "
        "(arrays x and y) or a .csv file with a header row (default: digits)",
    )
    data.add_argument("--label", help="the label column of a .csv data set (required for .csv)")
    data.add_argument(
        "--test-split",
        type=fraction(low_inclusive=False),
        default=0.2,
        help="fraction of examples held out for the test score (default: 0.2)",
    )
    data.add_argument(
        "--validation-split",
        type=fraction(low_inclusive=True),
        default=0.0,
        help="fraction of the training examples used for validation each epoch (default: 0)",
    )
    model = parser.add_argument_group("model (taken from the saved model with --resume)")
    model.add_argument(
        "--hidden",
        type=hidden_sizes,
        help=f"hidden layer widths, comma-separated; '' for none (default: {DEFAULTS['hidden']})",
    )
    model.add_argument(
        "--activation", help=f"hidden layers' activation (default: {DEFAULTS['activation']})"
    )
    model.add_argument("--optimizer", help=f"optimizer name (default: {DEFAULTS['optimizer']})")
    model.add_argument(
        "--lr", type=positive_float, help="learning rate (default: the optimizer's Keras default)"
    )
    train = parser.add_argument_group("training")
    train.add_argument(
        "--epochs",
        type=positive_int,
        default=30,
        help="train until this many epochs are done, counting a resumed run's (default: 30)",
    )
    train.add_argument("--batch-size", type=positive_int, default=32, help="(default: 32)")
    train.add_argument(
        "--seed", type=int, default=0, help="seed for the split, init and shuffling (default: 0)"
    )
    io = parser.add_argument_group("saving and output")
    io.add_argument("--save", metavar="PATH", help="save the trained model (fnn's format) here")
    io.add_argument(
        "--resume",
        metavar="PATH",
        help="continue training a model saved with --save (same --dataset and --seed)",
    )
    io.add_argument(
        "--json", action="store_true", help="print only the final metrics, as one JSON object"
    )
    return parser


def resolve_options(args: argparse.Namespace) -> None:
    """Fill in the model defaults and check option combinations, names and paths.

    Runs before any data are read or any training is done.

    Args:
        args: the parsed command line; its model options are filled in place.

    Raises:
        UsageError: options that cannot be combined, an unknown activation or optimizer, or
            a ``--save`` path that cannot be written.
    """
    from fnn import activations, models, optimizers

    model_options = ("hidden", "activation", "optimizer", "lr")
    explicit = [f"--{k}" for k in model_options if getattr(args, k) is not None]
    if args.resume and explicit:
        raise UsageError(
            f"{', '.join(explicit)} cannot be combined with --resume: the architecture and the "
            "optimizer come from the saved model"
        )
    if (args.save or args.resume) and not (
        hasattr(models.Sequential, "save") and hasattr(models, "load_model")
    ):
        raise UsageError(
            "--save and --resume need fnn's saving (Sequential.save, fnn.models.load_model), "
            "which this fnn lacks"
        )
    if args.hidden is None:
        args.hidden = hidden_sizes(DEFAULTS["hidden"])
    args.activation = args.activation or DEFAULTS["activation"]
    args.optimizer = args.optimizer or DEFAULTS["optimizer"]
    for option, registry in (
        ("activation", activations.registry),
        ("optimizer", optimizers.registry),
    ):
        try:
            registry.get(getattr(args, option))
        except ValueError as exc:
            raise UsageError(f"--{option}: {one_line(str(exc))}") from None
    if args.save:
        check_save_path(args.save)


def check_save_path(path: str) -> None:
    """Fail now, before training, when ``--save PATH`` could not be written.

    Args:
        path: the file to save to.

    Raises:
        UsageError: the folder does not exist or is not writable, or ``path`` is a folder.
    """
    target = Path(path)
    folder = target.parent
    if target.is_dir():
        raise UsageError(f"--save {path}: is a folder; give a file name such as {path}/model.fnn")
    if not folder.is_dir():
        raise UsageError(f"--save {path}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"--save {path}: the folder {str(folder)!r} is not writable")


def one_line(message: str) -> str:
    """``message`` with its line breaks and runs of spaces collapsed to single spaces.

    Args:
        message: any text.

    Returns:
        The text on one line.

    >>> one_line("a \\n  b")
    'a b'
    """
    return " ".join(message.split())


# -- data ------------------------------------------------------------------------------------
def load_dataset(name: str, label: str | None) -> Dataset:
    """Read a built-in data set or a .npz/.csv file; decide classification or regression.

    Args:
        name: ``digits``, ``diabetes``, ``iris`` or a path to a ``.npz``/``.csv`` file.
        label: the label column of a ``.csv`` file.

    Returns:
        The data set.

    Raises:
        UsageError: an unknown name, a missing or unreadable file, or a misplaced ``label``.
    """
    if name in BUILTIN_DATASETS:
        if label is not None:
            raise UsageError("--label applies to .csv data sets only")
        x, y = load_builtin(name)
    else:
        path = Path(name)
        suffix = path.suffix.lower()
        if suffix not in (".npz", ".csv"):
            close = difflib.get_close_matches(name, BUILTIN_DATASETS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UsageError(
                f"--dataset must be one of {', '.join(BUILTIN_DATASETS)} or a path to a .npz or "
                f".csv file, got {name!r}.{hint}"
            )
        if not path.is_file():
            raise UsageError(f"--dataset: no such file: {name}")
        if suffix == ".npz":
            if label is not None:
                raise UsageError("--label applies to .csv data sets only (.npz holds x and y)")
            x, y = load_npz(path)
        else:
            x, y = load_csv(path, label)
    return make_dataset(name, x, y)


def load_builtin(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Load one of scikit-learn's built-in data sets (no download).

    Args:
        name: one of :data:`BUILTIN_DATASETS`.

    Returns:
        ``(x, y)``; class labels are the class names where scikit-learn has text names
        (iris: setosa, versicolor, virginica).

    Raises:
        UsageError: scikit-learn is not installed.
    """
    try:
        from sklearn import datasets
    except ImportError:
        raise UsageError(
            f"--dataset {name} needs scikit-learn: pip install 'fnn[scripts]'"
        ) from None
    bunch = getattr(datasets, f"load_{name}")()
    names = getattr(bunch, "target_names", None)
    if names is not None and np.asarray(names).dtype.kind in "US":
        return bunch.data, np.asarray(names)[bunch.target]
    return bunch.data, bunch.target


def load_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read arrays ``x`` and ``y`` from a ``.npz`` file (no pickles).

    Args:
        path: the file.

    Returns:
        ``(x, y)``, ``x`` flattened to ``(examples, features)``.

    Raises:
        UsageError: the file is unreadable, lacks ``x`` or ``y``, or ``x`` is not numeric.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in ("x", "y") if k not in archive.files]
            if missing:
                raise UsageError(
                    f"--dataset {path}: needs arrays 'x' and 'y', has {sorted(archive.files)}"
                )
            x, y = archive["x"], archive["y"]
    except UsageError:
        raise
    except Exception as exc:  # a corrupt archive or object arrays
        raise UsageError(
            f"--dataset {path}: cannot read it as .npz: {one_line(str(exc))}"
        ) from None
    if x.ndim < 2:
        raise UsageError(
            f"--dataset {path}: x must have shape (examples, features...), got {x.shape}"
        )
    if x.dtype.kind not in "biuf":
        raise UsageError(f"--dataset {path}: x must be numeric, got dtype {x.dtype}")
    return x.reshape(len(x), -1), y


def load_csv(path: Path, label: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``.csv`` file with a header row: numeric features and a label column.

    Args:
        path: the file.
        label: the label column's name (required).

    Returns:
        ``(x, y)``; ``y`` is numeric when every label is a number, else text.

    Raises:
        UsageError: no ``label``, an unknown column, a malformed row or a non-numeric feature.
    """
    try:
        with path.open(newline="") as f:
            rows = [row for row in csv.reader(f) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"--dataset {path}: cannot read it as CSV: {one_line(str(exc))}") from None
    if len(rows) < 2:
        raise UsageError(f"--dataset {path}: needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    if label is None:
        raise UsageError(
            f"--label is required with a .csv data set: name the label column, one of {header}"
        )
    if label not in header:
        close = difflib.get_close_matches(label, header, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"--label {label!r} is not a column of {path}.{hint} Columns: {header}")
    if len(header) < 2:
        raise UsageError(f"--dataset {path}: needs at least one feature column besides the label")
    j = header.index(label)
    features = [c for c in range(len(header)) if c != j]
    x = np.empty((len(rows) - 1, len(features)), np.float64)
    labels = []
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise UsageError(
                f"--dataset {path}: line {i} has {len(row)} fields, the header {len(header)}"
            )
        for k, c in enumerate(features):
            try:
                x[i - 2, k] = float(row[c])
            except ValueError:
                raise UsageError(
                    f"--dataset {path}: line {i}, column {header[c]!r}: {row[c]!r} is not a "
                    "number (only the label column may hold text)"
                ) from None
        labels.append(row[j].strip())
    try:
        y = np.array([float(v) for v in labels])
    except ValueError:
        y = np.array(labels)
    return x, y


def make_dataset(name: str, x: Any, y: Any) -> Dataset:
    """Check ``x`` and ``y`` and decide the task from the labels.

    Text labels, or integer-valued labels with few distinct values, mean classification;
    anything else regression.

    Args:
        name: the data set's name, for messages.
        x: features, ``(examples, features)``.
        y: labels ``(examples,)`` or regression targets ``(examples, targets)``.

    Returns:
        The data set, labels as class indices (classification) or float32 targets.

    Raises:
        UsageError: mismatched lengths, too few examples, non-finite values, one class only.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if len(x) != len(y):
        raise UsageError(f"--dataset {name}: x has {len(x)} examples but y has {len(y)}")
    if len(x) < 4:
        raise UsageError(f"--dataset {name}: needs at least 4 examples, has {len(x)}")
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise UsageError(f"--dataset {name}: the features hold NaN or infinite values")
    classes: list[str]
    index: np.ndarray
    if y.dtype.kind in "OUSb" and y.ndim == 1:
        names, index = np.unique(y.astype(str), return_inverse=True)
        classes = [str(c) for c in names]
    elif y.dtype.kind in "biuf" and y.ndim in (1, 2):
        y = y.astype(np.float64)
        if not np.all(np.isfinite(y)):
            raise UsageError(f"--dataset {name}: the labels hold NaN or infinite values")
        values = np.unique(y)
        few = y.ndim == 1 and len(values) <= min(MAX_CLASSES, len(y) // 2)
        if few and np.all(values == np.round(values)):
            index = np.searchsorted(values, y)
            classes = [str(int(c)) for c in values]
        else:
            target = y.reshape(len(y), -1).astype(np.float32)
            return Dataset(name, x, target, None)
    else:
        raise UsageError(f"--dataset {name}: y must be a vector of labels, got shape {y.shape}")
    if len(classes) < 2:
        raise UsageError(f"--dataset {name}: the labels hold a single class {classes[0]!r}")
    return Dataset(name, x, index.astype(np.int32), classes)


def split(data: Dataset, test_fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """Shuffled train/test split, stratified when every class can be; features standardized.

    scikit-learn's ``train_test_split`` shuffles both parts, so ``fit``'s ``validation_split``
    (the last rows, as in Keras) holds every class.

    Args:
        data: the data set.
        test_fraction: the share of examples held out for the test score.
        seed: the split's random state.

    Returns:
        ``(x_train, x_test, y_train, y_test)``, features standardized with the training part's
        mean and standard deviation.

    Raises:
        UsageError: the split would leave fewer than 2 training or 1 test example, or
            scikit-learn is not installed.
    """
    try:
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise UsageError(
            "splitting the data needs scikit-learn: pip install 'fnn[scripts]'"
        ) from None
    n = len(data.x)
    n_test = round(n * test_fraction)
    if n_test < 1 or n - n_test < 2:
        raise UsageError(
            f"--test-split {test_fraction} leaves {n - n_test} training and {n_test} test "
            f"examples out of {n}"
        )
    stratify = None
    if data.classes is not None:
        counts = np.bincount(data.y, minlength=len(data.classes))
        classes = len(data.classes)
        if counts.min() >= 2 and min(n_test, n - n_test) >= classes:
            stratify = data.y
    train, test = train_test_split(
        np.arange(n), test_size=n_test, shuffle=True, stratify=stratify, random_state=seed
    )
    mean = data.x[train].mean(axis=0)
    std = data.x[train].std(axis=0)
    std[std == 0] = 1.0
    x_train = (data.x[train] - mean) / std
    x_test = (data.x[test] - mean) / std
    return x_train, x_test, data.y[train], data.y[test]


# -- model -----------------------------------------------------------------------------------
def build_model(args: argparse.Namespace, data: Dataset) -> Any:
    """A compiled ``Sequential`` for ``data`` from the command line's model options.

    Args:
        args: the parsed command line, after :func:`resolve_options`.
        data: the data set (its features and task decide the input and the output layer).

    Returns:
        The compiled model.
    """
    from fnn import optimizers
    from fnn.layers import Dense
    from fnn.models import Sequential

    model = Sequential(seed=args.seed)
    n_features = data.x.shape[1]
    for units in args.hidden:
        model.add(Dense(units, activation=args.activation, input_shape=n_features))
        n_features = None
    if data.classes is None:
        model.add(Dense(data.y.shape[1], input_shape=n_features))
        loss, metrics = "mse", ["mae"]
    else:
        model.add(Dense(len(data.classes), activation="softmax", input_shape=n_features))
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    constructor = optimizers.registry.get(args.optimizer)
    optimizer = constructor() if args.lr is None else constructor(learning_rate=args.lr)
    model.compile(loss=loss, optimizer=optimizer, metrics=metrics)
    return model


def resume_model(path: str, data: Dataset) -> Any:
    """Load a model saved with ``--save`` and check it fits ``data``.

    Args:
        path: the saved model.
        data: the data set to continue training on.

    Returns:
        The loaded model.

    Raises:
        UsageError: no such file, not fnn's format, or a model for other data.
    """
    from fnn import losses
    from fnn.models import load_model

    if not Path(path).is_file():
        raise UsageError(f"--resume: no such file: {path}")
    try:
        model = load_model(path)
    except (ValueError, TypeError, OSError) as exc:
        raise UsageError(f"--resume {path}: {one_line(str(exc))}") from None
    units = len(data.classes) if data.classes is not None else data.y.shape[1]
    want = (data.x.shape[1],)
    classify = isinstance(model.loss, losses.SparseCategoricalCrossentropy)
    if (
        model.input_shape != want
        or model.output_shape != (units,)
        or classify != (data.classes is not None)
    ):
        raise UsageError(
            f"--resume {path}: the saved model maps {model.input_shape} to {model.output_shape} "
            f"({'classification' if classify else 'regression'}), but --dataset {data.name} is "
            f"{data.task} from {want} to ({units},)"
        )
    return model


# -- main ------------------------------------------------------------------------------------
def describe(data: Dataset, n_train: int, n_test: int) -> str:
    """One line about the data set: examples, features and the task (class names included).

    Args:
        data: the data set.
        n_train: training examples.
        n_test: test examples.

    Returns:
        The line.

    >>> data = make_dataset("t", np.zeros((6, 2)), np.array(["cat", "dog"] * 3))
    >>> describe(data, 4, 2)
    't: 6 examples (4 training, 2 test), 2 features; classification into 2 classes: cat, dog'
    """
    head = (
        f"{data.name}: {len(data.x)} examples ({n_train} training, {n_test} test), "
        f"{data.x.shape[1]} features; "
    )
    if data.classes is None:
        return head + f"regression of {data.y.shape[1]} target(s)"
    return head + f"classification into {len(data.classes)} classes: {', '.join(data.classes)}"


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Load, split, build (or resume), train, evaluate and save, as the command line says.

    Args:
        args: the parsed command line.

    Returns:
        The run's summary: data set, task, sizes, final training and test metrics, classes
        (or the test error in the target's units) and the configuration used, learning rate
        included.

    Raises:
        UsageError: any bad option, input file or data set, before training where it can.
    """
    from fnn import optimizers

    resolve_options(args)
    data = load_dataset(args.dataset, args.label)
    x_train, x_test, y_train, y_test = split(data, args.test_split, args.seed)
    y_mean = y_std = None
    if data.classes is None:  # standardize regression targets with the training part's stats
        y_mean, y_std = y_train.mean(axis=0), y_train.std(axis=0)
        y_std[y_std == 0] = 1.0
        y_train, y_test = (y_train - y_mean) / y_std, (y_test - y_mean) / y_std

    model = resume_model(args.resume, data) if args.resume else build_model(args, data)
    initial_epoch = int(getattr(model, "epoch", 0)) if args.resume else 0
    if args.epochs < initial_epoch:
        raise UsageError(
            f"--epochs {args.epochs} is less than the {initial_epoch} epochs the resumed model "
            "has already trained; pass the total number of epochs wanted"
        )
    if not args.json:
        print(describe(data, len(x_train), len(x_test)), flush=True)
    lr = optimizers.learning_rate(model.opt_state)
    if lr is not None:  # the float32 in the optimizer state, as its shortest decimal
        lr = float(np.format_float_positional(np.float32(lr), unique=True))
    try:
        history = model.fit(
            x_train,
            y_train,
            batch_size=args.batch_size,
            epochs=args.epochs,
            initial_epoch=initial_epoch,
            validation_split=args.validation_split,
            verbose=0 if args.json else "auto",
        )
        test = model.evaluate(
            x_test, y_test, batch_size=args.batch_size, verbose=0, return_dict=True
        )
    except (ValueError, TypeError) as exc:
        raise UsageError(one_line(str(exc))) from None
    if args.save:
        try:
            model.save(args.save)
        except (ValueError, TypeError, OSError) as exc:
            raise UsageError(f"--save {args.save}: {one_line(str(exc))}") from None

    result: dict[str, Any] = {
        "dataset": data.name,
        "task": data.task,
        "examples": {"train": len(x_train), "test": len(x_test)},
        "features": int(data.x.shape[1]),
        "epochs": args.epochs,
        "initial_epoch": initial_epoch,
        "train": {k: v[-1] for k, v in history.history.items()},
        "test": test,
    }
    if data.classes is not None:
        result["classes"] = data.classes
    else:
        predicted = model.predict(x_test, batch_size=args.batch_size, verbose=0)
        errors = (predicted - y_test) * y_std
        result["test_target_units"] = {
            "mse": float(np.mean(errors**2)),
            "mae": float(np.mean(np.abs(errors))),
        }
    result["config"] = {
        "hidden": None if args.resume else args.hidden,
        "activation": None if args.resume else args.activation,
        "optimizer": None if args.resume else args.optimizer,
        "lr": lr,
        "batch_size": args.batch_size,
        "validation_split": args.validation_split,
        "test_split": args.test_split,
        "seed": args.seed,
        "resumed_from": args.resume,
        "saved_to": args.save,
    }
    return result


def main(argv: list[str] | None = None, prog: str = "fnn-train") -> int:
    """The ``fnn-train`` command.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
        prog: the program name in usage and error messages.

    Returns:
        The exit status: 0 on success, 1 when the output's reader went away (``| head``).

    Raises:
        SystemExit: ``--help`` (status 0) or a usage error (status 2, one line on stderr).
    """
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        try:
            result = run(args)
        except UsageError as exc:
            parser.error(str(exc))
        if args.json:
            print(json.dumps(result))
        else:
            test = result["test"]
            print("test " + " - test ".join(f"{k}: {v:.4f}" for k, v in test.items()))
            if "test_target_units" in result:
                units = result["test_target_units"]
                print(f"test mae in target units: {units['mae']:.4f} (mse {units['mse']:.4f})")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (``| head``) closed the pipe: stop quietly, as Unix tools do. Point stdout
        # at /dev/null so that the interpreter's final flush raises nothing either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

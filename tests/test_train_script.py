"""The ``fnn-train`` command (fnn.cli, also run as scripts/train.py): built-in and file data sets,
the task chosen from the labels, --json, --save/--resume, and one-line errors with exit status 2.

Most runs call ``fnn.cli.main(argv)`` in this process (one JAX start for all); a few run
scripts/train.py as a real subprocess to check the exit status and streams end to end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fnn import cli as train

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train.py"


def run_json(capsys, *args: str) -> dict:
    """Run ``train.py --json ARGS`` in-process; stdout must be exactly one JSON object."""
    assert train.main([*args, "--json"]) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1, out
    return json.loads(out)


def usage_error(capsys, *args: str) -> str:
    """Run ``train.py ARGS`` in-process, expect exit status 2; return the one stderr line."""
    with pytest.raises(SystemExit) as exc:
        train.main(list(args))
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("fnn-train: error: ")
    return lines[0]


@pytest.fixture
def csv_path(tmp_path: Path) -> Path:
    """A small CSV: two informative features, one noise column, text labels in the middle."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3))
    labels = np.where(x[:, 0] + x[:, 1] > 0, "yes", "no")
    path = tmp_path / "small.csv"
    rows = [f"{a:.5f},{b:.5f},{lab},{c:.5f}" for (a, b, c), lab in zip(x, labels)]
    path.write_text("f1,f2,answer,noise\n" + "\n".join(rows) + "\n")
    return path


# -- built-in data sets ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("dataset", "task", "n", "features", "metric"),
    [
        ("digits", "classification", 1797, 64, "accuracy"),
        ("iris", "classification", 150, 4, "accuracy"),
        ("diabetes", "regression", 442, 10, "mae"),
    ],
)
def test_builtin_dataset_end_to_end(capsys, dataset, task, n, features, metric):
    result = run_json(capsys, "--dataset", dataset, "--epochs", "3", "--hidden", "16")
    assert result["task"] == task
    assert result["features"] == features
    assert result["examples"]["train"] + result["examples"]["test"] == n
    assert result["examples"]["test"] == round(0.2 * n)
    assert list(result["train"]) == ["loss", metric]
    assert list(result["test"]) == ["loss", metric]
    assert all(np.isfinite(v) for v in [*result["train"].values(), *result["test"].values()])
    if task == "classification":
        assert 0.0 <= result["test"]["accuracy"] <= 1.0
        names = {"digits": [str(d) for d in range(10)]}
        assert result["classes"] == names.get(dataset, ["setosa", "versicolor", "virginica"])
    else:
        units = result["test_target_units"]
        # Targets are standardized for training; the target-unit MAE is the standardized one
        # times the training targets' standard deviation (diabetes: about 77).
        ratio = units["mae"] / result["test"]["mae"]
        assert 60 < ratio < 95
        assert units["mse"] > units["mae"] ** 2 * 0.99  # mean of squares >= square of mean


def test_options_reach_the_model(capsys):
    from fnn import activations, optimizers

    options = ["--hidden", "8,4,2", "--activation", "tanh", "--optimizer", "sgd", "--lr", "0.5"]
    result = run_json(
        capsys,
        *("--dataset", "iris", "--epochs", "1", "--batch-size", "7", *options),
        *("--validation-split", "0.25"),
    )
    assert list(result["train"]) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    config = result["config"]
    assert config["hidden"] == [8, 4, 2] and config["batch_size"] == 7
    assert (config["activation"], config["optimizer"], config["lr"]) == ("tanh", "sgd", 0.5)
    default = run_json(capsys, "--dataset", "iris", "--epochs", "1", "--hidden", "4")
    assert default["config"]["lr"] == 0.001  # the rate used: Adam's default, not null

    args = train.build_parser().parse_args(options)
    train.resolve_options(args)
    model = train.build_model(args, train.make_dataset("t", np.zeros((10, 4)), np.arange(10) % 2))
    assert [layer.units for layer in model.layers] == [8, 4, 2, 2]
    assert all(layer.activation is activations.tanh for layer in model.layers[:3])
    assert model.layers[-1].activation is activations.softmax
    assert model.input_shape == (4,)
    assert optimizers.learning_rate(model.opt_state) == pytest.approx(0.5)

    args = train.build_parser().parse_args(["--hidden", ""])  # no hidden layer
    train.resolve_options(args)
    model = train.build_model(args, train.make_dataset("t", np.zeros((10, 3)), np.zeros((10, 2))))
    assert [layer.units for layer in model.layers] == [2]
    assert model.layers[0].activation is activations.linear and model.input_shape == (3,)
    assert model.loss.name == "MeanSquaredError"
    assert optimizers.learning_rate(model.opt_state) == pytest.approx(0.001)  # Adam's default


def test_validation_split_sees_every_class_and_the_last_rows_are_shuffled(capsys):
    # Keras's validation_split takes the last rows of the training part: they must not be
    # one class that training never sees.
    data = train.make_dataset("t", np.arange(400.0).reshape(200, 2), np.repeat([0, 1, 2, 3], 50))
    _, _, y_train, _ = train.split(data, 0.2, seed=0)
    last = y_train[-len(y_train) // 10 :]
    assert len(set(last.tolist())) >= 3
    result = run_json(
        capsys, "--dataset", "digits", "--epochs", "4", "--validation-split", "0.1", "--lr", "0.01"
    )
    assert result["train"]["val_accuracy"] > 0.8  # was 0.0 with the rows sorted by class
    assert result["test"]["accuracy"] > 0.8


def test_seed_picks_the_split():
    data = train.make_dataset("t", np.arange(40.0).reshape(20, 2), np.arange(20) % 2)
    a, b, c = (train.split(data, 0.25, seed)[1] for seed in (5, 5, 6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# -- files -------------------------------------------------------------------------------------
def test_csv_end_to_end_in_a_subprocess(csv_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--dataset", str(csv_path), "--label", "answer"]
        + ["--epochs", "40", "--hidden", "8", "--lr", "0.01", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["task"] == "classification"
    assert result["classes"] == ["no", "yes"]
    assert result["features"] == 3
    assert result["examples"] == {"train": 64, "test": 16}
    assert result["test"]["accuracy"] >= 0.8  # the labels are a linear function of f1 + f2


def test_csv_with_numeric_label_is_regression(tmp_path, capsys):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 2))
    y = 3 * x[:, 0] - x[:, 1] + 10
    path = tmp_path / "reg.csv"
    path.write_text("y,a,b\n" + "".join(f"{t:.4f},{a:.4f},{b:.4f}\n" for (a, b), t in zip(x, y)))
    result = run_json(capsys, "--dataset", str(path), "--label", "y", "--epochs", "2")
    assert result["task"] == "regression" and result["features"] == 2
    assert list(result["test"]) == ["loss", "mae"]


def test_npz_end_to_end(tmp_path, capsys):
    rng = np.random.default_rng(2)
    path = tmp_path / "data.npz"
    np.savez(path, x=rng.normal(size=(30, 2, 3)), y=rng.integers(0, 3, 30))
    result = run_json(capsys, "--dataset", str(path), "--epochs", "2")
    assert result["task"] == "classification" and result["features"] == 6
    assert result["classes"] == ["0", "1", "2"]


# -- the task from the labels ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("y", "task", "classes"),
    [
        (np.array([0, 1, 2, 1] * 10), "classification", ["0", "1", "2"]),
        (np.array([5.0, 7.0] * 20), "classification", ["5", "7"]),
        (np.array(["b", "a"] * 20), "classification", ["a", "b"]),
        (np.linspace(0, 1, 40), "regression", None),
        (np.arange(40), "regression", None),  # every value distinct: not class labels
        (np.arange(120) % 60, "regression", None),  # more than MAX_CLASSES values
        (np.ones((40, 2)), "regression", None),  # several targets
    ],
)
def test_task_is_chosen_from_the_labels(y, task, classes):
    data = train.make_dataset("t", np.zeros((len(y), 3)), y)
    assert data.task == task
    assert data.classes == classes
    if classes is not None:
        assert data.y.dtype == np.int32 and set(data.y) == set(range(len(classes)))
        assert np.array(classes)[data.y].tolist() == [str(v).removesuffix(".0") for v in y]
    else:
        assert data.y.shape == (len(y), 1 if y.ndim == 1 else y.shape[1])


def test_split_standardizes_with_training_statistics_and_stratifies():
    rng = np.random.default_rng(3)
    x = rng.normal(5.0, 3.0, size=(200, 4))
    x[:, 3] = 1.0  # a constant column stays finite
    y = np.repeat([0, 1, 2, 3], [100, 50, 30, 20])
    data = train.make_dataset("t", x, y)
    x_train, x_test, y_train, y_test = train.split(data, 0.2, seed=0)
    np.testing.assert_allclose(x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(x_train[:, :3].std(axis=0), 1.0, atol=1e-5)
    assert np.all(x_train[:, 3] == 0) and np.all(np.isfinite(x_test))
    assert np.bincount(y_test).tolist() == [20, 10, 6, 4]
    assert len(x_train) == 160 and len(y_train) == 160


# -- saving and resuming -----------------------------------------------------------------------
def test_resume_continues_a_saved_run_exactly(tmp_path, capsys):
    path = str(tmp_path / "run.fnn")
    common = ["--dataset", "iris", "--hidden", "8", "--seed", "1"]
    straight = run_json(capsys, *common, "--epochs", "4")
    first = run_json(capsys, *common, "--epochs", "2", "--save", path)
    assert first["config"]["saved_to"] == path and Path(path).is_file()

    assert train.main(["--dataset", "iris", "--seed", "1", "--epochs", "4", "--resume", path]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("iris: 150 examples (120 training, 30 test), 4 features;")
    assert lines[1].startswith("Epoch 3/4 4/4 - ") and " - accuracy: " in lines[1]
    assert lines[2].startswith("Epoch 4/4 4/4 - ")
    assert lines[3].startswith("test loss: ") and " - test accuracy: " in lines[3]
    assert len(lines) == 4

    line = usage_error(
        capsys, "--dataset", "iris", "--seed", "1", "--epochs", "1", "--resume", path
    )
    assert "--epochs 1 is less than the 2 epochs" in line

    resumed = run_json(
        capsys, "--dataset", "iris", "--seed", "1", "--epochs", "4", "--resume", path
    )
    assert resumed["initial_epoch"] == 2
    # Shuffling is derived from (seed, epoch) and the optimizer state is saved: 2 + 2 epochs
    # are the same training as 4.
    for key, value in straight["test"].items():
        assert resumed["test"][key] == pytest.approx(value, rel=1e-5, abs=1e-6)
    for key, value in straight["train"].items():
        assert resumed["train"][key] == pytest.approx(value, rel=1e-5, abs=1e-6)


def test_resume_rejects_a_model_for_other_data(tmp_path, capsys):
    path = str(tmp_path / "iris.fnn")
    run_json(capsys, "--dataset", "iris", "--epochs", "1", "--hidden", "4", "--save", path)
    line = usage_error(capsys, "--dataset", "diabetes", "--epochs", "2", "--resume", path)
    assert "--resume" in line and "regression" in line
    line = usage_error(capsys, "--dataset", "iris", "--epochs", "2", "--resume", path, "--lr", "1")
    assert "--lr cannot be combined with --resume" in line
    line = usage_error(capsys, "--dataset", "iris", "--resume", path, "--hidden", "")
    assert "--hidden cannot be combined with --resume" in line
    garbage = tmp_path / "garbage.fnn"
    garbage.write_text("not a model")
    line = usage_error(capsys, "--dataset", "iris", "--resume", str(garbage))
    assert f"--resume {garbage}: " in line
    line = usage_error(capsys, "--dataset", "iris", "--epochs", "4", "--resume", path + ".missing")
    assert "no such file" in line


# -- errors ------------------------------------------------------------------------------------
def test_bad_dataset_name_exits_2_with_one_line_in_a_subprocess():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--dataset", "digts"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert "--dataset must be one of digits, diabetes, iris" in proc.stderr
    assert "Did you mean 'digits'?" in proc.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--dataset", "missing.csv", "--label", "y"], "no such file: missing.csv"),
        (["--dataset", "missing.npz"], "no such file: missing.npz"),
        (["--hidden", "32,x"], "argument --hidden: expected comma-separated positive"),
        (["--hidden", "0"], "argument --hidden"),
        (["--activation", "rellu"], "Did you mean 'relu'?"),
        (["--optimizer", "adm"], "Did you mean 'adam'?"),
        (["--lr", "-1"], "argument --lr"),
        (["--epochs", "0"], "argument --epochs"),
        (["--validation-split", "1"], "argument --validation-split"),
        (["--test-split", "0"], "argument --test-split"),
        (["--dataset", "iris", "--label", "x"], "--label applies to .csv data sets only"),
        (["--nonsense"], "unrecognized arguments: --nonsense"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, args, expected):
    assert expected in usage_error(capsys, *args)


def test_missing_label_column_exits_2(capsys, csv_path):
    line = usage_error(capsys, "--dataset", str(csv_path), "--label", "anser")
    assert "'anser' is not a column" in line and "Did you mean 'answer'?" in line
    line = usage_error(capsys, "--dataset", str(csv_path))
    assert "--label is required" in line and "answer" in line


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("a,b,y\n1,2,0\n3,oops,1\n", "line 3, column 'b': 'oops' is not a number"),
        ("a,b,y\n1,2,0\n3,4\n", "line 3 has 2 fields"),
        ("a,y\n", "needs a header row and at least one data row"),
    ],
)
def test_malformed_csv_exits_2(tmp_path, capsys, content, expected):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert expected in usage_error(capsys, "--dataset", str(path), "--label", "y")


def test_npz_without_x_and_y_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.npz"
    np.savez(path, features=np.zeros((10, 2)), y=np.zeros(10))
    assert "needs arrays 'x' and 'y'" in usage_error(capsys, "--dataset", str(path))


def test_save_into_a_missing_folder_fails_before_training(capsys, tmp_path):
    missing = tmp_path / "nodir" / "x.fnn"
    line = usage_error(capsys, "--dataset", "iris", "--save", str(missing))
    assert f"--save {missing}: the folder" in line and "does not exist" in line
    line = usage_error(capsys, "--dataset", "iris", "--save", str(tmp_path))
    assert f"--save {tmp_path}: is a folder" in line


def test_a_reader_that_closes_the_pipe_gets_no_traceback():
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--dataset", "iris", "--epochs", "400", "--hidden", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = proc.stdout.readline()  # as `| head -1`: read a line, then close the pipe
    proc.stdout.close()
    _, err = proc.communicate(timeout=300)
    assert first.startswith("iris: 150 examples")
    assert proc.returncode == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_help_examples_start_on_their_own_line(capsys):
    with pytest.raises(SystemExit):
        train.main(["--help"])
    out = capsys.readouterr().out
    assert "\nexamples:\n  fnn-train\n" not in out  # the first example is not glued on
    assert "\nexamples:\n  fnn-train  " in out
    assert "usage: fnn-train " in out


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit) as exc:
        train.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in (
        "--dataset",
        "--label",
        "--hidden",
        "--activation",
        "--optimizer",
        "--lr",
        "--epochs",
        "--batch-size",
        "--validation-split",
        "--seed",
        "--save",
        "--resume",
        "--json",
    ):
        assert option in out

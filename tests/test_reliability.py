"""Reliability: every bad input fails at the door with a clear error and changes nothing; an
interrupted fit keeps what the last completed epoch produced; runs are bit-reproducible."""

import jax
import numpy as np
import pytest

from fnn.callbacks import Callback, EarlyStopping, LambdaCallback
from fnn.layers import Dense, Dropout
from fnn.models import Sequential

N, FEATURES, CLASSES = 20, 4, 3
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, FEATURES)).astype(np.float32)
LABELS = RNG.integers(0, CLASSES, N)
Y = np.eye(CLASSES, dtype=np.float32)[LABELS]


def model(loss: str = "categorical_crossentropy", *, built: bool = True) -> Sequential:
    m = Sequential(seed=0)
    m.add(Dense(8, activation="relu", input_shape=FEATURES if built else None))
    m.add(Dense(CLASSES, activation="softmax"))
    m.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    return m


def sparse() -> Sequential:
    return model("sparse_categorical_crossentropy")


def uncompiled() -> Sequential:
    return Sequential([Dense(CLASSES, input_shape=FEATURES)], seed=0)


def unbuilt() -> Sequential:
    return model(built=False)


def with_nan(a: np.ndarray, row: int, value: float = np.nan) -> np.ndarray:
    a = a.copy()
    a[row, 0] = value
    return a


def _frame(a):
    import pandas as pd

    return pd.DataFrame(a).astype("Float32")


def fit(**kwargs):
    args = {"x": X, "y": Y, "verbose": 0, **kwargs}
    return lambda m: m.fit(**args)


def evaluate(**kwargs):
    args = {"x": X, "y": Y, "verbose": 0, **kwargs}
    return lambda m: m.evaluate(**args)


def predict(**kwargs):
    args = {"x": X, "verbose": 0, **kwargs}
    return lambda m: m.predict(**args)


def compile_(**kwargs):
    args = {"optimizer": "adam", "loss": "mse", **kwargs}
    return lambda m: m.compile(**args)


def set_weights(weights):
    return lambda m: m.set_weights(weights)


WEIGHT_SHAPES = "[(4, 8), (8,), (8, 3), (3,)]"

# (id, model factory, the call, error type, substrings the message must contain)
BAD_INPUTS = [
    # shapes, lengths, emptiness, types
    ("fit-x-shape", model, fit(x=np.ones((N, 5))), ValueError, ["x has shape (20, 5)", "(batch, 4)"]),
    ("fit-x-1d", model, fit(x=np.ones(N)), ValueError, ["x has shape (20,)"]),
    ("fit-y-width", model, fit(y=np.ones((N, 4))), ValueError, ["y has shape (20, 4)", "(batch, 3)"]),
    ("fit-y-labels-for-ce", model, fit(y=LABELS), ValueError, ["y has shape (20,)", "sparse"]),
    ("fit-xy-lengths", model, fit(y=Y[:15]), ValueError, ["x has 20", "y has 15"]),
    ("fit-sample-weight-length", model, fit(sample_weight=np.ones(7)), ValueError, ["sample_weight has 7"]),
    ("fit-sample-weight-2d", model, fit(sample_weight=np.ones((N, 2))), ValueError, ["sample_weight", "(n,)"]),
    ("fit-sample-weight-nan", model, fit(sample_weight=with_nan(np.ones((N, 1)), 3)[:, 0]), ValueError, ["sample_weight", "row 3"]),
    ("fit-sample-weight-negative", model, fit(sample_weight=-np.ones(N)), ValueError, ["sample_weight", ">= 0", "row 0"]),
    ("fit-x-empty", model, fit(x=np.ones((0, FEATURES))), ValueError, ["x is empty"]),
    ("fit-x-none", model, fit(x=None), ValueError, ["x is required"]),
    ("fit-y-none", model, fit(y=None), ValueError, ["y is required"]),
    ("fit-x-strings", model, fit(x=np.full((N, FEATURES), "a")), TypeError, ["x must hold numbers", "<U1"]),
    ("fit-x-objects", model, fit(x=np.array([{}] * N)), TypeError, ["x must hold numbers", "object"]),
    ("fit-x-ragged", model, fit(x=[[1.0, 2.0], [1.0]]), ValueError, ["x could not be converted"]),
    ("fit-y-strings", model, fit(y=np.full((N, CLASSES), "b")), TypeError, ["y must hold numbers"]),
    ("fit-x-scalar", model, fit(x=3.0), ValueError, ["x must have a batch axis"]),
    # NaN / inf
    ("fit-x-nan", model, fit(x=with_nan(X, 5)), ValueError, ["x holds NaN or inf", "row 5", "check_finite=False"]),
    ("fit-y-inf", model, fit(y=with_nan(Y, 7, np.inf)), ValueError, ["y holds NaN or inf", "row 7"]),
    ("fit-val-x-nan", model, fit(validation_data=(with_nan(X, 2), Y)), ValueError, ["val_x holds NaN", "row 2"]),
    ("evaluate-x-nan", model, evaluate(x=with_nan(X, 1)), ValueError, ["x holds NaN", "row 1"]),
    ("predict-x-nan", model, predict(x=with_nan(X, 4)), ValueError, ["x holds NaN", "row 4"]),
    # labels
    ("sparse-label-out-of-range", sparse, fit(y=np.where(LABELS == 0, 3, LABELS)), ValueError, ["y holds label 3", "[0, 3)"]),
    ("sparse-label-negative", sparse, fit(y=np.r_[-1, LABELS[1:]]), ValueError, ["label -1 at row 0"]),
    ("sparse-label-fraction", sparse, fit(y=LABELS + 0.5), ValueError, ["y must hold integer class labels"]),
    ("sparse-label-one-hot", sparse, fit(y=Y), ValueError, ["y must hold integer class labels of shape (n,)", "(20, 3)"]),
    ("sparse-label-nan", sparse, fit(y=np.r_[np.nan, LABELS[1:]]), ValueError, ["y holds NaN", "row 0"]),
    ("class-weight-not-dict", model, fit(class_weight=[1, 2]), TypeError, ["class_weight must be a dict"]),
    ("class-weight-bad-class", model, fit(class_weight={5: 1.0}), ValueError, ["class_weight", "class 5"]),
    ("class-weight-negative", model, fit(class_weight={0: -1.0}), ValueError, ["class_weight[0]", ">= 0"]),
    # fit's numbers and options
    ("batch-size-zero", model, fit(batch_size=0), ValueError, ["batch_size", ">= 1", "0"]),
    ("batch-size-float", model, fit(batch_size=2.5), TypeError, ["batch_size", "2.5"]),
    ("batch-size-string", model, fit(batch_size="32"), TypeError, ["batch_size", "'32'"]),
    ("epochs-negative", model, fit(epochs=-1), ValueError, ["epochs", "-1"]),
    ("epochs-float", model, fit(epochs=1.5), TypeError, ["epochs", "1.5"]),
    ("initial-epoch-negative", model, fit(initial_epoch=-2), ValueError, ["initial_epoch", "-2"]),
    ("initial-epoch-after-epochs", model, fit(epochs=2, initial_epoch=3), ValueError, ["initial_epoch (3)", "epochs (2)"]),
    ("validation-split-above-1", model, fit(validation_split=1.5), ValueError, ["validation_split", "[0, 1)", "1.5"]),
    ("validation-split-one", model, fit(validation_split=1.0), ValueError, ["validation_split", "[0, 1)"]),
    ("validation-split-negative", model, fit(validation_split=-0.1), ValueError, ["validation_split"]),
    ("validation-split-empty-side", model, fit(validation_split=0.97), ValueError, ["validation_split=0.97", "leaves 0 training"]),
    ("validation-split-and-data", model, fit(validation_split=0.2, validation_data=(X, Y)), ValueError, ["validation_split or validation_data"]),
    ("validation-data-form", model, fit(validation_data=X), ValueError, ["validation_data must be a tuple"]),
    ("validation-x-shape", model, fit(validation_data=(X[:, :2], Y)), ValueError, ["val_x has shape"]),
    ("validation-lengths", model, fit(validation_data=(X, Y[:3])), ValueError, ["val_x has 20", "val_y has 3"]),
    ("validation-weights", model, fit(validation_data=(X, Y, np.ones((N, 2)))), ValueError, ["val_sample_weight"]),
    ("validation-freq-zero", model, fit(validation_freq=0), ValueError, ["validation_freq"]),
    ("validation-freq-list", model, fit(validation_freq=[1, 0]), ValueError, ["validation_freq entries"]),
    ("validation-freq-float", model, fit(validation_freq=1.5), TypeError, ["validation_freq"]),
    ("validation-batch-size", model, fit(validation_batch_size=-4), ValueError, ["validation_batch_size"]),
    ("verbose", model, fit(verbose=5), ValueError, ["verbose", "5"]),
    ("max-device-bytes", model, fit(max_device_bytes=-1), ValueError, ["max_device_bytes", "-1"]),
    ("shuffle-string", model, fit(shuffle="no"), TypeError, ["shuffle", "True, False or 'batch'", "'no'"]),
    ("shuffle-int", model, fit(shuffle=2), TypeError, ["shuffle", "2"]),
    ("unbuilt-fit-x-1d", unbuilt, fit(x=np.ones(N)), ValueError, ["x has shape (20,)", "not built"]),
    ("sparse-label-uint64-max", sparse, fit(y=np.r_[np.uint64(2**64 - 1), LABELS[1:].astype(np.uint64)]), ValueError, ["label 18446744073709551615", "row 0"]),
    ("sparse-label-huge-float", sparse, fit(y=np.r_[1e20, LABELS[1:]]), ValueError, ["label 1e+20", "row 0"]),
    ("fit-pandas-missing", model, lambda m: m.fit(_frame(with_nan(X, 6)), Y, verbose=0), ValueError, ["x has missing values", "row 6"]),
    # callbacks argument
    ("callbacks-single", model, fit(callbacks=EarlyStopping()), TypeError, ["callbacks must be a list", "[EarlyStopping(...)]"]),
    ("callbacks-class", model, fit(callbacks=[EarlyStopping]), TypeError, ["callbacks[0]", "instantiate"]),
    ("callbacks-item", model, fit(callbacks=[LambdaCallback(), print]), TypeError, ["callbacks[1]"]),
    ("callbacks-string", model, fit(callbacks="early"), TypeError, ["callbacks must be a list", "str"]),
    # before compile / unbuilt models
    ("fit-before-compile", uncompiled, fit(y=X[:, :3]), ValueError, ["model.compile", "model.fit()"]),
    ("evaluate-before-compile", uncompiled, evaluate(y=X[:, :3]), ValueError, ["model.compile", "model.evaluate()"]),
    ("unbuilt-fit-bad-y", unbuilt, fit(y=np.ones((N, 5))), ValueError, ["y has shape (20, 5)"]),
    ("unbuilt-fit-bad-val", unbuilt, fit(validation_data=(X[:, :2], Y)), ValueError, ["val_x has shape"]),
    ("unbuilt-get-weights", unbuilt, lambda m: m.get_weights(), ValueError, ["get_weights", "input_shape"]),
    # evaluate / predict
    ("evaluate-x-shape", model, evaluate(x=X[:, :3]), ValueError, ["x has shape (20, 3)"]),
    ("evaluate-lengths", model, evaluate(y=Y[:4]), ValueError, ["y has 4"]),
    ("evaluate-batch-size", model, evaluate(batch_size=0), ValueError, ["batch_size"]),
    ("evaluate-sample-weight", model, evaluate(sample_weight=np.ones(3)), ValueError, ["sample_weight has 3"]),
    ("predict-x-shape", model, predict(x=np.ones((2, 7))), ValueError, ["x has shape (2, 7)", "(batch, 4)"]),
    ("predict-x-strings", model, predict(x=[["a"] * FEATURES]), TypeError, ["x must hold numbers"]),
    ("predict-batch-size", model, predict(batch_size=-1), ValueError, ["batch_size", "-1"]),
    ("predict-verbose", model, predict(verbose="loud"), ValueError, ["verbose", "'loud'"]),
    # names at compile
    ("unknown-loss", model, compile_(loss="categorical_crosentropy"), ValueError, ["loss", "Did you mean 'categorical_crossentropy'", "Valid names"]),
    ("unknown-optimizer", model, compile_(optimizer="adamm"), ValueError, ["optimizer", "Did you mean 'adam'", "sgd"]),
    ("unknown-metric", model, compile_(metrics=["acuracy"]), ValueError, ["metric 'acuracy'", "Valid names"]),
    ("metric-after-bad-name", model, compile_(loss="mse", metrics=["mae", "nope"]), ValueError, ["metric 'nope'"]),
    ("loss-wrong-type", model, compile_(loss=3), TypeError, ["loss", "int"]),
    ("optimizer-wrong-type", model, compile_(optimizer=0.01), TypeError, ["optimizer", "0.01"]),
    ("metrics-wrong-type", model, compile_(metrics=5), TypeError, ["metrics must be a list"]),
    # set_weights
    ("set-weights-count", model, set_weights([np.ones((4, 8))]), ValueError, ["expected 4 arrays", WEIGHT_SHAPES, "got 1"]),
    ("set-weights-shapes", model, set_weights([np.ones((4, 8)), np.ones(8), np.ones((3, 8)), np.ones(3)]), ValueError, [WEIGHT_SHAPES, "(3, 8)"]),
    ("set-weights-not-a-list", model, set_weights(np.ones((4, 8))), TypeError, ["weights must be a list", WEIGHT_SHAPES]),
    ("set-weights-none", model, set_weights(None), TypeError, ["weights must be a list"]),
    ("set-weights-strings", model, set_weights([np.full((4, 8), "w"), np.ones(8), np.ones((8, 3)), np.ones(3)]), TypeError, ["weights[0] must hold numbers"]),
]  # fmt: skip

# Layer constructors (no model involved).
BAD_LAYERS = [
    ("dense-units-zero", lambda: Dense(0), ValueError, ["units", "0"]),
    # one rule for every int argument: a wrong type is a TypeError, a bad value a ValueError
    ("dense-units-float", lambda: Dense(2.5), TypeError, ["units", "2.5"]),
    ("dense-units-string", lambda: Dense("8"), TypeError, ["units", "'8'"]),
    ("dense-units-bool", lambda: Dense(True), TypeError, ["units", "True"]),
    ("sequential-seed-too-big", lambda: Sequential(seed=2**64), ValueError, ["seed", "[0, 4294967295]"]),
    ("sequential-seed-negative", lambda: Sequential(seed=-1), ValueError, ["seed", "-1"]),
    ("sequential-seed-float", lambda: Sequential(seed=1.5), TypeError, ["seed", "1.5"]),
    ("unknown-activation", lambda: Dense(3, activation="rellu"), ValueError, ["activation", "Did you mean 'relu'"]),
    ("unknown-initializer", lambda: Dense(3, kernel_initializer="glorot_unifrom"), ValueError, ["initializer", "Did you mean 'glorot_uniform'"]),
    ("input-shape", lambda: Dense(3, input_shape=(0,)), ValueError, ["input_shape", "(0,)"]),
    ("dropout-rate-one", lambda: Dropout(1.0), ValueError, ["rate", "[0, 1)", "1.0"]),
    ("dropout-rate-negative", lambda: Dropout(-0.1), ValueError, ["rate", "-0.1"]),
    ("dropout-rate-string", lambda: Dropout("half"), TypeError, ["rate", "'half'"]),
]  # fmt: skip


def snapshot(m: Sequential) -> dict:
    """Everything a failed call must leave alone (arrays copied to the host)."""
    trees = {"params": m.params, "state": m.state, "opt_state": m.opt_state}
    return {
        **{k: jax.tree.structure(t) for k, t in trees.items()},
        **{f"{k}_leaves": [np.array(x) for x in jax.tree.leaves(t)] for k, t in trees.items()},
        "input_shape": m.input_shape,
        "optimizer": m.optimizer,
        "loss": m.loss,
        "metrics": list(m.compiled_metrics),
        "compile_args": dict(m.compile_args),
        "built": m.built,
    }


def assert_same(before: dict, after: dict) -> None:
    assert before.keys() == after.keys()
    for key, value in before.items():
        if key.endswith("_leaves"):
            assert len(value) == len(after[key]), key
            for a, b in zip(value, after[key], strict=True):
                np.testing.assert_array_equal(a, b, err_msg=key)
        else:
            assert value == after[key] if key != "optimizer" else value is after[key], key


@pytest.mark.parametrize(
    "make,call,error,expected", [row[1:] for row in BAD_INPUTS], ids=[row[0] for row in BAD_INPUTS]
)
def test_bad_input_fails_at_the_door_and_changes_nothing(make, call, error, expected):
    m = make()
    before = snapshot(m)
    with pytest.raises(error) as info:
        call(m)
    message = str(info.value)
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"
    assert "fnn" in info.traceback[-1].path.parts  # raised by fnn itself, not inside JAX
    assert_same(before, snapshot(m))
    assert all(k[0] != "train" for k in m.engine.cache)  # nothing compiled


@pytest.mark.parametrize(
    "make,error,expected", [row[1:] for row in BAD_LAYERS], ids=[row[0] for row in BAD_LAYERS]
)
def test_bad_layer_arguments(make, error, expected):
    with pytest.raises(error) as info:
        make()
    for part in expected:
        assert part in str(info.value), f"{part!r} not in {str(info.value)!r}"


def test_the_table_covers_every_fit_argument():
    # A new fit argument needs a row here: every checked argument appears in some message.
    messages = " ".join(" ".join(row[4]) for row in BAD_INPUTS)
    for argument in (
        "x",
        "y",
        "batch_size",
        "epochs",
        "callbacks",
        "validation_split",
        "validation_data",
        "class_weight",
        "sample_weight",
        "initial_epoch",
        "validation_batch_size",
        "validation_freq",
        "verbose",
    ):
        assert argument in messages, argument


# -- nothing lost -------------------------------------------------------------------------------
def fit_args(**kwargs) -> dict:
    return {"x": X, "y": Y, "batch_size": 8, "verbose": 0, **kwargs}


@pytest.fixture(scope="module")
def reference() -> list:
    """One uninterrupted ``fit(epochs=4)``: (params, opt_state, state) after each epoch."""
    m = model()
    after = []
    record = LambdaCallback(
        on_epoch_end=lambda epoch, logs: after.append(
            jax.device_get((m.params, m.opt_state, m.state))
        )
    )
    m.fit(**fit_args(epochs=4, callbacks=[record]))
    return after


def assert_model_at(m: Sequential, expected: tuple) -> None:
    got = jax.tree.leaves((m.params, m.opt_state, m.state))
    want = jax.tree.leaves(expected)
    assert len(got) == len(want)
    for u, v in zip(got, want, strict=True):
        np.testing.assert_array_equal(u, v)


def raise_at(hook: str, at_epoch: int, exc: BaseException) -> Callback:
    def fn(epoch, logs):
        if epoch == at_epoch:
            raise exc

    return LambdaCallback(**{hook: fn})


@pytest.mark.parametrize(
    "hook,at_epoch,exc",
    [
        ("on_epoch_begin", 2, KeyboardInterrupt()),
        ("on_epoch_end", 1, RuntimeError("callback failed")),
    ],
)
def test_an_interrupted_fit_keeps_the_last_completed_epoch(reference, hook, at_epoch, exc):
    m = model()
    with pytest.raises(type(exc)):
        m.fit(**fit_args(epochs=4, callbacks=[raise_at(hook, at_epoch, exc)]))
    assert_model_at(m, reference[1])  # epochs 0 and 1 completed, nothing of epoch 2
    # ... and the model is usable: it evaluates and trains on, to the uninterrupted result.
    assert np.isfinite(m.evaluate(X, Y, verbose=0)[0])
    history = m.fit(**fit_args(epochs=4, initial_epoch=2))
    assert history.epoch == [2, 3]
    assert_model_at(m, reference[3])


def test_an_interrupt_inside_an_epoch_commits_nothing_of_it(reference):
    m = model()
    m.fit(**fit_args(epochs=1))
    loop = m.engine.compiled("train")
    calls = []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 2:  # the third epoch's compiled call
            raise KeyboardInterrupt
        return loop(*args)

    m.engine.cache[("train", None)] = interrupted
    with pytest.raises(KeyboardInterrupt):
        m.fit(**fit_args(epochs=4, initial_epoch=1))
    assert len(calls) == 2
    assert_model_at(m, reference[1])


def test_same_seed_same_data_gives_bit_identical_weights(reference):
    m = model()
    m.fit(**fit_args(epochs=4))
    assert_model_at(m, reference[3])
    other = Sequential([Dense(8, input_shape=FEATURES), Dense(CLASSES)], seed=1)
    assert not np.array_equal(other.get_weights()[0], m.get_weights()[0])


# -- inputs that are right and must work (issue: accept what users hold) ----------------------
def test_numpy_scalars_pandas_and_bfloat16_are_accepted():
    import jax.numpy as jnp
    import pandas as pd

    m = model()
    m.fit(
        X,
        Y,
        verbose=0,
        validation_split=np.float32(0.2),
        batch_size=np.int64(8),
        epochs=np.int32(1),
    )
    frame = pd.DataFrame(X).astype("Float32")  # nullable columns, no missing values
    np.testing.assert_allclose(m.predict(frame, verbose=0), m.predict(X, verbose=0), rtol=1e-6)
    bf16 = jnp.asarray(X, jnp.bfloat16)
    assert m.predict(bf16, verbose=0).shape == (N, CLASSES)
    labels = pd.Series(LABELS, dtype="Int64")
    sm = sparse()
    sm.fit(X, labels, verbose=0)
    # a custom metric returning a Python number is accepted
    m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=[lambda t, p: 1.0])
    assert m.evaluate(X, Y, verbose=0)[1] == pytest.approx(1.0)


def test_changing_the_model_from_a_callback_is_refused_at_once():
    m = model()

    class Recompile(Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.compile(optimizer="sgd", loss="categorical_crossentropy")

    class AddLayer(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.model.add(Dense(2))

    for cb, method in ((Recompile(), "compile"), (AddLayer(), "add")):
        with pytest.raises(
            RuntimeError, match=f"model.{method}\\(\\) was called while the model is"
        ):
            m.fit(X, Y, epochs=2, verbose=0, callbacks=[cb])
    assert len(m.layers) == 2


def test_a_second_thread_calling_fit_is_refused():
    import threading

    m = model()
    started, release = threading.Event(), threading.Event()

    class Hold(Callback):
        def on_epoch_end(self, epoch, logs=None):
            started.set()
            release.wait(30)

    errors = []
    t = threading.Thread(target=lambda: m.fit(X, Y, epochs=1, verbose=0, callbacks=[Hold()]))
    t.start()
    assert started.wait(60)
    try:
        m.fit(X, Y, epochs=1, verbose=0)
    except RuntimeError as exc:
        errors.append(str(exc))
    release.set()
    t.join(60)
    assert errors and "not thread-safe" in errors[0]
    assert m.epoch == 1  # the first thread's epoch kept, nothing of the refused call


def test_divergence_warns_once_without_terminate_on_nan():
    from fnn.optimizers import SGD

    m = Sequential([Dense(1, input_shape=FEATURES)], seed=0)
    m.compile(optimizer=SGD(1e30), loss="mse")
    with pytest.warns(RuntimeWarning, match="NaN or infinite") as record:
        m.fit(X, 1e6 * np.ones(N), epochs=4, verbose=0)
    assert sum("NaN or infinite" in str(w.message) for w in record) == 1


def test_a_custom_loss_returning_no_numbers_is_named_at_the_door():
    m = model()
    m.compile(optimizer="adam", loss=lambda t, p: "oops")
    before = [np.array(w) for w in m.get_weights()]
    with pytest.raises(TypeError, match=r"The loss .* failed on a batch") as info:
        m.fit(X, Y, verbose=0)
    assert "fnn" in info.traceback[-1].path.parts
    assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))
    assert m.epoch == 0

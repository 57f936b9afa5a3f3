"""fnn.saving: round trips, compile settings, exact resume, atomic saves, hostile files."""

from __future__ import annotations

import json
import os
import pathlib
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import make_classification, npy_bytes, seed_model, zip_bytes, zip_members

import fnn
from fnn import activations, losses, metrics, optimizers, saving
from fnn.callbacks import Callback
from fnn.layers import (
    Activation,
    BatchNormalization,
    Dense,
    Dropout,
    Flatten,
    Input,
    LayerNormalization,
    Reshape,
)
from fnn.models import Sequential, load_model
from fnn.population import Population, load_population

REPO = pathlib.Path(fnn.__file__).resolve().parents[1]


# -- model builders: one per layer kind. Adding a layer kind is one line in BUILDERS. ----------
def dense_stack() -> Sequential:
    return seed_model(seed=3)


def dense_and_activation() -> Sequential:
    model = Sequential(seed=5, name="mixed")
    model.add(Dense(6, input_shape=4, use_bias=False, kernel_initializer="he_normal"))
    model.add(Activation("tanh"))
    model.add(Dense(3, kernel_regularizer="l2", bias_regularizer=fnn.regularizers.l1_l2(0.1, 0.2)))
    model.add(Activation("softmax", name="probs"))
    model.compile(optimizer=optimizers.SGD(0.05, momentum=0.9), loss="mse", metrics=["mae"])
    return model


def mixed_precision_stack() -> Sequential:
    model = Sequential(
        [Dense(5, activation="gelu", input_shape=3), Dense(2)],
        seed=8,
        dtype_policy="mixed_bfloat16",
    )
    model.compile(optimizer="nadam", loss="huber", metrics=["mse"])
    return model


def every_new_layer_kind() -> Sequential:
    # Input, Reshape, Flatten, Dropout (keys from the seed), BatchNormalization (running
    # statistics as non-trainable state) and LayerNormalization, in one small model.
    model = Sequential(seed=9, name="kinds")
    model.add(Input((2, 2)))
    model.add(Reshape((4,)))
    model.add(Dense(6, activation="relu"))
    model.add(BatchNormalization(momentum=0.9))
    model.add(Dropout(0.25))
    model.add(Reshape((2, 3)))
    model.add(LayerNormalization())
    model.add(Flatten())
    model.add(Dense(3, activation="softmax"))
    model.compile(optimizer="adamw", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


# One builder per layer kind (or mixture): adding a layer kind is one line here, and every
# round-trip test below (model, weights, config) covers it.
BUILDERS = [dense_stack, dense_and_activation, mixed_precision_stack, every_new_layer_kind]


def _x(model: Sequential, n: int = 9) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, *model.input_shape)).astype(np.float32)


def _train_a_little(model: Sequential) -> None:
    x = _x(model, 40)
    y = np.eye(model.output_shape[-1], dtype=np.float32)[np.arange(40) % model.output_shape[-1]]
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)


def _trained_and_saved(builder, path: pathlib.Path, weights_only: bool = False) -> Sequential:
    model = builder()
    _train_a_little(model)
    (model.save_weights if weights_only else model.save)(path)
    return model


def _same_tree(a, b) -> bool:
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    return (
        jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
        and len(la) == len(lb)
        and all(
            np.asarray(x).dtype == np.asarray(y).dtype
            and np.array_equal(np.asarray(x), np.asarray(y))
            for x, y in zip(la, lb)
        )
    )


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_model_round_trip_restores_everything(builder, tmp_path):
    path = tmp_path / "model.fnn"
    model = _trained_and_saved(builder, path)
    loaded = load_model(path)
    assert loaded.get_config() == model.get_config()
    assert [type(x) for x in loaded.layers] == [type(x) for x in model.layers]
    assert _same_tree(loaded.params, model.params)
    assert _same_tree(loaded.state, model.state)
    assert _same_tree(loaded.opt_state, model.opt_state)
    assert loaded.epoch == model.epoch == 1
    assert loaded.seed == model.seed and loaded.name == model.name
    x = _x(model)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_weights_round_trip_into_a_fresh_model(builder, tmp_path):
    path = tmp_path / "w.fnn"
    model = _trained_and_saved(builder, path, weights_only=True)
    fresh = builder()
    assert not _same_tree(fresh.params, model.params)
    opt_state_before = fresh.opt_state
    fresh.load_weights(path)
    assert _same_tree(fresh.params, model.params) and _same_tree(fresh.state, model.state)
    assert fresh.opt_state is opt_state_before  # weights only: optimizer state untouched
    x = _x(model)
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_sequential_config_round_trip(builder):
    model = builder()
    config = model.get_config()
    assert json.loads(json.dumps(config)) == config
    clone = Sequential.from_config(config)
    assert clone.get_config() == config
    # Same seed, same architecture: the same initial weights.
    fresh = builder()
    assert _same_tree(clone.params, fresh.params)


def test_unbuilt_and_uncompiled_models_round_trip(tmp_path):
    model = Sequential([Dense(3), Dense(1)], seed=2)
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert not loaded.built and loaded.optimizer is None
    assert loaded.get_config() == model.get_config()


def test_load_weights_also_reads_a_full_model_file(saved_files):
    model = seed_model(seed=99)
    model.load_weights(saved_files / "model.fnn")
    assert _same_tree(model.params, seed_model().params)  # saved_files holds seed_model()


def test_loaded_model_evaluates_and_trains_without_compile(tmp_path):
    x, y, _ = make_classification(96)
    model = seed_model(seed=1)
    model.compile(
        optimizer=optimizers.Adam(learning_rate=0.003),
        loss="categorical_crossentropy",
        metrics=["accuracy", "mse"],
    )
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    model.save(tmp_path / "m.fnn")
    loaded = load_model(tmp_path / "m.fnn")
    assert loaded.metrics_names == ["loss", "accuracy", "mse"]
    assert loaded.loss == model.loss
    assert saving.compile_config(loaded) == saving.compile_config(model)
    assert saving.compile_config(loaded)["optimizer"]["class_name"] == "Adam"
    assert optimizers.learning_rate(loaded.opt_state) == pytest.approx(0.003)
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    history = loaded.fit(x, y, batch_size=32, epochs=2, initial_epoch=1, verbose=0)
    assert history.epoch == [1] and loaded.epoch == 2


def test_compile_false_returns_an_uncompiled_model(tmp_path):
    model = dense_stack()
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m", compile=False)
    assert loaded.optimizer is None and loaded.opt_state is None
    with pytest.raises(ValueError, match="compile"):
        loaded.evaluate(_x(model), np.zeros((9, 10), np.float32), verbose=0)
    with pytest.raises(ValueError, match="optimizer= and compile=False"):
        load_model(tmp_path / "m", compile=False, optimizer="adam")


def test_a_raw_optax_optimizer_needs_optimizer_on_load(tmp_path):
    model = seed_model(compile=False)
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-2))
    model.compile(optimizer=tx, loss="categorical_crossentropy")
    _train_a_little(model)
    model.save(tmp_path / "m")
    with pytest.raises(ValueError, match=r"optimizer=tx.*compile=False"):
        load_model(tmp_path / "m")
    loaded = load_model(tmp_path / "m", optimizer=tx)
    assert _same_tree(loaded.opt_state, model.opt_state)
    assert not load_model(tmp_path / "m", compile=False).optimizer
    # An optimizer whose state does not fit the saved one is refused, naming both.
    with pytest.raises(ValueError, match="optimizer state arrays"):
        load_model(tmp_path / "m", optimizer="sgd")


# -- custom callables ----------------------------------------------------------------------------
def squareish(x):
    return x * jnp.abs(x)


def doubled_mse(y_true, y_pred):
    return 2.0 * jnp.mean(jnp.square(y_true - y_pred), axis=-1)


def max_error(y_true, y_pred):
    return jnp.max(jnp.abs(y_true - y_pred), axis=-1)


activations.register("test_saving_squareish", squareish)
losses.register("test_saving_doubled_mse", doubled_mse)
metrics.register("test_saving_max_error", max_error)


def test_registered_custom_callables_survive_a_save(tmp_path):
    model = Sequential(seed=0)
    model.add(Dense(4, activation=squareish, input_shape=3))
    model.add(Dense(2))
    model.compile(optimizer="rmsprop", loss=doubled_mse, metrics=[max_error])
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.layers[0].activation is squareish
    assert loaded.loss.fn is doubled_mse
    assert loaded.metrics_names == ["loss", "max_error"]
    x, y = _x(model), np.ones((9, 2), np.float32)
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


def _unregistered_activation():
    model = Sequential([Dense(2, activation=lambda x: x * 2, input_shape=3)])
    model.compile(optimizer="sgd", loss="mse")
    return model, "activation"


def _unregistered_loss():
    model = Sequential([Dense(2, input_shape=3)])
    model.compile(optimizer="sgd", loss=lambda t, p: jnp.mean(p - t, axis=-1))
    return model, "fnn.losses.register"


def _unregistered_metric():
    model = Sequential([Dense(2, input_shape=3)])
    model.compile(optimizer="sgd", loss="mse", metrics=[lambda t, p: jnp.sum(p, axis=-1)])
    return model, "fnn.metrics.register"


def _custom_loss_class():
    class Mine(losses.Loss):
        def call(self, y_true, y_pred):
            return jnp.mean(y_pred, axis=-1)

    model = Sequential([Dense(2, input_shape=3)])
    model.compile(optimizer="sgd", loss=Mine())
    return model, "fnn.losses.register"


@pytest.mark.parametrize(
    "make", [_unregistered_activation, _unregistered_loss, _unregistered_metric, _custom_loss_class]
)
def test_unregistered_callables_refuse_to_save_and_write_nothing(make, tmp_path):
    model, hint = make()
    path = tmp_path / "m"
    path.write_bytes(b"previous")
    with pytest.raises(ValueError, match="register") as err:
        model.save(path)
    assert hint in str(err.value)
    assert path.read_bytes() == b"previous"
    assert sorted(os.listdir(tmp_path)) == ["m"]  # no temporary file left behind


# -- exact resume ----------------------------------------------------------------------------
class SetLearningRate(Callback):
    """Changes the injected learning rate at one epoch, as a scheduler would."""

    def __init__(self, epoch: int, value: float):
        super().__init__()
        self.at, self.value = epoch, value

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            self.model.opt_state = optimizers.set_learning_rate(self.model.opt_state, self.value)


@pytest.mark.parametrize(
    "optimizer",
    ["adam", lambda: optimizers.Adam(learning_rate=0.01)],
    ids=["by-name", "constructor"],
)
def test_resume_from_a_saved_model_is_bit_for_bit(optimizer, tmp_path):
    x, y, _ = make_classification(150)  # 150 at batch 32: a partial last batch each epoch
    schedule = SetLearningRate(1, 0.004)  # only the optimizer state remembers this change

    def fresh():
        model = seed_model(seed=7, compile=False)
        model.compile(
            optimizer=optimizer if isinstance(optimizer, str) else optimizer(),
            loss="categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    straight = fresh()
    straight.fit(x, y, batch_size=32, epochs=4, verbose=0, callbacks=[schedule])

    first = fresh()
    first.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[schedule])
    assert first.epoch == 2
    first.save(tmp_path / "ckpt.fnn")
    resumed = load_model(tmp_path / "ckpt.fnn")
    assert resumed.epoch == 2
    assert optimizers.learning_rate(resumed.opt_state) == pytest.approx(0.004)
    resumed.fit(x, y, batch_size=32, epochs=4, initial_epoch=resumed.epoch, verbose=0)

    assert _same_tree(resumed.params, straight.params)
    assert _same_tree(resumed.opt_state, straight.opt_state)
    assert resumed.epoch == straight.epoch == 4


def test_resume_with_dropout_and_batch_norm_is_bit_for_bit(tmp_path):
    x = np.random.default_rng(1).normal(size=(70, 2, 2)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[np.arange(70) % 3]
    straight = every_new_layer_kind()
    straight.fit(x, y, batch_size=16, epochs=3, verbose=0)
    first = every_new_layer_kind()
    first.fit(x, y, batch_size=16, epochs=1, verbose=0)
    first.save(tmp_path / "m")
    resumed = load_model(tmp_path / "m")
    resumed.fit(x, y, batch_size=16, epochs=3, initial_epoch=resumed.epoch, verbose=0)
    assert _same_tree(resumed.params, straight.params)
    assert _same_tree(resumed.state, straight.state)  # batch-norm running statistics
    assert not _same_tree(resumed.state, every_new_layer_kind().state)  # and they did move


def test_loaded_model_predicts_exactly_what_the_saved_one_did(tmp_path):
    x, y, _ = make_classification(64)
    model = seed_model(seed=11)
    model.fit(x, y, epochs=2, verbose=0)
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "m")
    np.testing.assert_array_equal(load_model(tmp_path / "m").predict(x, verbose=0), before)


# -- hostile files ---------------------------------------------------------------------------
class Payload:
    """Unpickling this would create the marker file: the tests check that it never appears."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _edit_json(members, name, edit):
    config = json.loads(members[name])
    edit(config)
    return {**members, name: json.dumps(config).encode()}


def _set(key, value):
    return lambda c: c.__setitem__(key, value)


def _without(members, name):
    return {k: v for k, v in members.items() if k != name}


# (id, how to make the file from a valid file's bytes and members, what the error says)
HOSTILE = [
    ("random-bytes", lambda raw, m, mk: np.random.default_rng(0).bytes(500), "not a zip archive"),
    ("empty", lambda raw, m, mk: b"", "empty"),
    ("truncated", lambda raw, m, mk: raw[: len(raw) // 2], "truncated zip"),
    ("one-byte-short", lambda raw, m, mk: raw[:-1], "not a"),
    ("pickle", lambda raw, m, mk: pickle.dumps(Payload(mk)), "pickle"),
    ("hdf5", lambda raw, m, mk: b"\x89HDF\r\n\x1a\n" + bytes(100), "HDF5"),
    ("npz", lambda raw, m, mk: zip_bytes({"arr_0.npy": npy_bytes(np.zeros(3))}), "no format.json"),
    ("dot-dot-name", lambda raw, m, mk: zip_bytes({**m, "../evil.npy": b"x"}), "escape"),
    ("nested-dot-dot", lambda raw, m, mk: zip_bytes({**m, "params/../../x": b"x"}), "escape"),
    ("absolute-name", lambda raw, m, mk: zip_bytes({**m, "/etc/evil": b"x"}), "escape"),
    ("backslash-name", lambda raw, m, mk: zip_bytes({**m, "..\\evil": b"x"}), "escape"),
    ("extra-member", lambda raw, m, mk: zip_bytes({**m, "run_me.py": b"import os"}), "unexpected"),
    (
        "version",
        lambda raw, m, mk: zip_bytes(_edit_json(m, "format.json", _set("version", 999))),
        "version 999",
    ),
    (
        "format-name",
        lambda raw, m, mk: zip_bytes(_edit_json(m, "format.json", _set("format", "keras"))),
        "format 'keras'",
    ),
    ("no-format", lambda raw, m, mk: zip_bytes(_without(m, "format.json")), "no format.json"),
    ("no-config", lambda raw, m, mk: zip_bytes(_without(m, "config.json")), "no config.json"),
    (
        "config-not-json",
        lambda raw, m, mk: zip_bytes({**m, "config.json": b"{'layers': eval('1')}"}),
        "not JSON",
    ),
    (
        "config-a-list",
        lambda raw, m, mk: zip_bytes({**m, "config.json": b"[]"}),
        "not a JSON object",
    ),
    (
        "missing-array",
        lambda raw, m, mk: zip_bytes(_without(m, "params/000001.npy")),
        "no params/000001",
    ),
    (
        "array-shape",
        lambda raw, m, mk: zip_bytes(
            {**m, "params/000000.npy": npy_bytes(np.zeros((2, 2), np.float32))}
        ),
        "shape",
    ),
    (
        "array-dtype",
        lambda raw, m, mk: zip_bytes(
            {**m, "params/000000.npy": npy_bytes(np.zeros((10, 32), np.int64))}
        ),
        "int64",
    ),
    (
        "object-array",
        lambda raw, m, mk: zip_bytes(
            {**m, "params/000000.npy": npy_bytes(np.array([Payload(mk)], object))}
        ),
        "not a plain .npy array",
    ),
    (
        "pickle-member",
        lambda raw, m, mk: zip_bytes({**m, "params/000000.npy": pickle.dumps(Payload(mk))}),
        "not a plain .npy array",
    ),
    (
        "manifest-object-dtype",
        lambda raw, m, mk: zip_bytes(
            _edit_json(m, "config.json", lambda c: c["arrays"]["params"][0].update(dtype="object"))
        ),
        "malformed",
    ),
    (
        "manifest-and-array-agree-but-not-the-model",
        lambda raw, m, mk: zip_bytes(
            {
                **_edit_json(
                    m, "config.json", lambda c: c["arrays"]["params"][0].update(shape=[2, 2])
                ),
                "params/000000.npy": npy_bytes(np.zeros((2, 2), np.float32)),
            }
        ),
        "does not fit this model",
    ),
    (
        "oversized-member",
        lambda raw, m, mk: zip_bytes(
            {**m, "params/000000.npy": npy_bytes(np.zeros(10**6, np.float32))}
        ),
        "larger than its shape",
    ),
]
MODEL_ONLY = [
    (
        "unknown-layer",
        lambda raw, m, mk: zip_bytes(
            _edit_json(
                m, "config.json", lambda c: c["model"]["layers"][0].update(class_name="Lambda")
            )
        ),
        "Unknown layer class 'Lambda'",
    ),
    (
        "bad-layer-argument",
        lambda raw, m, mk: zip_bytes(
            _edit_json(
                m, "config.json", lambda c: c["model"]["layers"][0]["config"].update(units=-1)
            )
        ),
        "units",
    ),
    (
        "bad-epoch",
        lambda raw, m, mk: zip_bytes(_edit_json(m, "config.json", _set("epoch", "2; rm -rf"))),
        "epoch",
    ),
    (
        "unknown-optimizer-name",
        lambda raw, m, mk: zip_bytes(
            _edit_json(m, "config.json", lambda c: c["compile"].update(optimizer="os.system"))
        ),
        "Unknown optimizer 'os.system'",
    ),
    (
        "unknown-optimizer-class",
        lambda raw, m, mk: zip_bytes(
            _edit_json(
                m,
                "config.json",
                lambda c: c["compile"].update(optimizer={"class_name": "exec", "config": {}}),
            )
        ),
        "Unknown optimizer 'exec'",
    ),
]


@pytest.fixture(scope="module")
def saved_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("valid")
    model = seed_model()
    model.save(directory / "model.fnn")
    model.save_weights(directory / "weights.fnn")
    return directory


def _hostile(tmp_path, saved_files, name, make):
    source = saved_files / name
    marker = tmp_path / "executed"
    path = tmp_path / "hostile.fnn"
    path.write_bytes(make(source.read_bytes(), zip_members(source), marker))
    return path, marker


@pytest.mark.parametrize(
    ("case", "make", "message"), HOSTILE + MODEL_ONLY, ids=[c[0] for c in HOSTILE + MODEL_ONLY]
)
def test_load_model_refuses_hostile_files(case, make, message, tmp_path, saved_files):
    path, marker = _hostile(tmp_path, saved_files, "model.fnn", make)
    with pytest.raises(ValueError, match="fnn") as err:
        load_model(path)
    assert message in str(err.value)
    assert not marker.exists()  # nothing in the file ran
    assert sorted(os.listdir(tmp_path)) == ["hostile.fnn"]  # nothing was extracted


@pytest.mark.parametrize(("case", "make", "message"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_load_weights_refuses_hostile_files_and_leaves_the_model_unchanged(
    case, make, message, tmp_path, saved_files
):
    path, marker = _hostile(tmp_path, saved_files, "weights.fnn", make)
    model = seed_model(seed=99)
    before = model.get_weights()
    with pytest.raises(ValueError, match="fnn") as err:
        model.load_weights(path)
    assert message in str(err.value)
    assert not marker.exists()
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_the_two_formats_name_each_other(saved_files):
    with pytest.raises(ValueError, match=r"weights only: use model.load_weights"):
        load_model(saved_files / "weights.fnn")


def test_load_weights_into_a_different_architecture_names_both_shapes(saved_files):
    other = Sequential([Dense(5, input_shape=10), Dense(10)])
    with pytest.raises(ValueError, match=r"\(10, 32\).*\(10, 5\)"):
        other.load_weights(saved_files / "weights.fnn")


def test_a_config_asking_for_a_huge_model_is_refused_before_anything_is_built(
    tmp_path, saved_files, monkeypatch
):
    def huge(c):
        c["model"]["layers"][0]["config"]["units"] = 10**9  # a 40 GB kernel

    path, _ = _hostile(
        tmp_path,
        saved_files,
        "model.fnn",
        lambda raw, m, mk: zip_bytes(_edit_json(m, "config.json", huge)),
    )

    def build(self, input_shape):
        raise AssertionError("load_model built the model before checking the file's arrays")

    monkeypatch.setattr(Sequential, "build", build)
    with pytest.raises(ValueError, match=r"does not fit this model.*\(10, 1000000000\)"):
        load_model(path)


# -- optimizers by name ----------------------------------------------------------------------
@pytest.mark.parametrize("name", optimizers.registry.names())
def test_every_fnn_optimizer_rebuilds_from_its_config(name):
    params = {"w": jnp.ones(3)}
    constructor = optimizers.registry.get(name)
    original = constructor(learning_rate=0.5)
    config = optimizers.serialize(original)
    assert config["class_name"] == constructor.__name__
    assert json.loads(json.dumps(config)) == config
    rebuilt = optimizers.deserialize(config)
    assert _same_tree(rebuilt.init(params), original.init(params))


def test_sgd_momentum_changes_the_state_and_survives_the_config():
    params = {"w": jnp.ones(3)}
    rebuilt = optimizers.deserialize(optimizers.serialize(optimizers.SGD(0.1, momentum=0.9)))
    structure = jax.tree_util.tree_structure
    assert structure(rebuilt.init(params)) == structure(optimizers.SGD(momentum=0.9).init(params))
    assert structure(rebuilt.init(params)) != structure(optimizers.SGD().init(params))


def test_optimizers_without_a_name_serialize_to_none():
    assert optimizers.serialize(optax.adam(1e-3)) is None
    assert optimizers.serialize(optimizers.Adam(optax.exponential_decay(1e-3, 10, 0.5))) is None
    assert optimizers.serialize(optimizers.Adam(np.float32(0.1))) is None  # static in optax
    with pytest.raises(ValueError, match="Unknown optimizer"):
        optimizers.deserialize({"class_name": "eval", "config": {}})
    with pytest.raises(ValueError, match="numbers"):
        optimizers.deserialize({"class_name": "Adam", "config": {"learning_rate": "0.1"}})


# -- every field of a config is checked at load (type and range), naming file and field ---------
def _config(edit):
    return lambda raw, m, mk: zip_bytes(_edit_json(m, "config.json", edit))


def _layer0(**changes):
    return lambda c: c["model"]["layers"][0]["config"].update(changes)


CRAFTED_CONFIGS = [
    ("epoch-2**62", _config(_set("epoch", 2**62)), "epoch must be an int in [0, 2**31)"),
    ("epoch-negative", _config(_set("epoch", -1)), "epoch must be an int"),
    ("epoch-bool", _config(_set("epoch", True)), "epoch must be an int"),
    ("name-dict", _config(lambda c: c["model"].update(name={"a": 1})), "model.name must be a str"),
    ("seed-2**64", _config(lambda c: c["model"].update(seed=2**64)), "model.seed must be an int"),
    ("seed-negative", _config(lambda c: c["model"].update(seed=-5)), "model.seed must be an int"),
    ("seed-float", _config(lambda c: c["model"].update(seed=1.5)), "model.seed must be an int"),
    (
        "regularizer-unknown-class",
        _config(_layer0(kernel_regularizer={"class_name": "L2", "config": {"l2": 0.1}})),
        "model.layers[0].config.kernel_regularizer must be",
    ),
    (
        "regularizer-negative",
        _config(_layer0(bias_regularizer={"l2": -1.0})),
        "model.layers[0].config.bias_regularizer must be",
    ),
    ("input-shape-zero", _config(lambda c: c["model"].update(input_shape=[0])), "input_shape"),
    ("input-shape-str", _config(lambda c: c["model"].update(input_shape="10")), "input_shape"),
    ("layers-dict", _config(lambda c: c["model"].update(layers={})), "model.layers must be"),
    (
        "layer-a-list",
        _config(lambda c: c["model"]["layers"].__setitem__(0, [])),
        "model.layers[0] must be",
    ),
    ("layer-name-int", _config(_layer0(name=3)), "model.layers[0].config.name"),
    (
        "optimizer-a-list",
        _config(lambda c: c["compile"].update(optimizer=[1])),
        "compile.optimizer must be",
    ),
    ("loss-a-str", _config(lambda c: c["compile"].update(loss="mse")), "compile.loss must be"),
    ("compile-a-list", _config(_set("compile", [])), "compile must be"),
]


@pytest.mark.parametrize(
    ("case", "make", "message"), CRAFTED_CONFIGS, ids=[c[0] for c in CRAFTED_CONFIGS]
)
def test_every_config_field_is_checked_at_load(case, make, message, tmp_path, saved_files):
    path, _ = _hostile(tmp_path, saved_files, "model.fnn", make)
    with pytest.raises(ValueError, match=r"config\.json is invalid") as err:
        load_model(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)  # the file is named


CRAFTED_POPULATIONS = [
    ("history-a-list", _set("history", [1, 2]), "history must be null or a dict of lists"),
    ("history-values", _set("history", {"loss": "high"}), "history['loss'] must be"),
    ("seeds-2**64", lambda c: c["population"].update(seeds=[2**64, 1]), "population.seeds"),
    ("seeds-negative", lambda c: c["population"].update(seeds=[-5, 1]), "population.seeds"),
    ("seeds-short", lambda c: c["population"].update(seeds=[1]), "population.seeds"),
    ("size-zero", lambda c: c["population"].update(size=0), "population.size"),
    ("size-huge", lambda c: c["population"].update(size=2**40), "population.size"),
    ("shared-order-str", lambda c: c["population"].update(shared_order="yes"), "shared_order"),
    ("hyperparams-list", lambda c: c["population"].update(hyperparams=[]), "hyperparams"),
    (
        "hyperparam-values",
        lambda c: c["population"].update(hyperparams={"learning_rate": ["x", 1]}),
        "population.hyperparams['learning_rate']",
    ),
    ("population-missing", lambda c: c.pop("population"), "population must be a dict"),
]


@pytest.fixture(scope="module")
def saved_population(tmp_path_factory):
    path = tmp_path_factory.mktemp("population") / "pop.fnn"
    pop = Population(seed_model(), 2, hyperparams={"learning_rate": [0.01, 0.02]})
    x, y, _ = make_classification(32)
    pop.fit(x, y, epochs=1, verbose=0)
    pop.save(path)
    return path


@pytest.mark.parametrize(
    ("case", "edit", "message"), CRAFTED_POPULATIONS, ids=[c[0] for c in CRAFTED_POPULATIONS]
)
def test_every_population_field_is_checked_at_load(case, edit, message, tmp_path, saved_population):
    path = tmp_path / "pop.fnn"
    path.write_bytes(zip_bytes(_edit_json(zip_members(saved_population), "config.json", edit)))
    with pytest.raises(ValueError, match=r"config\.json is invalid") as err:
        load_population(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_the_checks_accept_what_fnn_writes(saved_population, saved_files):
    config = json.loads(zip_members(saved_population)["config.json"])
    assert saving.check_population_record(config) is config["population"]
    assert saving.check_model_config(config["model"]) is config["model"]
    model_config = json.loads(zip_members(saved_files / "model.fnn")["config.json"])
    assert saving.check_compile_config(model_config["compile"]) is model_config["compile"]
    assert saving.check_epoch(model_config["epoch"]) == 0


def test_initializer_objects_are_saved_by_their_config(tmp_path):
    from fnn import initializers

    model = Sequential(
        [Dense(3, kernel_initializer=initializers.RandomNormal(stddev=0.1), input_shape=2)]
    )
    model.compile(optimizer="adam", loss="mse")
    model.save(tmp_path / "m.fnn")
    loaded = load_model(tmp_path / "m.fnn")
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])
    assert loaded.layers[0].get_config()["kernel_initializer"]["config"]["stddev"] == 0.1
    loaded.save(tmp_path / "again.fnn")  # and it saves again

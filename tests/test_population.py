"""Population: members equal single fits, per-member hyperparameters, shapes, saving, errors."""

from __future__ import annotations

import jax
import numpy as np
import optax
import pytest
from conftest import make_classification

import fnn
from fnn.layers import Dense, Dropout
from fnn.models import Sequential
from fnn.optimizers import Adam, AdamW
from fnn.population import Population, load_population

SEEDS = [3, 5, 7]
RATES = [1e-3, 1e-2, 3e-3]


def leaves(tree):
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(tree)]


def member_leaves(tree, i):
    return [a[i] for a in leaves(tree)]


def assert_trees_close(a, b, atol=1e-6):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, atol=atol, rtol=1e-5)


def small_model(seed=0, optimizer="adam", input_shape=10):
    model = Sequential(seed=seed)
    model.add(Dense(16, activation="relu", input_shape=input_shape))
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def data():
    x, y, _ = make_classification(100)  # 100 = 3 batches of 32 and a rest of 4
    return x, y


@pytest.fixture(scope="module")
def fitted(data):
    """A population of 3 with per-member learning rates, fitted 2 epochs with validation; two
    members side by side, then the third (the lax.map path with a remainder)."""
    x, y = data
    hyper = {"learning_rate": RATES}
    pop = Population(small_model(), 3, seeds=SEEDS, hyperparams=hyper, parallel_members=2)
    initial = leaves(pop.params)
    history = pop.fit(x, y, batch_size=32, epochs=2, verbose=0, validation_data=(x[:40], y[:40]))
    return pop, history, initial


def test_members_equal_single_fits(data, fitted):
    x, y = data
    pop, history, initial = fitted
    for i, (seed, rate) in enumerate(zip(SEEDS, RATES)):
        single = small_model(seed)  # "adam" by name, as the population's model
        single.opt_state = fnn.optimizers.set_learning_rate(single.opt_state, rate)
        assert_trees_close([a[i] for a in initial], leaves(single.params), atol=0)
        h = single.fit(x, y, batch_size=32, epochs=2, verbose=0, validation_data=(x[:40], y[:40]))
        assert_trees_close(member_leaves(pop.params, i), leaves(single.params))
        assert_trees_close(member_leaves(pop.opt_state, i), leaves(single.opt_state))
        for name, values in h.history.items():
            np.testing.assert_allclose([v[i] for v in history.history[name]], values, rtol=1e-5)


def test_members_differ(fitted):
    pop, _, _ = fitted
    kernels = np.asarray(pop.params[0]["kernel"])
    assert not np.allclose(kernels[0], kernels[1])


def test_per_member_hyperparameters_reach_the_update(data):
    x, y = data
    hyper = {"learning_rate": [0.0, 1e-2, 1e-2], "weight_decay": [0.0, 0.0, 0.5]}
    pop = Population(small_model(optimizer="adamw"), 3, seeds=[0, 0, 0], hyperparams=hyper)
    before = leaves(pop.params)
    pop.fit(x, y, epochs=1, verbose=0)
    after = leaves(pop.params)
    # learning rate 0: member 0 does not move; weight decay separates members 1 and 2.
    assert_trees_close([a[0] for a in after], [b[0] for b in before], atol=0)
    assert not np.allclose(after[0][1], before[0][1])
    assert not np.allclose(after[0][1], after[0][2])
    np.testing.assert_array_equal(pop.hyperparams["weight_decay"], np.float32([0, 0, 0.5]))
    single = small_model(0, optimizer=AdamW(1e-2, weight_decay=0.5))
    single.fit(x, y, epochs=1, verbose=0)
    assert_trees_close(member_leaves(pop.params, 2), leaves(single.params))


def test_per_member_dropout_rate(data):
    x, y = data

    def model(rate, seed=0):
        layers = [Dense(16, activation="relu", input_shape=10), Dropout(rate), Dense(10)]
        net = Sequential(layers, seed=seed)
        net.compile(optimizer="adam", loss="mse")
        return net

    pop = Population(model(0.5), 2, seeds=[1, 2], hyperparams={"rate": [0.0, 0.25]})
    pop.fit(x, y, epochs=1, verbose=0)
    single = model(0.25, seed=2)
    single.fit(x, y, epochs=1, verbose=0)
    assert_trees_close(member_leaves(pop.params, 1), leaves(single.params))
    member = pop.member(1)
    assert member.layers[1].rate == 0.25 and member.state == single.state
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Population(model(0.5), 2, hyperparams={"rate": [0.5, 1.0]})


def test_shapes_of_every_result(data, fitted):
    x, y = data
    pop, history, _ = fitted
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 2 and v[0].shape == (3,) for v in history.history.values())
    loss, acc = pop.evaluate(x, y, verbose=0)
    assert loss.shape == acc.shape == (3,)
    logs = pop.evaluate(x, y, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "accuracy"]
    out = pop.predict(x, verbose=0)
    assert out.shape == (3, 100, 10)
    mean = pop.predict(x, reduce="mean", verbose=0)
    np.testing.assert_allclose(mean, out.mean(axis=0), rtol=1e-5)
    for i in range(3):  # each member's own forward pass (eager, nothing more to compile)
        np.testing.assert_allclose(out[i], pop.member(i)(x), atol=1e-6)


def test_best_is_a_plain_sequential(fitted):
    pop, history, _ = fitted
    i = int(np.argmin(history.history["val_loss"][-1]))
    assert pop.best_index() == i
    assert pop.best_index("accuracy") == int(np.argmax(history.history["accuracy"][-1]))
    assert pop.best_index("loss", mode="max") == int(np.argmax(history.history["loss"][-1]))
    best = pop.best()
    assert isinstance(best, Sequential) and best.seed == SEEDS[i]
    assert_trees_close(leaves(best.params), member_leaves(pop.params, i), atol=0)
    assert_trees_close(leaves(best.opt_state), member_leaves(pop.opt_state, i), atol=0)
    assert fnn.optimizers.learning_rate(best.opt_state) == pytest.approx(RATES[i])


def test_second_fit_compiles_nothing_new(data):
    x, y = data
    pop = Population(small_model(), 2)
    pop.fit(x, y, epochs=1, verbose=0)
    train = pop.engine.compiled("train")
    assert train._cache_size() == 1
    pop.fit(x, y, epochs=2, verbose=0)
    assert train._cache_size() == 1


def test_shared_order(data):
    x, y = data
    shared = Population(small_model(), 2, seeds=[4, 9], shared_order=True)
    shared.fit(x, y, epochs=2, verbose=0)
    single = small_model(4)
    single.fit(x, y, epochs=2, verbose=0)
    assert_trees_close(member_leaves(shared.params, 0), leaves(single.params))
    assert not np.allclose(shared.params[0]["kernel"][0], shared.params[0]["kernel"][1])


def test_unbuilt_model_builds_on_data_and_is_left_untouched(data):
    x, y = data
    model = Sequential([Dense(16, activation="relu"), Dense(10, activation="softmax")], seed=2)
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    pop = Population(model, 2)
    assert not pop.built
    pop.fit(x, y, epochs=0, verbose=0)  # builds the members from the data, trains nothing
    assert pop.built and not model.built and model.params is None
    single = Sequential([Dense(16, activation="relu"), Dense(10, activation="softmax")], seed=3)
    single.build(10)
    assert_trees_close(member_leaves(pop.params, 1), leaves(single.params), atol=0)


def test_save_load_round_trip(tmp_path, fitted):
    pop, history, _ = fitted
    path = tmp_path / "pop.zip"
    pop.save(path)
    loaded = load_population(path)
    assert loaded.seeds == pop.seeds and loaded.size == 3
    for name in ("params", "state", "opt_state"):
        assert_trees_close(leaves(getattr(loaded, name)), leaves(getattr(pop, name)), atol=0)
    np.testing.assert_array_equal(loaded.hyperparams["learning_rate"], np.float32(RATES))
    for name, values in history.history.items():
        np.testing.assert_allclose(loaded.history.history[name], values)
    assert loaded.best_index() == pop.best_index()
    assert loaded.metrics_names == pop.metrics_names and not loaded.shared_order


def test_save_load_with_an_optax_optimizer_and_bad_files(tmp_path):
    tx = optax.adam(1e-3)
    pop = Population(small_model(optimizer=tx), 2)
    path = tmp_path / "pop.fnn"
    pop.save(path)
    with pytest.raises(ValueError, match="optimizer=tx"):
        load_population(path)
    loaded = load_population(path, optimizer=tx)
    assert_trees_close(leaves(loaded.opt_state), leaves(pop.opt_state), atol=0)
    model_path = tmp_path / "model.fnn"
    small_model().save(model_path)
    with pytest.raises(ValueError, match=r"not 'fnn\.population'"):
        load_population(model_path)
    with pytest.raises(ValueError, match="load_population"):
        fnn.models.load_model(path)


def test_bad_input_names_the_argument(data):
    x, y = data
    model = small_model()
    with pytest.raises(ValueError, match="size"):
        Population(model, 0)
    with pytest.raises(TypeError, match="size"):
        Population(model, "3")
    with pytest.raises(TypeError, match="model"):
        Population("adam", 3)
    uncompiled = Sequential([Dense(2, input_shape=3)])
    with pytest.raises(ValueError, match=r"model must be compiled"):
        Population(uncompiled, 2)
    with pytest.raises(ValueError, match=r"hyperparams\['learning_rate'\] has 2 values.*size=3"):
        Population(model, 3, hyperparams={"learning_rate": [0.1, 0.2]})
    with pytest.raises(ValueError, match="Did you mean 'learning_rate'"):
        Population(model, 3, hyperparams={"learning_rte": [0.1, 0.2, 0.3]})
    with pytest.raises(TypeError, match="hyperparams"):
        Population(model, 2, hyperparams={"learning_rate": ["fast", "slow"]})
    with pytest.raises(TypeError, match="hyperparams must be a dict"):
        Population(model, 2, hyperparams=[0.1, 0.2])
    with pytest.raises(ValueError, match="parallel_members"):
        Population(model, 3, parallel_members=0)
    with pytest.raises(ValueError, match=r"Valid names: .*learning_rate"):
        Population(model, 2, hyperparams={"rate": 0.5})  # no Dropout layer in the model
    with pytest.raises(ValueError, match="seeds has 2 values"):
        Population(model, 3, seeds=[1, 2])
    scheduled = small_model(optimizer=Adam(optax.linear_schedule(1e-2, 1e-3, 10)))
    with pytest.raises(ValueError, match="schedule"):
        Population(scheduled, 2, hyperparams={"learning_rate": [0.1, 0.2]})
    pop = Population(model, 2)
    with pytest.raises(ValueError, match="best"):
        pop.best()
    with pytest.raises(ValueError, match="reduce"):
        pop.predict(x, reduce="median")
    before = leaves(pop.params)
    with pytest.raises(ValueError, match="y has shape"):
        pop.fit(x, y[:, :3], verbose=0)
    assert_trees_close(leaves(pop.params), before, atol=0)  # a failed call changes nothing
    unbuilt = Sequential([Dense(2)])
    unbuilt.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="needs built members"):
        Population(unbuilt, 2).save("unused.fnn")


def test_population_is_exported():
    assert fnn.Population is Population


# -- everything Sequential.fit does, through the one engine ----------------------------------
def test_fit_takes_every_argument_of_sequential_fit():
    import inspect

    seq = inspect.signature(Sequential.fit).parameters
    pop = inspect.signature(Population.fit).parameters
    assert list(seq) == list(pop)
    assert inspect.signature(Sequential.evaluate).parameters.keys() == (
        inspect.signature(Population.evaluate).parameters.keys()
    )


def test_epoch_counter_initial_epoch_and_fit_twice_equal_fit_once(data):
    x, y = data
    once = Population(small_model(), 2, seeds=SEEDS[:2])
    once.fit(x, y, epochs=2, verbose=0)
    twice = Population(small_model(), 2, seeds=SEEDS[:2])
    twice.fit(x, y, epochs=1, verbose=0)
    assert twice.epoch == 1
    history = twice.fit(x, y, epochs=2, initial_epoch=1, verbose=0)
    assert history.epoch == [1] and twice.epoch == 2
    assert_trees_close(leaves(once.params), leaves(twice.params), atol=0)


def test_exact_resume_through_save_and_load(tmp_path, data):
    x, y = data
    model = Sequential(seed=1)
    model.add(Dense(16, activation="relu", input_shape=10))
    model.add(Dropout(0.3))
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    straight = Population(model, 2)
    straight.fit(x, y, epochs=3, verbose=0)
    first = Population(model, 2)
    first.fit(x, y, epochs=1, verbose=0)
    first.save(tmp_path / "pop.fnn")
    resumed = load_population(tmp_path / "pop.fnn")
    assert resumed.epoch == 1
    resumed.fit(x, y, epochs=3, initial_epoch=resumed.epoch, verbose=0)
    assert_trees_close(leaves(straight.params), leaves(resumed.params), atol=0)


def test_callbacks_see_per_member_logs_and_early_stopping_freezes_members(data):
    x, y = data
    seen = []
    logger = fnn.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(dict(logs)))
    # member 1's learning rate is 0: it never improves and stops after `patience` epochs;
    # member 0 keeps training.
    pop = Population(small_model(), 2, hyperparams={"learning_rate": [1e-2, 0.0]})
    stop = fnn.callbacks.EarlyStopping(monitor="loss", patience=1, min_delta=1e-6)
    pop.fit(x, y, epochs=4, verbose=0, callbacks=[stop, logger])
    assert seen[0]["loss"].shape == (2,)
    assert not pop.active[1] and pop.active[0]
    assert len(seen) == 4  # member 0 still improving: training went on
    assert stop.best.shape == (2,) and stop.wait.shape == (2,)


def test_frozen_members_keep_their_weights(data):
    x, y = data
    pop = Population(small_model(), 2)
    pop.fit(x, y, epochs=1, verbose=0)
    before = [member_leaves(pop.params, i) for i in range(2)]

    class FreezeOne(fnn.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.model.freeze([1])

    pop.fit(x, y, epochs=2, verbose=0, callbacks=[FreezeOne()])
    assert_trees_close(member_leaves(pop.params, 1), before[1], atol=0)
    assert not np.allclose(member_leaves(pop.params, 0)[0], before[0][0])


def test_reduce_lr_on_plateau_and_terminate_on_nan_per_member(data):
    x, y = data
    pop = Population(
        small_model(optimizer=fnn.optimizers.SGD(0.01)),
        2,
        hyperparams={"learning_rate": [0.01, 0.0]},
    )
    reduce = fnn.callbacks.ReduceLROnPlateau(monitor="loss", patience=0, factor=0.5, min_delta=1e-9)
    history = pop.fit(x, y, epochs=2, verbose=0, callbacks=[reduce])
    lr = history.history["learning_rate"]
    assert lr[0].shape == (2,)
    final = np.asarray(fnn.optimizers.learning_rate(pop.opt_state))
    assert final[0] == pytest.approx(0.01)  # improving: unchanged
    assert final[1] == 0.0  # not improving, but already at min_lr=0: nothing to reduce

    # member 1 diverges to NaN: it is put back and frozen, member 0 trains on
    bad = Population(
        small_model(optimizer=fnn.optimizers.SGD(0.01)),
        2,
        hyperparams={"learning_rate": [0.01, 1e30]},
    )
    start = [member_leaves(bad.params, i) for i in range(2)]
    nan = fnn.callbacks.TerminateOnNaN()
    bad.fit(x, y, epochs=3, verbose=0, callbacks=[nan])
    assert nan.terminated_epoch is not None and not bad.active[1] and bad.active[0]
    assert all(np.isfinite(a).all() for a in leaves(bad.params))
    assert not np.allclose(member_leaves(bad.params, 0)[0], start[0][0])


def test_model_checkpoint_saves_the_population_by_its_best_member(tmp_path, data):
    x, y = data
    pop = Population(small_model(), 2)
    ckpt = fnn.callbacks.ModelCheckpoint(
        str(tmp_path / "pop-{epoch}-{loss:.2f}.fnn"), monitor="loss", save_best_only=True
    )
    pop.fit(x, y, epochs=2, verbose=0, callbacks=[ckpt])
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and files[0].startswith("pop-1-")
    loaded = load_population(tmp_path / files[-1])
    assert_trees_close(leaves(loaded.params), leaves(pop.params), atol=0)


def test_streaming_bigger_than_the_device_budget_equals_resident(data):
    x, y = data
    for shared in (False, True):
        resident = Population(small_model(), 2, shared_order=shared)
        resident.fit(x, y, batch_size=16, epochs=2, verbose=0, max_device_bytes=None)
        streamed = Population(small_model(), 2, shared_order=shared)
        streamed.fit(x, y, batch_size=16, epochs=2, verbose=0, max_device_bytes=3000)
        assert_trees_close(leaves(resident.params), leaves(streamed.params))
    np.testing.assert_allclose(
        streamed.evaluate(x, y, verbose=0, max_device_bytes=3000)[0],
        resident.evaluate(x, y, verbose=0)[0],
        rtol=1e-5,
    )


def test_predict_checks_for_nan(data):
    x, _ = data
    pop = Population(small_model(), 2)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="row 3"):
        pop.predict(bad, verbose=0)

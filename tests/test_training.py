import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnn import training
from fnn.data import epoch_order
from fnn.layers import Dense, serial
from fnn.optimizers import SGD, Adam


def _data(n=50, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)]
    return jnp.asarray(x), jnp.asarray(y)


NET = serial(Dense(8, activation="relu"), Dense(3, activation="softmax"))


def test_train_step_in_a_hand_written_jitted_loop_reduces_the_loss():
    x, y = _data(64)
    opt = Adam(0.01)
    ts = training.init_train_state(NET, opt, jax.random.key(0), 4)
    step = jax.jit(training.make_train_step(NET, "categorical_crossentropy", opt, ["accuracy"]))
    evaluate = jax.jit(training.make_eval_step(NET, "categorical_crossentropy", ["accuracy"]))
    before = evaluate(ts.params, ts.state, (x, y))
    for _ in range(100):
        ts, logs = step(ts, (x, y))
    after = evaluate(ts.params, ts.state, (x, y))
    assert int(ts.step) == 100
    assert float(after["loss"]) < 0.7 * float(before["loss"])
    assert set(logs) == {"loss", "accuracy"}


def test_train_step_is_one_sgd_step_on_the_logit_loss():
    x, y = _data(10)
    opt = SGD(0.1)
    ts = training.init_train_state(NET, opt, jax.random.key(0), 4)
    params = ts.params
    step = jax.jit(training.make_train_step(NET, "categorical_crossentropy", opt))
    new_ts, logs = step(ts, (x, y))
    new_params = new_ts.params

    def reference_loss(p):
        return -jnp.mean(jnp.sum(y * jnp.log(NET.apply(p, x)), axis=-1))

    grads = jax.grad(reference_loss)(params)
    expected = jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)
    for a, b in zip(jax.tree_util.tree_leaves(new_params), jax.tree_util.tree_leaves(expected)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logs["loss"], reference_loss(params), rtol=1e-5)


def test_fused_loop_equals_an_unfused_step_loop_including_the_partial_batch():
    x, y = _data(50)
    opt = Adam(0.01)
    step = training.make_train_step(NET, "categorical_crossentropy", opt, ["accuracy"])
    loop = jax.jit(training.make_train_loop(step))
    ts = training.init_train_state(NET, opt, jax.random.key(0), 4)
    order, rest = epoch_order(50, 16, seed=3, epoch=0, shuffle=True)
    assert order.shape == (3, 16) and rest.shape == (2,)
    fused, sums = loop(ts, (x, y, None), jnp.asarray(order), jnp.asarray(rest), jnp.int32(0))
    fp, fo = fused.params, fused.opt_state
    assert int(fused.step) == 4 and int(fused.epoch) == 0  # the caller advances the epoch

    t, total, count = ts, 0.0, 0
    jstep = jax.jit(step)
    for idx in [*order, rest]:
        t, logs = jstep(t, (x[idx], y[idx]))
        total += float(logs["loss"]) * len(idx)
        count += len(idx)
    p = t.params
    for a, b in zip(jax.tree_util.tree_leaves(fp), jax.tree_util.tree_leaves(p)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert int(sums["count"]) == 50
    np.testing.assert_allclose(float(sums["loss"]) / 50, total / count, rtol=1e-5)
    assert (
        int(jax.tree_util.tree_leaves(fo)[0]) == 4
    )  # the optimizer counted 3 full batches + 1 partial


def test_eval_and_predict_loops_match_direct_application():
    x, y = _data(37)
    params = NET.init(jax.random.key(1), 4)
    eval_step = training.make_eval_step(NET, "categorical_crossentropy", ["accuracy"])
    sums = jax.jit(training.make_eval_loop(eval_step, 8))(params, NET.empty_state(), (x, y, None))
    direct = eval_step(params, NET.empty_state(), (x, y))
    means = training.means(jax.device_get(sums), eval_step.metrics)
    np.testing.assert_allclose(means["loss"], direct["loss"], rtol=1e-5)
    np.testing.assert_allclose(means["accuracy"], direct["accuracy"], rtol=1e-5)
    preds = jax.jit(training.make_predict_loop(NET, 8))(params, NET.empty_state(), x)
    np.testing.assert_allclose(preds, NET.apply(params, x), rtol=1e-5, atol=1e-7)


def test_softmax_cross_entropy_is_fused_and_finite_for_confident_mistakes():
    obj = training.objective(NET, "categorical_crossentropy")
    assert obj.loss.from_logits and obj.net.output_activation is None
    # an mse objective keeps the network as it is
    assert not hasattr(training.objective(NET, "mse").loss, "from_logits")
    net = serial(Dense(2, activation="softmax", kernel_initializer="ones"))
    opt = optax.sgd(0.1)
    ts = training.init_train_state(net, opt, jax.random.key(0), 1)
    ts.params[0]["kernel"] = jnp.array([[1e4, -1e4]])
    _, logs = jax.jit(training.make_train_step(net, "categorical_crossentropy", opt))(
        ts, (jnp.ones((1, 1)), jnp.array([[0.0, 1.0]]))
    )
    np.testing.assert_allclose(logs["loss"], 2e4, rtol=1e-6)


def test_train_step_with_state_and_sample_weights():
    x, y = _data(8)
    opt = SGD(0.1)
    step = jax.jit(training.make_train_step(NET, "categorical_crossentropy", opt))
    ts = training.init_train_state(NET, opt, jax.random.key(0), 4)
    params = ts.params
    w = jnp.array([1.0] * 4 + [0.0] * 4)
    out = step(ts, (x, y, w), jax.random.key(0))
    assert len(out) == 2  # (ts, logs), whatever the arguments
    # zero-weighted examples do not move the weights: same as training on the first half,
    # with the loss divided by the full batch size (Keras's sum_over_batch_size)
    half = step(ts, (x[:4], y[:4]))
    assert len(half) == 2
    half_grads = jax.tree_util.tree_map(lambda a, b: (a - b) / 2, half[0].params, params)
    moved = jax.tree_util.tree_map(lambda a, b: a - b, out[0].params, params)
    for a, b in zip(jax.tree_util.tree_leaves(moved), jax.tree_util.tree_leaves(half_grads)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)


def test_weighted_metrics_over_a_pass_are_keras_sum_wv_over_sum_w_whatever_the_batch():
    """Keras: only weighted_metrics see sample_weight, and a metric over a pass is
    sum(w * v) / sum(w) over all examples, not a mean of per-batch means."""
    from fnn.models import Sequential

    x = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]], np.float32)
    y = np.array([[0.0], [1.0], [1.0], [1.0], [0.0]], np.float32)
    w = np.array([4.0, 1.0, 1.0, 1.0, 3.0], np.float32)
    model = Sequential(
        [Dense(1, kernel_initializer="zeros", bias_initializer="zeros", input_shape=1)]
    )
    model.compile(optimizer="sgd", loss="mae", metrics=["mae"], weighted_metrics=["mae"])
    assert model.metrics_names == ["loss", "mae", "weighted_mae"]
    # predictions are all 0: per-example |error| = y
    expected_plain = float(np.mean(y))  # 0.6, unweighted
    expected_weighted = float(np.sum(w * y[:, 0]) / np.sum(w))  # 3 / 10 = 0.3
    for batch_size in (1, 2, 5):
        logs = model.evaluate(
            x, y, sample_weight=w, batch_size=batch_size, verbose=0, return_dict=True
        )
        np.testing.assert_allclose(logs["mae"], expected_plain, rtol=1e-6)
        np.testing.assert_allclose(logs["weighted_mae"], expected_weighted, rtol=1e-6)


def test_class_weight_does_not_weight_plain_metrics():
    from fnn.models import Sequential

    x, y = _data(64)
    model = Sequential([Dense(3, activation="softmax", input_shape=4)], seed=0)
    model.compile(
        optimizer="sgd",
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        weighted_metrics=["accuracy"],
    )
    history = model.fit(x, y, epochs=1, verbose=0, class_weight={0: 0.0, 1: 1.0, 2: 5.0})
    assert history.history["accuracy"][0] != history.history["weighted_accuracy"][0]


def _padded_and_plain_means(loss, metrics, weights=None, labels=None, weighted=(), n=37, rows=48):
    """The eval loop's means over n rows, and over the same rows padded to ``rows`` with
    ``valid_rows=n`` (padding: copies of the first row, as fnn.data.pad_to_bucket makes)."""
    x, y = _data(n, seed=4)
    y = y if labels is None else labels
    w = None if weights is None else jnp.asarray(weights)
    params = NET.init(jax.random.key(2), 4)
    step = training.make_eval_step(NET, loss, training.resolve_metrics(metrics, weighted, loss, 3))
    loop = jax.jit(training.make_eval_loop(step, 8))

    def pad(a):
        return None if a is None else jnp.concatenate([a, jnp.repeat(a[:1], rows - n, 0)])

    plain = loop(params, NET.empty_state(), (x, y, w))
    padded = loop(params, NET.empty_state(), (pad(x), pad(y), pad(w)), jnp.int32(n))
    return (training.means(jax.device_get(s), step.metrics) for s in (plain, padded))


def test_padding_rows_are_left_out_of_the_loss_and_every_metric_exactly():
    from fnn import losses, metrics

    every = [
        "accuracy",
        "mse",
        "cosine_similarity",
        "mape",
        metrics.Precision(),
        metrics.Recall(),
        metrics.AUC(),
        metrics.F1Score(),
        metrics.R2Score(),
        metrics.RootMeanSquaredError(),
        metrics.TopKCategoricalAccuracy(k=2),
    ]
    weights = np.random.default_rng(1).uniform(0.1, 2.0, 37).astype(np.float32)
    for loss, w in [
        ("categorical_crossentropy", weights),
        (losses.MeanSquaredError(reduction="sum"), weights),
        (losses.MeanSquaredError(reduction="mean_with_sample_weight"), weights),
    ]:
        plain, padded = _padded_and_plain_means(loss, every, w, weighted=["mae", "accuracy"])
        assert set(plain) == set(padded) and len(plain) == len(every) + 3
        for name in plain:
            np.testing.assert_allclose(
                padded[name], plain[name], rtol=2e-5, atol=1e-6, err_msg=name
            )


def test_padding_rows_are_left_out_of_a_masked_loss_too():
    from fnn import losses

    labels = np.random.default_rng(2).integers(0, 3, 37)
    labels[::5] = -1  # ignored examples
    loss = losses.SparseCategoricalCrossentropy(ignore_class=-1)
    plain, padded = _padded_and_plain_means(loss, ["accuracy"], labels=jnp.asarray(labels))
    np.testing.assert_allclose(padded["loss"], plain["loss"], rtol=2e-5)
    # the first row (the padding's copy) is ignored: padding copies must not count either way
    labels[0] = 2
    plain, padded = _padded_and_plain_means(loss, ["accuracy"], labels=jnp.asarray(labels))
    np.testing.assert_allclose(padded["loss"], plain["loss"], rtol=2e-5)

import jax.numpy as jnp
import numpy as np
import pytest

from fnn import losses, metrics


@pytest.mark.parametrize(
    "loss,expected",
    [
        ("categorical_crossentropy", metrics.categorical_accuracy),
        ("sparse_categorical_crossentropy", metrics.sparse_categorical_accuracy),
        ("binary_crossentropy", metrics.binary_accuracy),
        # the per-example functions given as the loss resolve as their names do
        (losses.sparse_categorical_crossentropy, metrics.sparse_categorical_accuracy),
        (losses.binary_crossentropy, metrics.binary_accuracy),
        (losses.categorical_crossentropy, metrics.categorical_accuracy),
    ],
)
def test_accuracy_resolves_from_the_loss(loss, expected):
    for name in ("accuracy", "acc"):
        m = metrics.get(name, loss=loss)
        assert m.fn is expected and m.name == name


def test_accuracy_for_single_unit_regression_is_binary():
    assert metrics.get("accuracy", loss="mse", output_units=1).fn is metrics.binary_accuracy


def test_metric_values():
    onehot = jnp.array([[0, 1, 0], [1, 0, 0]], jnp.float32)
    pred = jnp.array([[0.1, 0.8, 0.1], [0.2, 0.7, 0.1]])
    np.testing.assert_allclose(metrics.categorical_accuracy(onehot, pred), [1, 0])
    np.testing.assert_allclose(metrics.sparse_categorical_accuracy(jnp.array([1, 0]), pred), [1, 0])
    np.testing.assert_allclose(
        metrics.binary_accuracy(jnp.array([[1.0], [0.0]]), jnp.array([[0.7], [0.6]])), [1, 0]
    )
    np.testing.assert_allclose(metrics.top_k_categorical_accuracy(onehot, pred, k=1), [1, 0])
    np.testing.assert_allclose(metrics.top_k_categorical_accuracy(onehot, pred, k=2), [1, 1])
    np.testing.assert_allclose(metrics.get("mse").fn(jnp.ones((1, 2)), jnp.zeros((1, 2))), [1.0])
    np.testing.assert_allclose(metrics.get("mae").fn(jnp.ones((1, 2)), 3 * jnp.ones((1, 2))), [2.0])


def test_callable_metric_takes_its_function_name():
    def my_metric(y, p):
        return jnp.zeros(y.shape[0])

    assert metrics.get(my_metric).name == "my_metric"


def test_metric_list_rejects_duplicates_and_bad_types():
    with pytest.raises(ValueError, match="distinct"):
        metrics.get_list(["mse", "mse"])
    with pytest.raises(TypeError, match="metrics"):
        metrics.get_list(3)


# -- the metric protocol ------------------------------------------------------------------
import os  # noqa: E402

os.environ.setdefault("KERAS_BACKEND", "jax")
import jax  # noqa: E402
import keras  # noqa: E402

RNG = np.random.default_rng(0)
N = 37
PROBS = RNG.uniform(size=(N, 4)).astype(np.float32)
SOFTMAX = PROBS / PROBS.sum(-1, keepdims=True)
ONEHOT = np.eye(4, dtype=np.float32)[RNG.integers(0, 4, N)]
SPARSE = ONEHOT.argmax(-1).astype(np.float32)
BINARY = (RNG.uniform(size=(N, 1)) > 0.5).astype(np.float32)
BPRED = RNG.uniform(size=(N, 1)).astype(np.float32)
REG_T = RNG.normal(size=(N, 3)).astype(np.float32)
REG_P = (REG_T + RNG.normal(size=(N, 3))).astype(np.float32)
POS_T = np.abs(REG_T) + 0.1
POS_P = np.abs(REG_P) + 0.1
MULTI = (RNG.uniform(size=(N, 4)) > 0.5).astype(np.float32)
WEIGHTS = RNG.uniform(0.0, 2.0, size=N).astype(np.float32)

# (fnn metric, the same Keras metric, y_true, y_pred)
CASES = {
    "accuracy": (metrics.Accuracy(), keras.metrics.Accuracy(), SPARSE[:, None], SPARSE[::-1, None]),
    "binary_accuracy": (
        metrics.BinaryAccuracy(threshold=0.3),
        keras.metrics.BinaryAccuracy(threshold=0.3),
        BINARY,
        BPRED,
    ),
    "categorical_accuracy": (
        metrics.CategoricalAccuracy(),
        keras.metrics.CategoricalAccuracy(),
        ONEHOT,
        SOFTMAX,
    ),
    "sparse_categorical_accuracy": (
        metrics.SparseCategoricalAccuracy(),
        keras.metrics.SparseCategoricalAccuracy(),
        SPARSE,
        SOFTMAX,
    ),
    "top_k": (
        metrics.TopKCategoricalAccuracy(k=2),
        keras.metrics.TopKCategoricalAccuracy(k=2),
        ONEHOT,
        SOFTMAX,
    ),
    "mse": (metrics.MeanSquaredError(), keras.metrics.MeanSquaredError(), REG_T, REG_P),
    "mae": (metrics.MeanAbsoluteError(), keras.metrics.MeanAbsoluteError(), REG_T, REG_P),
    "mape": (
        metrics.MeanAbsolutePercentageError(),
        keras.metrics.MeanAbsolutePercentageError(),
        REG_T,
        REG_P,
    ),
    "msle": (
        metrics.MeanSquaredLogarithmicError(),
        keras.metrics.MeanSquaredLogarithmicError(),
        POS_T,
        POS_P,
    ),
    "rmse": (metrics.RootMeanSquaredError(), keras.metrics.RootMeanSquaredError(), REG_T, REG_P),
    "cosine": (metrics.CosineSimilarity(), keras.metrics.CosineSimilarity(), REG_T, REG_P),
    "bce": (
        metrics.BinaryCrossentropy(label_smoothing=0.1),
        keras.metrics.BinaryCrossentropy(label_smoothing=0.1),
        BINARY,
        BPRED,
    ),
    "cce": (
        metrics.CategoricalCrossentropy(),
        keras.metrics.CategoricalCrossentropy(),
        ONEHOT,
        SOFTMAX,
    ),
    "precision": (metrics.Precision(), keras.metrics.Precision(), BINARY, BPRED),
    "precision_top_k": (
        metrics.Precision(top_k=2),
        keras.metrics.Precision(top_k=2),
        MULTI,
        PROBS,
    ),
    "recall": (
        metrics.Recall(thresholds=0.3, class_id=1),
        keras.metrics.Recall(thresholds=0.3, class_id=1),
        MULTI,
        PROBS,
    ),
    "auc": (metrics.AUC(), keras.metrics.AUC(), BINARY, BPRED),
    "auc_pr": (metrics.AUC(curve="PR"), keras.metrics.AUC(curve="PR"), MULTI, PROBS),
    "auc_minoring": (
        metrics.AUC(num_thresholds=7, summation_method="minoring"),
        keras.metrics.AUC(num_thresholds=7, summation_method="minoring"),
        BINARY,
        BPRED,
    ),
    "auc_multi_label": (
        metrics.AUC(multi_label=True, num_labels=4),
        keras.metrics.AUC(multi_label=True, num_labels=4),
        MULTI,
        PROBS,
    ),
    "f1_macro": (
        metrics.F1Score(average="macro", threshold=0.5),
        keras.metrics.F1Score(average="macro", threshold=0.5),
        MULTI,
        PROBS,
    ),
    "f1_weighted": (
        metrics.F1Score(average="weighted"),
        keras.metrics.F1Score(average="weighted"),
        ONEHOT,
        SOFTMAX,
    ),
    "f1_micro": (
        metrics.F1Score(average="micro", threshold=0.4),
        keras.metrics.F1Score(average="micro", threshold=0.4),
        MULTI,
        PROBS,
    ),
    "r2": (metrics.R2Score(), keras.metrics.R2Score(), REG_T, REG_P),
    "r2_variance": (
        metrics.R2Score(class_aggregation="variance_weighted_average", num_regressors=2),
        keras.metrics.R2Score(class_aggregation="variance_weighted_average", num_regressors=2),
        REG_T,
        REG_P,
    ),
}


def _fresh(metric):
    return metrics.deserialize(metrics.serialize(metric))


@pytest.mark.parametrize("case", sorted(CASES))
def test_metric_objects_match_keras_over_batches(case):
    # Keras sees the whole weighted pass at once; fnn sees it in uneven batches.
    ours, theirs, y, p = CASES[case]
    ours = _fresh(ours)
    theirs.reset_state()
    theirs.update_state(y, p, WEIGHTS)
    for sl in (slice(0, 10), slice(10, 11), slice(11, N)):
        ours.update_state(y[sl], p[sl], WEIGHTS[sl])
    np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("case", ["binary_accuracy", "rmse", "recall", "auc_pr", "f1_micro", "r2"])
def test_metric_objects_match_keras_unweighted(case):
    ours, theirs, y, p = CASES[case]
    ours = _fresh(ours)
    theirs.reset_state()
    theirs.update_state(y, p)
    ours.update_state(y, p)
    np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()), rtol=2e-5, atol=2e-6)


PROTOCOL_CASES = ["mse", "rmse", "precision_top_k", "auc", "auc_multi_label", "f1_weighted", "r2"]


@pytest.mark.parametrize("case", PROTOCOL_CASES)
def test_pure_protocol_is_split_independent_mergeable_and_jittable(case):
    metric, _, y, p = CASES[case]
    metric = _fresh(metric).build(p.shape[-1])
    y, p, w = y[:36], p[:36], WEIGHTS[:36]
    update = jax.jit(metric.update)
    whole = metric.compute(update(metric.initial_state(), y, p, w))
    for size in (9, 12):
        state = metric.initial_state()
        merged = None
        for start in range(0, 36, size):
            sl = slice(start, start + size)
            state = update(state, y[sl], p[sl], w[sl])
            part = update(metric.initial_state(), y[sl], p[sl], w[sl])
            merged = part if merged is None else metric.merge(merged, part)
        np.testing.assert_allclose(metric.compute(state), whole, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(metric.compute(merged), whole, rtol=1e-5, atol=1e-6)
    leaves = jax.tree_util.tree_leaves(metric.initial_state())
    assert leaves and all(leaf.dtype == jnp.float32 for leaf in leaves)


def test_weighted_mean_is_over_the_whole_pass_not_a_mean_of_batch_means():
    # issue 13 point 4: Σ w·v / Σ w; batches [w=1,v=0], [w=4,v=0 ; w=0? ...]
    m = metrics.MeanSquaredError()
    y = np.zeros((3, 1), np.float32)
    p = np.array([[1.0], [0.0], [0.0]], np.float32)
    w = np.array([1.0, 3.0, 1.0], np.float32)
    m.update_state(y[:1], p[:1], w[:1])  # batch mean 1.0
    m.update_state(y[1:], p[1:], w[1:])  # batch mean 0.0
    assert float(m.result()) == pytest.approx(1.0 / 5.0)  # not (1 + 0) / 2
    m.reset_state()
    assert float(m.result()) == 0.0


def test_keras_stateful_call_and_reset():
    m = metrics.get("binary_accuracy")
    assert float(m(np.array([[1.0], [0.0]]), np.array([[0.9], [0.9]]))) == 0.5
    assert float(m(np.array([[1.0], [1.0]]), np.array([[0.9], [0.9]]))) == 0.75
    m.reset_state()
    assert float(m(np.array([[1.0]]), np.array([[0.1]]))) == 0.0


def test_update_state_compiles_once_per_shape_and_keeps_eager_only_metrics_working():
    from conftest import count_compiles

    m = metrics.AUC()
    y, p = np.array([0.0, 1.0, 1.0, 0.0]), np.array([0.1, 0.8, 0.4, 0.6], np.float32)
    m.update_state(y, p)
    with count_compiles() as compiles:
        m.update_state(y[::-1], p[::-1])  # same shapes: the jitted update runs again
    assert compiles == []
    ref = metrics.AUC()
    ref._state = ref.update(ref.update(ref.initial_state(), y, p), y[::-1], p[::-1])
    assert float(m.result()) == pytest.approx(float(ref.result()), abs=1e-7)

    def count_positive(t, q):  # Python control flow on the values: cannot be traced
        return jnp.full(np.shape(t)[:1], float(np.sum(np.asarray(q) > 0.5)))

    eager = metrics.Metric("positives", count_positive)
    eager.update_state([1.0, 0.0], [0.9, 0.7])
    eager.update_state([1.0], [0.2])
    assert float(eager.result()) == pytest.approx((2 + 2 + 0) / 3)


@pytest.mark.parametrize(
    "name,cls",
    [
        ("auc", metrics.AUC),
        ("precision", metrics.Precision),
        ("recall", metrics.Recall),
        ("f1_score", metrics.F1Score),
        ("r2_score", metrics.R2Score),
        ("root_mean_squared_error", metrics.RootMeanSquaredError),
    ],
)
def test_keras_string_names_resolve_to_objects(name, cls):
    m = metrics.get(name, output_units=3)
    assert type(m) is cls and m.name == name
    assert m.fn is None
    assert type(metrics.get(cls)) is cls


def test_function_and_class_identifiers_keep_a_per_example_fn():
    assert metrics.get("mse").fn is metrics.registry.get("mse")
    assert metrics.MeanSquaredError().fn is metrics.registry.get("mse")
    assert metrics.get(metrics.BinaryAccuracy).name == "binary_accuracy"
    np.testing.assert_allclose(
        metrics.BinaryAccuracy(threshold=0.8).fn(np.ones((2, 1)), np.array([[0.9], [0.7]])), [1, 0]
    )


def test_accuracy_with_multi_label_binary_crossentropy_follows_keras_3():
    # Keras 3 decides from the shapes: several output units -> categorical accuracy.
    m = metrics.get("accuracy", loss="binary_crossentropy", output_units=5)
    assert isinstance(m, metrics.CategoricalAccuracy) and m.name == "accuracy"
    assert isinstance(
        metrics.get("acc", loss="binary_crossentropy", output_units=1), metrics.BinaryAccuracy
    )


def test_serialize_round_trips_and_is_json():
    import json

    for metric in [c[0] for c in CASES.values()] + [
        metrics.get("mse"),
        metrics.MeanMetricWrapper(metrics.binary_accuracy, threshold=0.2),
    ]:
        config = json.loads(json.dumps(metrics.serialize(metric)))
        again = metrics.get(config)
        assert isinstance(again, type(metric)) and again.name == metric.name
        assert metrics.serialize(again) == metrics.serialize(metric)
    with pytest.raises(ValueError, match="not registered"):
        metrics.serialize(metrics.get(lambda t, p: t))
    with pytest.raises(ValueError, match="Unknown metric class"):
        metrics.deserialize({"class_name": "os.system", "config": {}})


def test_metric_arguments_are_checked():
    with pytest.raises(ValueError, match="curve"):
        metrics.AUC(curve="XY")
    with pytest.raises(ValueError, match="num_thresholds"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="thresholds"):
        metrics.Precision(thresholds=1.5)
    with pytest.raises(ValueError, match="average"):
        metrics.F1Score(average="mean")
    with pytest.raises(ValueError, match="class_aggregation"):
        metrics.R2Score(class_aggregation="max")
    with pytest.raises(TypeError, match="threshold"):
        metrics.BinaryAccuracy(treshold=0.5)
    with pytest.raises(ValueError, match="Did you mean 'auc'"):
        metrics.get("aux")


def test_functions_align_a_trailing_axis_as_keras():
    # issue 13 point 2: y_true (3,) against y_pred (3, 1)
    y, p = np.array([1.0, 0.0, 1.0]), np.array([[0.7], [0.6], [0.2]])
    np.testing.assert_allclose(metrics.binary_accuracy(y, p), [1.0, 0.0, 0.0])
    keras_value = keras.metrics.binary_accuracy(y, p)
    np.testing.assert_allclose(
        metrics.binary_accuracy(y, p).reshape(-1), np.asarray(keras_value).reshape(-1)
    )


def test_per_entry_sample_weights_average_each_example_as_keras_does():
    # weights of the values' full shape (n, 3): Keras averages each example's weighted entries
    w = RNG.uniform(0.1, 2.0, size=(N, 3)).astype(np.float32)
    theirs = keras.metrics.MeanSquaredError()
    theirs.update_state(REG_T[..., None], REG_P[..., None], sample_weight=w)
    ours = metrics.get("mse")
    state = ours.update(ours.initial_state(), REG_T[..., None], REG_P[..., None], w)
    np.testing.assert_allclose(float(ours.compute(state)), float(theirs.result()), rtol=1e-5)

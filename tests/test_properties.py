"""Property tests (hypothesis) over layer stacks, input shapes and batch sizes."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fnn import losses
from fnn.layers import Dense, serial
from fnn.models import Sequential

ACTIVATIONS = ["linear", "relu", "tanh", "sigmoid", "gelu", "softplus", "elu"]
FEW = settings(max_examples=12, deadline=None)
COMPILING = settings(max_examples=6, deadline=None)  # each example compiles a new program

activations = st.sampled_from(ACTIVATIONS)
stacks = st.lists(st.tuples(st.integers(1, 6), activations), min_size=1, max_size=3)


def build(stack, features: int, seed: int = 0, last=None) -> Sequential:
    model = Sequential(seed=seed)
    for i, (units, activation) in enumerate(stack):
        model.add(Dense(units, activation=activation, input_shape=features if i == 0 else None))
    if last is not None:
        model.add(last)
    return model


def data(n: int, features: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, features)).astype(np.float32)


@FEW
@given(stack=stacks, features=st.integers(1, 5), batch=st.integers(1, 9))
def test_init_and_apply_shapes_follow_the_stack(stack, features, batch):
    # Abstract evaluation: shapes and dtypes of init and apply without computing anything.
    net = serial(*(Dense(units, activation=act) for units, act in stack))
    params = jax.eval_shape(lambda key: net.init(key, (features,)), jax.random.key(0))
    x = jax.ShapeDtypeStruct((batch, features), jnp.float32)
    out = jax.eval_shape(net.apply, params, x)
    assert out.shape == (batch, stack[-1][0]) == (batch, *net.output_shape((features,)))
    assert out.dtype == jnp.float32
    ins = [features] + [units for units, _ in stack[:-1]]
    assert [p["kernel"].shape for p in params] == [(i, u) for i, (u, _) in zip(ins, stack)]
    assert [p["bias"].shape for p in params] == [(u,) for u, _ in stack]


@COMPILING
@given(stack=stacks, features=st.integers(1, 4), n=st.integers(1, 23), batch=st.integers(1, 8))
def test_partial_batches_predict_what_one_batch_does(stack, features, n, batch):
    model = build(stack, features)
    x = data(n, features)
    batched = model.predict(x, batch_size=batch, verbose=0)  # n % batch examples in a last batch
    whole = np.asarray(model.apply(model.params, jnp.asarray(x)))  # one batch of n
    assert batched.shape == whole.shape == (n, stack[-1][0])
    np.testing.assert_allclose(batched, whole, rtol=1e-6, atol=1e-6)


LOSSES = ["mse", "mae", "categorical_crossentropy", "sparse_categorical_crossentropy"]


@COMPILING
@given(
    loss=st.sampled_from(LOSSES),
    units=st.integers(2, 5),
    n=st.integers(1, 19),
    batch=st.integers(1, 8),
    weighted=st.booleans(),
)
def test_evaluate_loss_is_the_mean_loss_over_all_examples(loss, units, n, batch, weighted):
    activation = "softmax" if "crossentropy" in loss else "tanh"
    model = build([(units, activation)], 3)
    model.compile(optimizer="sgd", loss=loss)
    x = data(n, 3)
    rng = np.random.default_rng(n)
    labels = rng.integers(0, units, n)
    y = labels if loss.startswith("sparse") else np.eye(units, dtype=np.float32)[labels]
    if loss in ("mse", "mae"):
        y = rng.normal(size=(n, units)).astype(np.float32)
    w = rng.uniform(0.0, 2.0, n).astype(np.float32) if weighted else None
    value = model.evaluate(x, y, batch_size=batch, sample_weight=w, verbose=0)
    y_pred = model.apply(model.params, jnp.asarray(x))
    per_example = np.asarray(losses.get(loss).call(jnp.asarray(y), y_pred))
    direct = np.mean(per_example * (1.0 if w is None else w))  # Keras: weighted sum / n
    np.testing.assert_allclose(value, direct, rtol=1e-5, atol=1e-6)


@FEW
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(0.01, 30.0))
def test_losses_are_non_negative(seed, scale):
    # Fixed shapes (one compile per loss), values drawn over a wide range of confidence.
    n, units = 8, 4
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, units)) * scale
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs = (probs / probs.sum(-1, keepdims=True)).astype(np.float32)
    labels = rng.integers(0, units, n)
    onehot = np.eye(units, dtype=np.float32)[labels]
    target = (rng.normal(size=(n, units)) * scale).astype(np.float32)
    for name, y, p in [
        ("categorical_crossentropy", onehot, probs),
        ("sparse_categorical_crossentropy", labels, probs),
        ("mse", target, probs),
        ("mae", target, probs),
        ("binary_crossentropy", (target > 0).astype(np.float32), probs),
    ]:
        per_example = np.asarray(losses.get(name).call(jnp.asarray(y), jnp.asarray(p)))
        assert per_example.shape == (n,) and (per_example >= 0).all(), name


@COMPILING
@given(
    features=st.integers(1, 4),
    units=st.integers(1, 3),
    n=st.integers(1, 15),
    seed=st.integers(0, 99),
)
def test_a_perfect_regression_fit_has_zero_loss(features, units, n, seed):
    # Targets made by the model's own linear map: MSE and MAE are zero, whatever the batching.
    model = build([(units, "linear")], features, seed)
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    rng = np.random.default_rng(seed)
    kernel = rng.integers(-3, 4, (features, units)).astype(np.float32)
    bias = rng.integers(-3, 4, units).astype(np.float32)
    model.set_weights([kernel, bias])
    x = rng.integers(-4, 5, (n, features)).astype(np.float32)  # small ints: exact float32 sums
    mse, mae = model.evaluate(x, x @ kernel + bias, batch_size=4, verbose=0)
    assert mse == 0.0 and mae == 0.0
    # ... and a perturbed target gives a positive loss.
    assert model.evaluate(x, x @ kernel + bias + 0.5, batch_size=4, verbose=0)[0] > 0.0

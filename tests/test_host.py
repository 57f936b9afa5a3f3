"""fnn.host: one-shot programs in NumPy give exactly the bits ``jax.jit`` gives, compile nothing,
and refuse (NotOnHostError) what they cannot compute exactly."""

from __future__ import annotations

import jax
import jax.extend.random
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import count_compiles
from hypothesis import given, settings
from hypothesis import strategies as st

from fnn import host, initializers, metrics, training
from fnn.layers import Dense, serial
from fnn.models import Sequential
from fnn.population import Population


def bits(tree):
    """Leaves as NumPy arrays, PRNG keys as their uint32 data."""
    out = []
    for leaf in jax.tree.leaves(tree):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        out.append(np.asarray(leaf))
    return out


def assert_same_bits(a, b):
    xs, ys = bits(a), bits(b)
    assert len(xs) == len(ys)
    for x, y in zip(xs, ys):
        assert x.dtype == y.dtype and x.shape == y.shape
        if x.dtype.kind == "f":  # NaN is NaN whatever its payload; otherwise the same bits
            x, y = x.reshape(-1), y.reshape(-1)
            nan = np.isnan(x)
            assert np.array_equal(nan, np.isnan(y)), (x, y)
            x, y = x[~nan], y[~nan]
        assert np.array_equal(x.reshape(-1).view(np.uint8), y.reshape(-1).view(np.uint8)), (x, y)


def both(fun, *args):
    return host.run_on_host(fun, *args), jax.jit(fun)(*args)


def test_threefry_matches_the_random123_answers_and_jax():
    # Random123's known-answer tests for Threefry-2x32, 20 rounds: (counter, key) -> output
    cases = [
        ((0, 0), (0, 0), (0x6B200159, 0x99BA4EFE)),
        ((0xFFFFFFFF,) * 2, (0xFFFFFFFF,) * 2, (0x1CB996FC, 0xBB002BE7)),
        ((0x243F6A88, 0x85A308D3), (0x13198A2E, 0x03707344), (0xC4923A9C, 0x483DF7A0)),
    ]
    for (x1, x2), (k1, k2), want in cases:
        got = host.threefry2x32(*(np.array([v], np.uint32) for v in (k1, k2, x1, x2)))
        assert (int(got[0][0]), int(got[1][0])) == want
        ref = jax.extend.random.threefry_2x32(
            (jnp.uint32(k1), jnp.uint32(k2)), jnp.array([x1, x2], jnp.uint32)
        )
        assert [int(v) for v in ref] == list(want)


@pytest.mark.parametrize("seed", [0, 1, 42, 2**31 - 1, 2**31, 2**32 - 1])
def test_keys_splits_fold_ins_and_bits_match_jit(seed):
    def fun():
        key = jax.random.key(seed)
        a, b = jax.random.split(key)
        c = jax.random.fold_in(b, 7)
        many = jax.random.split(c, (3, 2))
        return (
            a,
            c,
            many,
            jax.random.bits(a, (5, 3)),
            jax.random.bits(c, (7,), jnp.uint8),
            jax.random.bits(c, (4,), jnp.uint16),
            jax.vmap(lambda k: jax.random.bits(k, (3,)))(many.reshape(-1)),
            jax.vmap(jax.random.fold_in, in_axes=(0, 0))(many[0], jnp.arange(2)),
        )

    assert_same_bits(*both(fun))


def test_vmapped_seeds_int32_and_uint32():
    for seeds in (np.array([0, 5, -1, 2**31 - 1], np.int32), np.array([0, 2**32 - 1], np.uint32)):
        fun = jax.vmap(lambda s: jax.random.uniform(jax.random.key(s), (3, 2)))
        assert_same_bits(*both(fun, seeds))


@pytest.mark.parametrize("name", sorted(initializers.registry.names()))
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16])
def test_every_initializer_is_exact_on_the_host_or_refused(name, dtype):
    init = initializers.get(name)
    shape = (7, 7) if name in ("identity", "orthogonal") else (13, 7)
    fun = lambda k: init(k, shape, dtype)  # noqa: E731
    key = jax.random.key(3)
    uniform_or_constant = dtype == jnp.float32 and name in {
        "zeros",
        "ones",
        "constant",
        "random_uniform",
        "glorot_uniform",
        "he_uniform",
        "lecun_uniform",
        "identity",
    }
    try:
        got = host.run_on_host(fun, key)
    except host.NotOnHostError:
        assert not uniform_or_constant, f"{name} should be computed on the host"
        return
    assert_same_bits(got, jax.jit(fun)(key))


@settings(max_examples=12, deadline=None)
@given(
    shape=st.lists(st.integers(0, 9), min_size=0, max_size=3).map(tuple),
    low=st.floats(-3, 0, width=32),
    width=st.floats(0.125, 5, width=32),
    seed=st.integers(0, 2**32 - 1),
)
def test_uniform_of_any_shape_and_range_matches_jit(shape, low, width, seed):
    fun = lambda: jax.random.uniform(  # noqa: E731
        jax.random.key(seed), shape, minval=low, maxval=low + width
    )
    assert_same_bits(*both(fun))


def test_float_edge_cases_follow_xla_subnormals_zeros_nans_and_infinities():
    special = np.array([-0.0, 0.0, 1e-40, -1e-40, 1e-38, np.nan, np.inf, -np.inf, 3.0], np.float32)
    a, b = (v.reshape(-1) for v in np.meshgrid(special, special))

    def fun(a, b):
        return (
            a + b,
            a - b,
            a * b,
            a / b,
            a * np.float32(1e10),
            jnp.maximum(a, b),
            jnp.minimum(a, b),
            jnp.clip(a, -1.0, b),
            jnp.sqrt(jnp.abs(a)),
            -a,
            a < b,
            a == b,
            jnp.where(a > b, a, b),
        )

    assert_same_bits(*both(fun, a, b))


def test_a_model_builds_and_compiles_with_nothing_compiled_and_the_same_weights():
    net = serial(Dense(32, activation="relu"), Dense(64, activation="relu"), Dense(10))
    with count_compiles() as compiles:
        model = Sequential(seed=5)
        model.add(Dense(32, activation="relu", input_shape=10))
        model.add(Dense(64, activation="relu"))
        model.add(Dense(10, activation="softmax"))
        model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        params = model.params
    assert compiles == []
    ref = jax.jit(lambda k: training.init_train_state(net, None, k, (10,)))(jax.random.key(5))
    assert_same_bits(params, ref.params)
    assert_same_bits(model.opt_state, jax.jit(model.optimizer.init)(params))
    assert_same_bits(model.train_state.key, ref.key)


def test_a_normal_initializer_is_compiled_with_the_same_weights():
    model = Sequential(seed=2)
    model.add(Dense(6, kernel_initializer="he_normal", input_shape=4))
    model.add(Dense(3))
    net = serial(Dense(6, kernel_initializer="he_normal"), Dense(3))
    ref = jax.jit(lambda k: training.init_train_state(net, None, k, (4,)))(jax.random.key(2))
    assert_same_bits(model.params, ref.params)


def test_population_members_equal_sequential_models_built_on_the_host():
    def build(seed):
        m = Sequential(seed=seed)
        m.add(Dense(8, activation="relu", input_shape=3))
        m.add(Dense(2, activation="softmax"))
        m.compile(loss="categorical_crossentropy", optimizer="adam")
        return m

    with count_compiles() as compiles:
        pop = Population(build(0), 2, seeds=[4, 9])
        members = pop.train_state
    assert compiles == []
    for i, seed in enumerate((4, 9)):
        single = build(seed)
        member = jax.tree.map(lambda v, i=i: v[i], (members.params, members.opt_state))
        assert_same_bits(member, (single.params, single.opt_state))


def test_call_computes_a_metric_on_the_host_and_falls_back_for_the_rest():
    acc = metrics.get("accuracy")
    state = acc.update(
        acc.initial_state(), jnp.eye(2)[jnp.array([0, 1, 1])], jnp.array([[0.9, 0.1]] * 3)
    )
    fetched = jax.tree.map(lambda v: np.asarray(v, np.float64), state)  # as the engine has it
    with count_compiles() as compiles:
        value = host.call(acc.compute, fetched)
    assert compiles == []
    assert isinstance(value, np.ndarray) and value.dtype == np.float32
    assert float(value) == pytest.approx(1 / 3)
    exp = host.call(jnp.exp, np.float32(1.0))  # exp is XLA's approximation: computed by JAX
    assert float(exp) == float(jnp.exp(np.float32(1.0)))


def test_call_keeps_one_trace_per_function_and_argument_types():
    fun = lambda a, b: a / b  # noqa: E731
    x, y = np.float32(3), np.float32(4)
    host.call(fun, x, y)
    traces = [k for k in host._CALL_TRACES if k[0] is fun]
    assert len(traces) == 1
    first = host._CALL_TRACES[traces[0]]
    assert float(host.call(fun, np.float32(1), np.float32(8))) == 0.125
    assert host._CALL_TRACES[traces[0]] is first  # the same trace served the second call
    host.call(fun, np.ones(3, np.float32), y)  # another shape: another trace
    assert len([k for k in host._CALL_TRACES if k[0] is fun]) == 2
    members = training.over_members(fun, np.ones(4))
    assert members is training.over_members(fun, np.ones(4))  # one vmapped function per fn


def test_unsupported_programs_are_refused_not_approximated():
    for fun in (
        lambda k: jax.random.normal(k, (3,)),
        lambda k: jnp.exp(jax.random.uniform(k, (3,))),
        lambda k: jax.random.uniform(k, (3, 3)).sum(),
        lambda k: jax.random.uniform(k, (2, 3)) @ jnp.ones((3, 2)),
    ):
        with pytest.raises(host.NotOnHostError):
            host.run_on_host(fun, jax.random.key(0))
    rbg = jax.random.key(0, impl="rbg")
    with pytest.raises(host.NotOnHostError):
        host.run_on_host(lambda k: jax.random.uniform(k, (3,)), rbg)


def test_run_once_falls_back_to_compiling_and_agrees():
    fun = lambda k: (jax.random.normal(k, (4,)), jax.random.uniform(k, (4,)))  # noqa: E731
    key = jax.random.key(1)
    assert_same_bits(training.run_once(fun, key), jax.jit(fun)(key))
    out = training.run_once(lambda k: jax.random.uniform(k, (4,)), key)
    assert isinstance(out, jax.Array)  # placed on the device either way

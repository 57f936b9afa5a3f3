"""fnn.pipelines: telling pipelines from arrays, reading every kind of source as checked NumPy
batches, grouping them into chunks, and prefetching chunks on a thread."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
import warnings

import grain
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from fnn.pipelines import (
    RAN_OUT_MESSAGE,
    Chunk,
    Prefetcher,
    Source,
    check_source,
    choose_steps_per_chunk,
    chunks,
    is_pipeline,
)

N, F, B = 10, 3, 4  # examples, features, batch size: batches of 4, 4 and 2
X = np.arange(N * F, dtype=np.float32).reshape(N, F)
Y = np.arange(N, dtype=np.int32) % 3
W = np.linspace(0.5, 1.5, N).astype(np.float32)
SLICES = [slice(i, min(i + B, N)) for i in range(0, N, B)]


def batch_tuples(with_weights: bool = False) -> list[tuple[np.ndarray, ...]]:
    return [(X[s], Y[s], W[s]) if with_weights else (X[s], Y[s]) for s in SLICES]


def gen(with_weights: bool = False):
    yield from batch_tuples(with_weights)


def forever():
    while True:
        yield from batch_tuples()


class Batches:
    """Keras's PyDataset protocol, counting on_epoch_end calls; never raises IndexError."""

    def __init__(self, parts=None):
        self.parts = batch_tuples() if parts is None else parts
        self.epochs_ended = 0
        self.reads = 0

    def __len__(self):
        return len(self.parts)

    def __getitem__(self, i):
        self.reads += 1
        return self.parts[i % len(self.parts)]

    def on_epoch_end(self):
        self.epochs_ended += 1


def assert_batches(got, slices, with_weights=False, with_targets=True):
    got = list(got)
    assert len(got) == len(slices)
    for (x, y, w), s in zip(got, slices):
        np.testing.assert_array_equal(x, X[s])
        if with_targets:
            np.testing.assert_array_equal(y, Y[s])
        else:
            assert y is None
        if with_weights:
            np.testing.assert_array_equal(w, W[s])
        else:
            assert w is None


def grain_map():
    return grain.MapDataset.source(list(zip(X, Y))).batch(B)


def grain_loader():
    return grain.DataLoader(
        data_source=list(zip(X, Y)),
        sampler=grain.samplers.IndexSampler(num_records=N, shuffle=False, num_epochs=1, seed=0),
        operations=[grain.transforms.Batch(B)],
        worker_count=0,
    )


def torch_loader():
    dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(Y), torch.from_numpy(W))
    return DataLoader(dataset, batch_size=B, shuffle=False)


# -- is_pipeline / check_source ---------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        gen,
        lambda: iter(batch_tuples()),
        batch_tuples,
        Batches,
        grain_map,
        lambda: grain_map().to_iter_dataset(),
        grain_loader,
        torch_loader,
    ],
    ids=[
        "generator",
        "iterator",
        "list",
        "sequence",
        "grain-map",
        "grain-iter",
        "grain-loader",
        "torch-loader",
    ],
)
def test_pipelines_are_recognised(make):
    source = make()
    assert is_pipeline(source)
    assert check_source(source, "x") is True


def test_arrays_are_not_pipelines(tmp_path):
    memmap = np.memmap(tmp_path / "m.dat", dtype=np.float32, mode="w+", shape=(4, 2))
    for value in [
        X,
        memmap,
        jnp.ones((3, 2)),
        pd.DataFrame(X),
        torch.ones(3),
        [[1.0, 2.0], [3.0, 4.0]],
        (X, Y),
        [X, X],
        3.0,
        None,
        "abc",
    ]:
        assert not is_pipeline(value), type(value)
    assert check_source(X, "x") is False
    assert check_source([[1.0]], "x") is False


@pytest.mark.parametrize("value", [object(), {1, 2}, {"a": X}])
def test_check_source_refuses_what_is_neither(value):
    with pytest.raises(TypeError, match=r"validation_data must be NumPy or JAX arrays.*PyDataset"):
        check_source(value, "validation_data")


def test_source_refuses_arrays_and_bad_arguments():
    with pytest.raises(TypeError, match="array data"):
        Source(X)
    with pytest.raises(TypeError, match="steps for x must be an int"):
        Source(gen(), steps=2.0)
    with pytest.raises(ValueError, match="steps for x must be an int >= 1"):
        Source(gen(), steps=0)
    with pytest.raises(TypeError, match="shuffle must be a bool"):
        Source(gen(), shuffle=1)
    with pytest.raises(ValueError, match="empty sequence"):
        Source(Batches([]))


# -- every kind of source, batch by batch -----------------------------------------------------


def test_finite_generator_runs_one_epoch_then_runs_out():
    source = Source(gen(with_weights=True))
    assert source.spec is None
    assert_batches(source.batches(0), SLICES, with_weights=True)
    assert source.spec.batch_size == B
    assert source.spec.x == ((F,), np.dtype(np.float32))
    assert source.spec.w == ((), np.dtype(np.float32))
    assert not source.ran_out
    with pytest.warns(UserWarning, match="Your input ran out of data"):
        assert list(source.batches(1)) == []
    assert source.ran_out


def test_infinite_generator_with_steps_continues_across_epochs():
    source = Source(forever(), steps=2)
    assert_batches(source.batches(0), SLICES[:2])
    assert_batches(source.batches(1), [SLICES[2], SLICES[0]])
    assert not source.ran_out


def test_generator_short_of_steps_gives_what_it_has_and_warns():
    source = Source(gen(), steps=2)
    assert_batches(source.batches(0), SLICES[:2])
    with pytest.warns(UserWarning) as record:
        assert_batches(source.batches(1), SLICES[2:])
    assert str(record[0].message) == RAN_OUT_MESSAGE
    assert source.ran_out
    assert list(source.batches(2)) == []


def test_list_of_batches_is_read_every_epoch():
    source = Source(batch_tuples(with_weights=True))
    for epoch in range(2):
        assert_batches(source.batches(epoch), SLICES, with_weights=True)


def test_sequence_calls_on_epoch_end_after_each_epoch():
    data = Batches()
    source = Source(data)
    for epoch in range(3):
        assert_batches(source.batches(epoch), SLICES)
        assert data.epochs_ended == epoch + 1
    assert data.reads == 9  # len() batches an epoch, no read past the end


def test_sequence_with_steps_continues_across_epochs_and_passes():
    data = Batches()
    source = Source(data, steps=2)
    assert_batches(source.batches(0), SLICES[:2])
    assert_batches(source.batches(1), [SLICES[2], SLICES[0]])
    assert_batches(source.batches(2), SLICES[1:])
    assert data.epochs_ended == 3 and not source.ran_out
    # steps beyond len(): an epoch spans passes, each pass shuffled from (seed, pass)
    shuffled = Source(Batches(), steps=5, shuffle=True, seed=4)
    passes = [np.random.default_rng([4, p]).permutation(3) for p in range(4)]
    joined = np.concatenate(passes).tolist()
    assert shuffled.batch_order(0).tolist() == joined[:5]
    assert shuffled.batch_order(1).tolist() == joined[5:10]
    assert_batches(shuffled.batches(1), [SLICES[i] for i in joined[5:10]])


def test_sequence_shuffle_is_deterministic_from_seed_and_epoch():
    parts = [(np.full((2, 1), i, np.float32), np.full(2, i)) for i in range(12)]

    def order(seed, epoch):
        return [
            int(x[0, 0])
            for x, _, _ in Source(Batches(parts), shuffle=True, seed=seed).batches(epoch)
        ]

    for epoch in range(3):
        expected = np.random.default_rng([5, epoch]).permutation(12).tolist()
        assert order(5, epoch) == expected
        assert order(5, epoch) == expected  # a fresh Source: the same order
    assert order(5, 0) != order(5, 1)
    assert order(5, 0) != order(6, 0)
    assert sorted(order(5, 0)) == list(range(12))


def test_shuffled_sequence_with_the_short_batch_first():
    # seed 2, epoch 0 reads batches 2, 0, 1: the short batch comes first.
    assert np.random.default_rng([2, 0]).permutation(3).tolist() == [2, 0, 1]
    data = Batches()
    source = Source(data, shuffle=True, seed=2)
    got = list(source.batches(0))
    assert_batches(got, [SLICES[2], SLICES[0], SLICES[1]])
    assert source.spec.batch_size == B  # taken from batch 0, a full one
    assert data.reads == 3  # batch 0 was read once, held for its turn
    out = list(chunks(iter(got), 8))
    assert [(c.steps, c.rest, c.first_batch, c.batch_size) for c in out] == [
        (0, 2, 0, B),
        (2, 0, 1, B),
    ]


def test_grain_map_dataset_is_a_sequence():
    source = Source(grain_map())
    assert source.is_sequence
    assert_batches(source.batches(0), SLICES)
    shuffled = Source(grain_map(), shuffle=True, seed=1)
    order = np.random.default_rng([1, 1]).permutation(3)
    assert_batches(shuffled.batches(1), [SLICES[i] for i in order])


def test_grain_iter_dataset_and_loader_are_reiterated_each_epoch():
    for data in (grain_map().to_iter_dataset(), grain_loader()):
        source = Source(data)
        assert not source.is_sequence
        for epoch in range(2):
            assert_batches(source.batches(epoch), SLICES)
        assert not source.ran_out


def test_reiterable_with_steps_restarts_only_at_an_epoch_boundary():
    source = Source(grain_map().to_iter_dataset(), steps=3)
    for epoch in range(2):
        assert_batches(source.batches(epoch), SLICES)
    source = Source(grain_map().to_iter_dataset(), steps=2)
    assert_batches(source.batches(0), SLICES[:2])
    with pytest.warns(UserWarning, match="ran out of data"):
        assert_batches(source.batches(1), SLICES[2:])
    assert source.ran_out


def test_resume_from_saved_state_reads_what_an_uninterrupted_source_would():
    endless = grain_map().repeat(None).to_iter_dataset()
    straight = Source(endless, steps=2)
    first = [list(straight.batches(e)) for e in range(3)]
    stopped = Source(endless, steps=2)
    list(stopped.batches(0))
    state = stopped.get_state()
    assert state == {"iterator": {"next_index": 2}}
    resumed = Source(grain_map().repeat(None).to_iter_dataset(), steps=2)
    resumed.set_state(state)
    assert [len(b[0]) for b in first[1]] == [2, 4]  # it resumes on the short batch
    for epoch in (1, 2):
        for (x, y, _), (x0, y0, _) in zip(resumed.batches(epoch), first[epoch]):
            np.testing.assert_array_equal(x, x0)
            np.testing.assert_array_equal(y, y0)
    # the epoch number is enough for sequences and for iterables re-read every epoch
    assert Source(Batches(), steps=2, shuffle=True).get_state() == {}
    assert Source(grain_loader()).get_state() == {}
    assert Source(forever(), steps=2).get_state() is None  # a plain generator
    with pytest.raises(ValueError, match="has no set_state"):
        Source(forever(), steps=2).set_state({"iterator": {}})
    with pytest.raises(TypeError, match="state must be a dict"):
        Source(forever()).set_state(None)


def test_torch_dataloader_tensors_become_numpy_without_a_copy():
    source = Source(torch_loader())
    for epoch in range(2):
        assert_batches(source.batches(epoch), SLICES, with_weights=True)
    tensor = torch.arange(12, dtype=torch.float32).reshape(4, 3)
    x, _y, _ = next(Source(iter([(tensor, torch.zeros(4))])).batches(0))
    assert x.ctypes.data == tensor.data_ptr()
    grad = torch.ones(2, 3, requires_grad=True)
    x, _, _ = next(Source(iter([(grad, torch.zeros(2))])).batches(0))
    np.testing.assert_array_equal(x, np.ones((2, 3), np.float32))


def test_jax_arrays_and_lists_in_batches():
    source = Source(iter([(jnp.asarray(X[:4]), [0, 1, 2, 0])]))
    x, y, w = next(source.batches(0))
    assert isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
    np.testing.assert_array_equal(x, X[:4])
    assert y.tolist() == [0, 1, 2, 0] and w is None


def test_a_short_first_batch_sets_the_full_size_from_the_second():
    source = Source(iter([(X[:2], Y[:2]), (X[:4], Y[:4]), (X[:3], Y[:3])]))
    assert [len(x) for x, _, _ in source.batches(0)] == [2, 4, 3]
    assert source.spec.batch_size == 4
    source = Source(iter([(X[:2], Y[:2]), (X[:4], Y[:4]), (X[:5], Y[:5])]))
    with pytest.raises(ValueError, match="batch 2: it has 5 examples, more than"):
        list(source.batches(0))


def test_predict_keeps_x_only():
    for data in (
        iter([X[s] for s in SLICES]),
        iter([(X[s],) for s in SLICES]),
        gen(),
        gen(with_weights=True),
    ):
        assert_batches(Source(data, with_targets=False).batches(0), SLICES, with_targets=False)


# -- bad batches: errors naming the batch index -----------------------------------------------


def bad(i, part):
    parts = batch_tuples(with_weights=True)
    parts[i] = part
    return iter(parts)


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (
            bad(1, (X[:4, :2], Y[:4], W[:4])),
            ValueError,
            r"x: batch 1: x has shape \(batch, 2\) float32, expected shape \(batch, 3\) float32",
        ),
        (
            bad(2, (X[:2].astype(np.float64), Y[:2], W[:2])),
            ValueError,
            r"batch 2: x has .* float64",
        ),
        (bad(1, (X[:4], Y[:4].astype(np.int64), W[:4])), ValueError, r"batch 1: y has .* int64"),
        (
            bad(1, (X[:4], np.array([None] * 4, dtype=object), W[:4])),
            TypeError,
            r"batch 1: y must hold numbers .* dtype object",
        ),
        (
            bad(2, (np.array([["a"] * 3] * 2), Y[:2], W[:2])),
            TypeError,
            r"batch 2: x must hold numbers .* dtype <U1",
        ),
        (
            bad(2, (np.ones((5, 3), np.float32), np.zeros(5, np.int32), np.ones(5, np.float32))),
            ValueError,
            r"batch 2: it has 5 examples, more than the first batches' 4",
        ),
        (
            bad(1, (X[:4], Y[:3], W[:4])),
            ValueError,
            r"batch 1: x, y and sample_weight must have the same size: x has 4, y has 3",
        ),
        (bad(1, (X[:4], Y[:4])), ValueError, r"batch 1: sample_weight has none, expected shape"),
        (bad(0, {"x": X[:4], "y": Y[:4]}), TypeError, r"batch 0: a batch must be x or a tuple"),
        (bad(0, X[:4]), ValueError, r"batch 0: a batch for training .* got x alone"),
        (bad(1, (X[:4], Y[:4], W[:4], W[:4])), ValueError, r"batch 1: .* tuple of 4 elements"),
        (bad(1, (object(), Y[:4], W[:4])), TypeError, r"batch 1: x must be an array .* object"),
        (bad(1, (np.float32(1.0), Y[:4], W[:4])), ValueError, r"batch 1: x must have a batch axis"),
        (bad(1, (X[:0], Y[:0], W[:0])), ValueError, r"batch 1: it is empty"),
    ],
)
def test_bad_batches_name_the_batch(data, error, match):
    source = Source(data)
    got = []
    with pytest.raises(error, match=match):
        for batch in source.batches(0):
            got.append(batch)
    index = int(match.split("batch ")[1][0])
    assert len(got) == index  # every batch before the bad one came through


def test_endless_sequence_is_never_converted_and_extras_import_lazily():
    # A regression (np.asarray on the sequence) would iterate forever; under RLIMIT_AS the child
    # dies of MemoryError instead of eating the machine, and the test fails. The same child
    # checks that fnn and its pipelines work with neither torch nor grain importable.
    code = textwrap.dedent(
        """
        import resource
        import sys
        sys.modules["torch"] = None  # importing either now fails
        sys.modules["grain"] = None
        import numpy as np
        import fnn
        from fnn.pipelines import Source, is_pipeline

        class Endless:
            def __len__(self):
                return 3
            def __getitem__(self, i):
                return np.full((2, 1), i, np.float32), np.zeros(2)

        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        data = Endless()
        assert is_pipeline(data)
        source = Source(data, shuffle=True)
        for epoch in range(2):
            assert sorted(int(x[0, 0]) for x, _, _ in source.batches(epoch)) == [0, 1, 2]
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"


# -- chunks -------------------------------------------------------------------------------------


def sized(sizes):
    return [(np.full((n, 2), i, np.float32), np.full(n, i), None) for i, n in enumerate(sizes)]


@pytest.mark.parametrize(
    ("sizes", "k", "expected"),
    [
        ([4, 4, 4, 4, 4], 2, [(2, 0, 0), (2, 0, 2), (1, 0, 4)]),
        ([4, 4, 4, 2], 2, [(2, 0, 0), (1, 2, 2)]),
        ([4, 4, 2], 2, [(2, 2, 0)]),
        ([4, 2, 4, 4, 4], 8, [(1, 2, 0), (3, 0, 2)]),
        ([2, 4, 4], 1, [(0, 2, 0), (1, 0, 1), (1, 0, 2)]),
        ([3], 4, [(1, 0, 0)]),
    ],
)
def test_chunks_group_full_batches_and_end_on_a_short_one(sizes, k, expected):
    batches = sized(sizes)
    out = list(chunks(iter(batches), k))
    assert [(c.steps, c.rest, c.first_batch) for c in out] == expected
    assert all(c.batch_size == max(sizes) for c in out)
    for c in out:
        n_batches = c.steps + (1 if c.rest else 0)
        parts = batches[c.first_batch : c.first_batch + n_batches]
        np.testing.assert_array_equal(c.arrays[0], np.concatenate([p[0] for p in parts]))
        np.testing.assert_array_equal(c.arrays[1], np.concatenate([p[1] for p in parts]))
        assert c.arrays[2] is None
        assert c.arrays[0].shape[0] == c.steps * c.batch_size + c.rest


def test_chunks_with_a_given_batch_size_and_bad_k():
    out = list(chunks(iter(sized([2, 4])), 4, batch_size=4))
    assert [(c.steps, c.rest) for c in out] == [(0, 2), (1, 0)]
    for k in (0, 1.5, True):
        with pytest.raises(ValueError, match="steps_per_chunk must be an int >= 1"):
            list(chunks(iter([]), k))


# -- choose_steps_per_chunk ---------------------------------------------------------------------


def test_choose_steps_per_chunk_follows_its_rule():
    for step in (1e-6, 19e-6, 1e-3):
        k = choose_steps_per_chunk(1000, step_seconds=step, overhead_seconds=200e-6)
        assert 0.05 * k * step >= 200e-6 * (1 - 1e-9)  # the overhead is at most 5% ...
        assert k == 1 or 0.05 * (k - 1) * step < 200e-6  # ... with the fewest steps that do it
    assert choose_steps_per_chunk(10 << 20, max_chunk_bytes=64 << 20) == 6
    assert choose_steps_per_chunk(100 << 20, max_chunk_bytes=64 << 20) == 1
    assert choose_steps_per_chunk(100, max_steps=7) == 7
    with pytest.raises(ValueError, match="batch_bytes must be a number > 0"):
        choose_steps_per_chunk(0)
    with pytest.raises(ValueError, match="max_steps must be an int >= 1"):
        choose_steps_per_chunk(10, max_steps=0)


# -- Prefetcher ---------------------------------------------------------------------------------


def prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "fnn-prefetch"]


def counting_chunks(n, state, fail_at=None):
    try:
        for i in range(n):
            if i == fail_at:
                raise ValueError(f"x: batch {i}: broken")
            yield Chunk((np.full((2, 1), i), None, None), 1, 0, i, 2)
    finally:
        state["closed"] = True


def test_prefetcher_moves_every_chunk_in_order():
    state = {}
    with Prefetcher(counting_chunks(5, state), put=lambda a: (a[0] + 100, *a[1:])) as ready:
        got = [int(c.arrays[0][0, 0]) for c in ready]
    assert got == [100, 101, 102, 103, 104]
    assert state["closed"] and not prefetch_threads()


def test_prefetcher_raises_the_thread_error_at_that_chunk():
    state = {}
    got = []
    ready = Prefetcher(counting_chunks(6, state, fail_at=3), put=lambda a: a)
    with pytest.raises(ValueError, match="batch 3: broken"), ready:
        for chunk in ready:
            got.append(chunk.first_batch)
    assert got == [0, 1, 2]  # the chunks before the bad one were consumed
    assert not prefetch_threads()


def test_prefetcher_keeps_at_most_depth_chunks_ahead():
    calls = []

    def put(arrays):
        calls.append(1)
        return arrays

    def endless():
        i = 0
        while True:
            yield Chunk((np.zeros((1, 1)), None, None), 1, 0, i, 1)
            i += 1

    for depth in (1, 3):
        calls.clear()
        with Prefetcher(endless(), put, depth=depth) as ready:
            for consumed in range(1, 6):
                next(ready)
                assert len(calls) <= consumed + depth
            for _ in range(100):  # let the thread fill every free slot
                if len(calls) == 5 + depth:
                    break
                time.sleep(0.01)
            time.sleep(0.05)
            assert len(calls) == 5 + depth
        assert not prefetch_threads()


def test_prefetcher_stops_early_without_leaking_threads():
    state = {}
    before = threading.active_count()
    ready = Prefetcher(counting_chunks(1000, state), put=lambda a: a)
    next(ready)
    ready.close()
    assert not prefetch_threads()
    assert threading.active_count() == before
    assert state["closed"]  # the source generator was closed
    with pytest.raises(StopIteration):
        next(ready)


def test_prefetcher_closes_on_keyboard_interrupt_in_the_consumer():
    state = {}
    ready = Prefetcher(counting_chunks(1000, state), put=lambda a: a)
    with pytest.raises(KeyboardInterrupt), ready:
        for chunk in ready:
            if chunk.first_batch == 2:
                raise KeyboardInterrupt
    assert not prefetch_threads() and state["closed"]


def test_prefetcher_reraises_a_keyboard_interrupt_from_put():
    def put(arrays):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), Prefetcher(counting_chunks(3, {}), put) as ready:
        list(ready)
    assert not prefetch_threads()


def test_prefetcher_over_a_source_end_to_end():
    import jax

    source = Source(Batches(), shuffle=False)
    with Prefetcher(chunks(source.batches(0), 2), put=jax.device_put) as ready:
        out = list(ready)
    assert [(c.steps, c.rest) for c in out] == [(2, 2)]
    assert isinstance(out[0].arrays[0], jax.Array)
    np.testing.assert_array_equal(np.asarray(out[0].arrays[0]), X)
    with pytest.raises(ValueError, match="depth must be an int >= 1"):
        Prefetcher(iter([]), put=lambda a: a, depth=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not prefetch_threads()


# -- through fit, evaluate and predict (the engine's pipeline path) ----------------------------
FIT_RNG = np.random.default_rng(0)
FX = FIT_RNG.normal(size=(200, 10)).astype(np.float32)
FY = np.eye(3, dtype=np.float32)[FIT_RNG.integers(0, 3, 200)]
FIT_BATCH = 32  # 6 full batches and one of 8


def _model(seed=0, **compile_args):
    import fnn
    from fnn.layers import Dense, Dropout

    m = fnn.Sequential(
        [
            Dense(16, activation="relu", input_shape=10),
            Dropout(0.2),
            Dense(3, activation="softmax"),
        ],
        seed=seed,
    )
    m.compile(
        loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"], **compile_args
    )
    return m


class _Batches:
    """Keras's PyDataset protocol over FX/FY."""

    def __init__(self, x=FX, y=FY):
        self.x, self.y = x, y

    def __len__(self):
        return -(-len(self.x) // FIT_BATCH)

    def __getitem__(self, i):
        return self.x[i * FIT_BATCH : (i + 1) * FIT_BATCH], self.y[
            i * FIT_BATCH : (i + 1) * FIT_BATCH
        ]


def _array_reference(epochs=2):
    m = _model()
    h = m.fit(FX, FY, batch_size=FIT_BATCH, epochs=epochs, shuffle=False, verbose=0)
    return m, h


def _same_weights(a, b, atol=1e-6):
    for u, v in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(u, v, atol=atol, rtol=1e-5)


def _generator():
    while True:
        yield from (_Batches()[i] for i in range(7))


@pytest.mark.parametrize(
    "make,kwargs",
    [
        (lambda: _Batches(), {}),
        (_generator, {"steps_per_epoch": 7}),
        (lambda: grain.MapDataset.source(list(range(7))).map(lambda i: _Batches()[i]), {}),
        (
            lambda: DataLoader(
                TensorDataset(torch.from_numpy(FX), torch.from_numpy(FY)), batch_size=FIT_BATCH
            ),
            {},
        ),
    ],
    ids=["sequence", "generator", "grain", "torch"],
)
def test_fit_on_every_source_equals_fit_on_the_arrays(make, kwargs):
    reference, ref_history = _array_reference()
    m = _model()
    history = m.fit(make(), epochs=2, shuffle=False, verbose=0, **kwargs)
    _same_weights(reference, m)
    np.testing.assert_allclose(history.history["loss"], ref_history.history["loss"], rtol=1e-5)
    assert m.epoch == 2
    np.testing.assert_allclose(
        m.evaluate(make(), verbose=0, steps=kwargs.get("steps_per_epoch")),
        reference.evaluate(FX, FY, verbose=0),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        m.predict(make(), verbose=0, steps=kwargs.get("steps_per_epoch")),
        reference.predict(FX, verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )


def test_pipeline_validation_and_an_unbuilt_model_built_from_the_first_batch():
    import fnn
    from fnn.layers import Dense

    m = fnn.Sequential([Dense(8, activation="relu"), Dense(3, activation="softmax")])
    m.compile(loss="categorical_crossentropy", optimizer="adam")
    history = m.fit(
        _Batches(),
        epochs=2,
        verbose=0,
        validation_data=_Batches(FX[:64], FY[:64]),
        validation_steps=1,
    )
    assert m.input_shape == (10,)
    assert len(history.history["val_loss"]) == 2


def test_a_bad_batch_mid_epoch_keeps_the_steps_trained_before_it():
    m = _model(steps_per_execution=2)
    start = m.get_weights()

    def gen():
        for i in range(7):
            x, y = _Batches()[i]
            if i == 5:
                x = x.copy()
                x[3, 0] = np.nan
            yield x, y

    with pytest.raises(ValueError, match=r"batches 4-6: x holds NaN or inf \(first at row 35\)"):
        m.fit(gen(), epochs=1, verbose=0)
    assert not np.array_equal(start[0], m.get_weights()[0])  # chunks 0-1 and 2-3 trained
    assert m.epoch == 0  # the epoch did not complete


def test_a_generator_that_runs_out_stops_training_with_keras_message():
    m = _model()
    batches = iter([_Batches()[i] for i in range(7)])
    with pytest.warns(UserWarning, match="ran out of data"):
        history = m.fit(batches, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1 and m.epoch == 1


def test_resume_with_a_sequence_is_exact(tmp_path):
    import fnn

    straight = _model()
    straight.fit(_Batches(), epochs=3, verbose=0)  # shuffled batch order from (seed, epoch)
    first = _model()
    first.fit(_Batches(), epochs=1, verbose=0)
    first.save(tmp_path / "m.fnn")
    resumed = fnn.models.load_model(tmp_path / "m.fnn")
    resumed.fit(_Batches(), epochs=3, initial_epoch=resumed.epoch, verbose=0)
    _same_weights(straight, resumed, atol=0)


def test_population_on_a_pipeline_shares_its_batches():
    import fnn

    pop = fnn.Population(_model(), 2, shared_order=True)
    history = pop.fit(_Batches(), epochs=1, shuffle=False, verbose=0)
    single = _model(seed=0)
    single.fit(_Batches(), epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(
        history.history["loss"][0][0], single.history.history["loss"][0], rtol=1e-5
    )
    assert pop.predict(_Batches(), verbose=0).shape == (2, 200, 3)


def test_pipeline_arguments_are_checked():
    m = _model()
    with pytest.raises(ValueError, match="y must be None when x is a pipeline"):
        m.fit(_Batches(), FY, verbose=0)
    with pytest.raises(ValueError, match="validation_split needs arrays"):
        m.fit(_Batches(), validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="steps_per_epoch and validation_steps are for pipelines"):
        m.fit(FX, FY, steps_per_epoch=3, verbose=0)
    with pytest.raises(TypeError, match="pipeline"):
        m.fit(object(), verbose=0)
    assert m.epoch == 0

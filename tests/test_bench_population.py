"""Tests for scripts/bench_population.py's formulations: the member-batched ways of training a
population compute what per-member training computes. Nothing here asserts speed."""

from __future__ import annotations

import jax
import numpy as np
import optax
from conftest import load_script


def test_formulations_train_each_member_as_its_own_model() -> None:
    bench = load_script("bench_population.py", "fnn_bench_population_script")
    members, steps, batch = 3, 4, 8
    x, y = bench.make_data(members * steps * batch)
    xs = x.reshape(steps, members, batch, -1)
    ys = y.reshape(steps, members, batch, -1)
    tx = optax.adam(1e-2)
    params = bench.stacked_params(members)
    vmap_epoch, _ = bench.make_formulation("vmap_in_scan", members, batch, tx)
    reference, _, ref_loss = jax.jit(vmap_epoch)(params, jax.vmap(tx.init)(params), xs, ys)
    for name in ("scan_in_vmap", "einsum"):
        epoch, shared = bench.make_formulation(name, members, batch, tx)
        assert not shared
        state = jax.vmap(tx.init)(params) if name == "scan_in_vmap" else tx.init(params)
        got, _, loss = jax.jit(epoch)(params, state, xs, ys)
        np.testing.assert_allclose(float(loss), float(ref_loss), rtol=1e-5)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(reference)):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # Shared batches: every member sees member 0's batches.
    shared_epoch, shared = bench.make_formulation("shared", members, batch, tx)
    assert shared
    got, _, _ = jax.jit(shared_epoch)(params, tx.init(params), xs[:, 0], ys[:, 0])
    same = (np.broadcast_to(xs[:, :1], xs.shape), np.broadcast_to(ys[:, :1], ys.shape))
    expected, _, _ = jax.jit(vmap_epoch)(params, jax.vmap(tx.init)(params), *same)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_run_formulations_reports_every_formulation() -> None:
    bench = load_script("bench_population.py", "fnn_bench_population_script")
    results = bench.run_formulations(members=2, examples=64, batch=16, repeats=1)
    assert set(results) == set(bench.FORMULATIONS)
    assert results["one_model"]["speedup_vs_one_after_another"] == 1.0
    for res in results.values():
        assert res["member_examples_per_s"] > 0 and res["epoch_s"] > 0

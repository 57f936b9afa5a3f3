#!/usr/bin/env python
"""Benchmark a Population against training its members one after another with ``fit``.

Workload: the seed model (10-32-64-10 MLP, ReLU, softmax, categorical cross-entropy, Adam,
batch 32, accuracy metric), ``--examples`` learnable synthetic examples, ``--members`` members
with seeds ``0..N-1``.

Contenders (``--contenders``; a population name may end in ``@K`` for ``parallel_members=K``,
e.g. ``population@32``; without it the default for the device is used)
    sequential     N ``Sequential(seed=i).fit(...)`` calls one after another.
    population     ``Population(model, N).fit(...)``: own init and own shuffle order per member.
    shared_order   ``Population(model, N, shared_order=True).fit(...)``: all members see member
                   0's batch order, so the batch is gathered once and the first layer is one
                   matmul against the members' kernels side by side.

Each contender runs one warm-up epoch (compilation included, reported as ``first_epoch_s``),
then ``--epochs`` timed epochs, the contenders taking turns epoch by epoch; throughput is
member-examples per second from the fastest timed epoch (for ``sequential``: one epoch of every
member, one after another). Besides wall
time the process CPU time is recorded (``cpu_ratio_vs_sequential``): on a machine shared with
other jobs it is the steadier measure of the work each formulation needs.

Usage::

    python scripts/bench_population.py                 # 32 members, 60k examples
    python scripts/bench_population.py --quick         # tiny sizes, a few seconds
    python scripts/bench_population.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fnn.layers import Dense
from fnn.models import Sequential
from fnn.population import Population


def seed_model(seed: int) -> Sequential:
    model = Sequential(seed=seed)
    model.add(Dense(32, activation="relu", input_shape=10))
    model.add(Dense(64, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 10)).astype(np.float32)
    labels = np.argmax(x @ rng.normal(size=(10, 10)), axis=1)
    return x, np.eye(10, dtype=np.float32)[labels]


def timed(fit, epoch: int) -> tuple[float, float]:
    """Wall and process CPU seconds of ``fit(epoch)``."""
    start, start_cpu = time.perf_counter(), time.process_time()
    fit(epoch)
    return time.perf_counter() - start, time.process_time() - start_cpu


def sequential_fit(x, y, members: int, batch: int):
    """One epoch of each of ``members`` models, one after another."""
    models = [seed_model(seed) for seed in range(members)]

    def fit(epoch):
        for model in models:
            model.fit(x, y, batch_size=batch, epochs=epoch + 1, initial_epoch=epoch, verbose=0)
            jax.block_until_ready(model.params)

    return fit, {}


def population_fit(x, y, members: int, batch: int, shared: bool, parallel: int | None):
    pop = Population(seed_model(0), members, shared_order=shared, parallel_members=parallel)

    def fit(epoch):
        pop.fit(x, y, batch_size=batch, epochs=epoch + 1, initial_epoch=epoch, verbose=0)
        jax.block_until_ready(pop.params)

    return fit, {"parallel_members": pop.parallel_members}


# --------------------------------------------------------------------------------------------
# Formulations: plain JAX + Optax ways to train M seed MLPs at once (research, --formulations)
# --------------------------------------------------------------------------------------------

SIZES = (10, 32, 64, 10)


def stacked_params(members: int, seed: int = 0) -> list[tuple[jax.Array, jax.Array]]:
    """Glorot-uniform kernels and zero biases, stacked along a leading member axis."""
    keys = jax.random.split(jax.random.key(seed), len(SIZES) - 1)
    params = []
    for key, a, b in zip(keys, SIZES[:-1], SIZES[1:], strict=True):
        lim = (6.0 / (a + b)) ** 0.5
        w = jax.random.uniform(key, (members, a, b), jnp.float32, -lim, lim)
        params.append((w, jnp.zeros((members, b), jnp.float32)))
    return params


def forward_vmapped(params, x):
    """One member's logits; vmapped over members by the caller."""
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    return x @ params[-1][0] + params[-1][1]


def forward_einsum(params, x, shared: bool):
    """All members' logits with member-batched matmuls; ``x`` is (b, i) if shared else (m, b, i)."""
    (w0, b0), *rest = params
    if shared:  # one (b, i) @ (i, m*o) matmul for the first layer
        m, i, o = w0.shape
        h = (x @ w0.transpose(1, 0, 2).reshape(i, m * o)).reshape(x.shape[0], m, o)
        h = h.transpose(1, 0, 2)
    else:
        h = jnp.einsum("mbi,mio->mbo", x, w0)
    h = jax.nn.relu(h + b0[:, None])
    for j, (w, b) in enumerate(rest):
        h = jnp.einsum("mbi,mio->mbo", h, w) + b[:, None]
        h = jax.nn.relu(h) if j < len(rest) - 1 else h
    return h


def make_formulation(name: str, members: int, batch: int, tx):
    """An epoch function ``(params, opt_state, xs, ys) -> (params, opt_state, loss)``.

    ``xs`` is (steps, members, batch, features) per member, or (steps, batch, features) when
    the formulation shares each batch among the members.
    """
    shared = name.startswith("shared")

    def member_loss(p, x, y):
        return optax.softmax_cross_entropy(forward_vmapped(p, x), y).mean()

    if name == "vmap_in_scan":  # scan over steps of a vmapped step (what Population does)

        def one_step(p, s, x, y):
            loss, g = jax.value_and_grad(member_loss)(p, x, y)
            u, s = tx.update(g, s, p)
            return optax.apply_updates(p, u), s, loss

        def epoch(params, opt_state, xs, ys):
            def body(c, b):
                p, s, loss = jax.vmap(one_step)(*c, *b)
                return (p, s), loss.mean()

            (params, opt_state), losses = jax.lax.scan(body, (params, opt_state), (xs, ys))
            return params, opt_state, losses.mean()

        return epoch, False

    if name == "scan_in_vmap":  # one scan per member, vmapped: members outermost

        def member_epoch(p, s, xs, ys):
            def body(c, b):
                loss, g = jax.value_and_grad(member_loss)(c[0], *b)
                u, s = tx.update(g, c[1], c[0])
                return (optax.apply_updates(c[0], u), s), loss

            (p, s), losses = jax.lax.scan(body, (p, s), (xs, ys))
            return p, s, losses.mean()

        def epoch(params, opt_state, xs, ys):
            p, s, loss = jax.vmap(member_epoch, in_axes=(0, 0, 1, 1))(params, opt_state, xs, ys)
            return p, s, loss.mean()

        return epoch, False

    # einsum / shared: one loss over all members (their sum: each member's gradient is its own)
    def total_loss(p, x, y):
        z = forward_einsum(p, x, shared)
        yy = jnp.broadcast_to(y, z.shape) if shared else y
        return optax.softmax_cross_entropy(z, yy).mean(axis=1).sum()

    def epoch(params, opt_state, xs, ys):
        def body(c, b):
            loss, g = jax.value_and_grad(total_loss)(c[0], *b)
            u, s = tx.update(g, c[1], c[0])
            return (optax.apply_updates(c[0], u), s), loss / members

        (params, opt_state), losses = jax.lax.scan(body, (params, opt_state), (xs, ys))
        return params, opt_state, losses.mean()

    return epoch, shared


FORMULATIONS = (
    "one_model",
    "vmap_in_scan",
    "scan_in_vmap",
    "einsum",
    "einsum_flat",
    "shared",
    "shared_flat",
)


def run_formulations(members: int, examples: int, batch: int, repeats: int) -> dict:
    """Time each formulation's epoch, taking turns; member-examples/s and ×(M single fits).

    ``one_model`` is one model's hand-written scan epoch; M of them in a row is the reference
    (``speedup_vs_one_after_another``). Adam everywhere; ``*_flat`` wraps it in
    ``optax.flatten`` (one flat vector for all members' parameters: fewer, larger ops).
    """
    steps = examples // batch
    rng = np.random.default_rng(0)
    x, y = make_data(steps * batch)
    order = np.stack([rng.permutation(steps * batch) for _ in range(members)])  # (m, n)
    per_member = (
        jnp.asarray(x[order].reshape(members, steps, batch, -1).swapaxes(0, 1)),
        jnp.asarray(y[order].reshape(members, steps, batch, -1).swapaxes(0, 1)),
    )
    shared_data = (
        jnp.asarray(x[order[0]].reshape(steps, batch, -1)),
        jnp.asarray(y[order[0]].reshape(steps, batch, -1)),
    )
    runs = {}
    for name in FORMULATIONS:
        tx = optax.adam(1e-3)
        if name.endswith("_flat"):
            tx = optax.flatten(tx)
        m = 1 if name == "one_model" else members
        params = stacked_params(m)
        if name == "one_model":
            epoch, data = (
                make_formulation("einsum", 1, batch, tx)[0],
                (per_member[0][:, :1], per_member[1][:, :1]),
            )
        else:
            epoch, shared = make_formulation(name.removesuffix("_flat"), m, batch, tx)
            data = shared_data if shared else per_member
        vmapped = name in ("vmap_in_scan", "scan_in_vmap")  # per-member optimizer state
        opt_state = jax.vmap(tx.init)(params) if vmapped else tx.init(params)
        runs[name] = [jax.jit(epoch, donate_argnums=(0, 1)), params, opt_state, data, []]
    for r in range(repeats + 1):
        for run in runs.values():
            fn, params, opt_state, data, times = run
            start, start_cpu = time.perf_counter(), time.process_time()
            params, opt_state, loss = fn(params, opt_state, *data)
            jax.block_until_ready(loss)
            run[1], run[2] = params, opt_state
            if r:
                times.append((time.perf_counter() - start, time.process_time() - start_cpu))
    results = {}
    for name, (_, _, _, _, times) in runs.items():
        m = 1 if name == "one_model" else members
        wall, cpu = min(t[0] for t in times), min(t[1] for t in times)
        results[name] = {
            "epoch_s": wall,
            "epoch_cpu_s": cpu,
            "member_examples_per_s": m * steps * batch / wall,
            "member_examples_per_cpu_s": m * steps * batch / cpu,
        }
    one = results["one_model"]
    for res in results.values():
        res["speedup_vs_one_after_another"] = (
            res["member_examples_per_s"] / one["member_examples_per_s"]
        )
        res["cpu_speedup_vs_one_after_another"] = (
            res["member_examples_per_cpu_s"] / one["member_examples_per_cpu_s"]
        )
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=32)
    parser.add_argument("--examples", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs after the warm-up")
    parser.add_argument(
        "--contenders", default="sequential,population,shared_order,population@32,shared_order@32"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument(
        "--formulations",
        action="store_true",
        help="instead: time plain JAX + Optax formulations of the population (research)",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.members, args.examples, args.epochs = 4, 2048, 1
    if args.formulations:
        results = run_formulations(args.members, args.examples, args.batch, args.epochs)
        for name, res in results.items():
            print(
                f"{name:>14}: {res['member_examples_per_s'] / 1e6:6.2f}M member-examples/s, "
                f"{res['speedup_vs_one_after_another']:.2f}x one after another (wall), "
                f"{res['cpu_speedup_vs_one_after_another']:.2f}x (process CPU time)",
                flush=True,
            )
        report = {
            "config": vars(args) | {"json": str(args.json) if args.json else None},
            "device": str(jax.devices()[0]),
            "jax": jax.__version__,
            "formulations": results,
        }
        if args.json:
            args.json.write_text(json.dumps(report, indent=1))
        return report
    x, y = make_data(args.examples)
    fits = {}
    for name in args.contenders.split(","):
        if name == "sequential":
            fits[name] = sequential_fit(x, y, args.members, args.batch)
        elif name.split("@")[0] in ("population", "shared_order"):
            kind, _, k = name.partition("@")
            parallel = int(k) if k else None
            shared = kind == "shared_order"
            fits[name] = population_fit(x, y, args.members, args.batch, shared, parallel)
        else:
            raise SystemExit(f"unknown contender {name!r}")
    # Epoch 0 warms up (compiles); then the contenders take turns epoch by epoch, so a change
    # in the machine's load (it may be shared) falls on all of them alike.
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in fits}
    for epoch in range(args.epochs + 1):
        for name, (fit, _) in fits.items():
            times[name].append(timed(fit, epoch))
    results: dict[str, dict] = {}
    for name, (_, info) in fits.items():
        first, *rest = times[name]
        res = {
            **info,
            "first_epoch_s": first[0],
            "epoch_s": min(t[0] for t in rest),
            "epoch_cpu_s": min(t[1] for t in rest),
            "epochs_s": [t[0] for t in rest],
        }
        res["member_examples_per_s"] = args.members * args.examples / res["epoch_s"]
        results[name] = res
        print(
            f"{name:>16}: {res['member_examples_per_s'] / 1e6:6.2f}M member-examples/s "
            f"(epoch of all members {res['epoch_s']:.3f}s, "
            f"first epoch {res['first_epoch_s']:.2f}s)",
            flush=True,
        )
    if "sequential" in results:
        base = results["sequential"]
        for name, res in results.items():
            res["speedup_vs_sequential"] = (
                res["member_examples_per_s"] / base["member_examples_per_s"]
            )
            res["cpu_ratio_vs_sequential"] = base["epoch_cpu_s"] / res["epoch_cpu_s"]
            print(
                f"{name:>16}: {res['speedup_vs_sequential']:.2f}x sequential (wall), "
                f"{res['cpu_ratio_vs_sequential']:.2f}x (process CPU time)"
            )
    report = {
        "config": vars(args) | {"json": str(args.json) if args.json else None},
        "device": str(jax.devices()[0]),
        "jax": jax.__version__,
        "machine": platform.processor() or platform.machine(),
        "results": results,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()

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
import numpy as np

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
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.members, args.examples, args.epochs = 4, 2048, 1
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

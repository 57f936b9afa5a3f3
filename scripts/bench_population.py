#!/usr/bin/env python
"""Benchmark a Population against training its members one after another with ``fit``.

Workload: the seed model (10-32-64-10 MLP, ReLU, softmax, categorical cross-entropy, Adam,
batch 32, accuracy metric), ``--examples`` learnable synthetic examples, ``--members`` members
with seeds ``0..N-1``.

Contenders
    sequential     N ``Sequential(seed=i).fit(...)`` calls one after another.
    population     ``Population(model, N).fit(...)``: own init and own shuffle order per member.
    shared_order   ``Population(model, N, shared_order=True).fit(...)``: all members see member
                   0's batch order, so the batch is gathered once and the first layer is one
                   matmul against the members' kernels side by side.

Each contender runs one warm-up epoch (compilation included, reported as ``first_epoch_s``),
then ``--epochs`` timed epochs; throughput is member-examples per second from the median timed
epoch (for ``sequential``: the sum over members of each member's median epoch).

Usage::

    python scripts/bench_population.py                 # 32 members, 60k examples
    python scripts/bench_population.py --quick         # tiny sizes, a few seconds
    python scripts/bench_population.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
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


def timed_epochs(fit, epochs: int) -> tuple[float, list[float]]:
    """Run ``fit(epoch)`` for a warm-up epoch and ``epochs`` timed ones; block on each."""
    times = []
    for epoch in range(epochs + 1):
        start = time.perf_counter()
        fit(epoch)
        times.append(time.perf_counter() - start)
    return times[0], times[1:]


def bench_sequential(x, y, members: int, batch: int, epochs: int) -> dict:
    first, per_epoch = 0.0, 0.0
    for seed in range(members):
        model = seed_model(seed)

        def fit(epoch, model=model):
            model.fit(x, y, batch_size=batch, epochs=epoch + 1, initial_epoch=epoch, verbose=0)
            jax.block_until_ready(model.params)

        f, times = timed_epochs(fit, epochs)
        first += f
        per_epoch += statistics.median(times)
    return {"first_epoch_s": first, "epoch_s": per_epoch}


def bench_population(x, y, members: int, batch: int, epochs: int, shared: bool) -> dict:
    pop = Population(seed_model(0), members, shared_order=shared)

    def fit(epoch):
        pop.fit(x, y, batch_size=batch, epochs=epoch + 1, initial_epoch=epoch, verbose=0)
        jax.block_until_ready(pop.params)

    first, times = timed_epochs(fit, epochs)
    return {"first_epoch_s": first, "epoch_s": statistics.median(times), "epochs_s": times}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=32)
    parser.add_argument("--examples", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs after the warm-up")
    parser.add_argument("--contenders", default="sequential,population,shared_order")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.members, args.examples, args.epochs = 4, 2048, 1
    x, y = make_data(args.examples)
    results: dict[str, dict] = {}
    for name in args.contenders.split(","):
        if name == "sequential":
            res = bench_sequential(x, y, args.members, args.batch, args.epochs)
        elif name in ("population", "shared_order"):
            shared = name == "shared_order"
            res = bench_population(x, y, args.members, args.batch, args.epochs, shared)
        else:
            raise SystemExit(f"unknown contender {name!r}")
        res["member_examples_per_s"] = args.members * args.examples / res["epoch_s"]
        results[name] = res
        print(
            f"{name:>13}: {res['member_examples_per_s'] / 1e6:6.2f}M member-examples/s "
            f"(epoch of all members {res['epoch_s']:.3f}s, "
            f"first epoch {res['first_epoch_s']:.2f}s)",
            flush=True,
        )
    if "sequential" in results:
        base = results["sequential"]["member_examples_per_s"]
        for name, res in results.items():
            res["speedup_vs_sequential"] = res["member_examples_per_s"] / base
            print(f"{name:>13}: {res['speedup_vs_sequential']:.2f}x sequential")
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

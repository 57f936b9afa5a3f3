#!/usr/bin/env python
"""Data-parallel scaling of ``fit``: examples/s and efficiency on 1, 2, 4, 8 devices.

Each device count runs in its own subprocess (JAX fixes the device count when it starts). By
default the subprocesses see the real devices (``jax.devices()``, the first N of them); with
``--cpu-devices`` they run on N virtual CPU devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=N``), which share the host's cores: such a
run checks the machinery and measures its overhead, it cannot show a speed-up beyond the number
of cores.

Workload: an MLP (``--layers``, default 784-1024-1024-10), ReLU, softmax, categorical
cross-entropy, Adam, ``Sequential.fit(shuffle=True, verbose=0)`` with
``distribution=fnn.distributed.DataParallel(devices)``. Weak scaling (default): the per-device
batch is fixed and the global batch is ``N * --per-device-batch``; strong scaling
(``--scaling strong``): the global batch is fixed at ``--per-device-batch`` times the largest N.
One warm-up epoch (compilation), then ``--epochs`` timed epochs; the median counts.
``efficiency = examples_per_s(N) / (N * examples_per_s(1))``.

Usage::

    python scripts/bench_scaling.py --cpu-devices --quick       # seconds, any machine
    python scripts/bench_scaling.py --json scaling.json         # real devices

From Python (e.g. ``scripts/bench.py``)::

    from bench_scaling import scaling_table, format_table
    rows = scaling_table(devices=(1, 2, 4, 8), cpu_devices=True)
    print(format_table(rows))
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


def _worker(cfg: dict[str, Any]) -> dict[str, Any]:
    """Runs inside the subprocess: time ``fit`` on ``cfg["devices"]`` devices."""
    import jax
    import numpy as np

    try:
        import fnn
    except ModuleNotFoundError:
        sys.path.insert(0, str(REPO_ROOT))
        import fnn

    n_dev = cfg["devices"]
    available = jax.devices()
    if len(available) < n_dev:
        return {"devices": n_dev, "error": f"only {len(available)} devices available"}
    sizes = cfg["layers"]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(cfg["examples"], sizes[0])).astype(np.float32)
    y = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], cfg["examples"])]
    model = fnn.Sequential(seed=0)
    model.add(fnn.layers.Dense(sizes[1], activation="relu", input_shape=sizes[0]))
    for units in sizes[2:-1]:
        model.add(fnn.layers.Dense(units, activation="relu"))
    model.add(fnn.layers.Dense(sizes[-1], activation="softmax"))
    model.compile(
        optimizer="adam",
        loss="categorical_crossentropy",
        distribution=fnn.distributed.DataParallel(available[:n_dev]),
    )
    batch = cfg["global_batch"]
    times: list[float] = []

    class EpochTimer(fnn.callbacks.Callback):
        # on_epoch_end runs after the epoch's logs reached the host: the epoch has finished.
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    model.fit(x, y, batch_size=batch, epochs=cfg["epochs"] + 1, verbose=0, callbacks=[EpochTimer()])
    epoch_s = statistics.median(times[1:])
    return {
        "devices": n_dev,
        "platform": available[0].platform,
        "global_batch": batch,
        "per_device_batch": batch // n_dev,
        "examples": cfg["examples"],
        "compile_s": times[0],
        "epoch_s": epoch_s,
        "examples_per_s": cfg["examples"] / epoch_s,
    }


def scaling_table(
    devices: Sequence[int] = (1, 2, 4, 8),
    *,
    cpu_devices: bool = False,
    layers: Sequence[int] = (784, 1024, 1024, 10),
    per_device_batch: int = 128,
    scaling: str = "weak",
    steps: int = 16,
    epochs: int = 3,
    timeout_s: float = 600.0,
) -> list[dict[str, Any]]:
    """Time ``fit`` with DataParallel on each device count; one row per count.

    Each row holds ``devices``, ``global_batch``, ``examples_per_s``, ``epoch_s``, ``compile_s``
    and ``efficiency`` (relative to the first row scaled by device count), or ``error``.
    Every epoch has ``steps`` steps of the largest global batch.
    """
    if scaling not in ("weak", "strong"):
        raise ValueError(f"scaling must be 'weak' or 'strong', got {scaling!r}.")
    devices = list(devices)
    examples = steps * per_device_batch * max(devices)
    rows = []
    for n in devices:
        batch = per_device_batch * (n if scaling == "weak" else max(devices))
        cfg = {
            "devices": n,
            "layers": list(layers),
            "examples": examples,
            "global_batch": batch,
            "epochs": epochs,
        }
        env = dict(os.environ)
        if cpu_devices:
            count = f"--xla_force_host_platform_device_count={n}"  # beside the user's flags
            env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {count}".strip()
            env["JAX_PLATFORMS"] = "cpu"
        try:
            proc = subprocess.run(
                [sys.executable, __file__, "--worker", json.dumps(cfg)],
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired:
            rows.append({"devices": n, "error": f"timed out after {timeout_s:.0f} s"})
            continue
        if proc.returncode != 0:
            rows.append({"devices": n, "error": proc.stderr.strip().splitlines()[-1:]})
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    base = next((r for r in rows if "examples_per_s" in r), None)
    for r in rows:
        if base is not None and "examples_per_s" in r:
            ideal = base["examples_per_s"] * r["devices"] / base["devices"]
            r["efficiency"] = r["examples_per_s"] / ideal
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows of :func:`scaling_table` as a Markdown table."""
    lines = [
        "| devices | global batch | examples/s | epoch s | compile s | efficiency |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['devices']} | error: {r['error']} | | | | |")
            continue
        lines.append(
            f"| {r['devices']} | {r['global_batch']} | {r['examples_per_s']:,.0f} | "
            f"{r['epoch_s']:.3f} | {r['compile_s']:.2f} | {r['efficiency']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--devices", default="1,2,4,8", help="device counts (default 1,2,4,8)")
    parser.add_argument("--cpu-devices", action="store_true", help="N virtual CPU devices")
    parser.add_argument("--layers", default="784,1024,1024,10", help="MLP sizes")
    parser.add_argument("--per-device-batch", type=int, default=128)
    parser.add_argument("--scaling", choices=("weak", "strong"), default="weak")
    parser.add_argument("--steps", type=int, default=16, help="steps per epoch at the most devices")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs (after one warm-up)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: 32-64-10, batch 16")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(json.loads(args.worker))))
        return 0
    if args.quick:
        args.layers, args.per_device_batch, args.steps, args.epochs = "32,64,10", 16, 8, 2
    rows = scaling_table(
        [int(n) for n in args.devices.split(",")],
        cpu_devices=args.cpu_devices,
        layers=[int(n) for n in args.layers.split(",")],
        per_device_batch=args.per_device_batch,
        scaling=args.scaling,
        steps=args.steps,
        epochs=args.epochs,
    )
    print(format_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

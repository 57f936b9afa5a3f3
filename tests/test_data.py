"""fnn.data: epoch order, placement, streaming of memory-mapped data bigger than memory."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from fnn import data

ROOT = Path(__file__).resolve().parents[1]


def test_bucket_rows_bounds_the_padding():
    for n in (1, 31, 32, 33, 500, 1000, 60000, 123457):
        rows = data.bucket_rows(n, 32)
        assert rows >= n and rows % 32 == 0
        assert rows - n < max(32 * 16, n / 8 + 32)


def test_memmaps_always_stream_and_are_recognised(tmp_path):
    m = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32, shape=(100, 4))
    assert data.is_mapped(m) and data.is_mapped(np.asarray(m)[10:20])
    assert not data.is_mapped(np.ones((100, 4)))
    placement = data.place([np.asarray(m), None], 32, None)
    assert placement.device is None or m.nbytes <= data.MAPPED_CHUNK_BYTES


def test_fit_on_a_memmap_larger_than_the_memory_cap_keeps_memory_flat(tmp_path):
    """A 480 MB memory-mapped data set trains in a process whose address space may grow by
    only 320 MB after warm-up: streamed in chunks, never read whole (the finite check too)."""
    script = textwrap.dedent(
        f"""
        import resource, numpy as np, fnn
        from fnn.layers import Dense
        n, f = 1_875_000, 64  # 480 MB of float32
        x = np.lib.format.open_memmap({str(tmp_path / "x.npy")!r}, mode="w+",
                                      dtype=np.float32, shape=(n, f))
        for s in range(0, n, 250_000):
            x[s : s + 250_000] = 0.01
        y = np.lib.format.open_memmap({str(tmp_path / "y.npy")!r}, mode="w+",
                                      dtype=np.float32, shape=(n, 1))
        m = fnn.Sequential([Dense(1, input_shape=f)], seed=0)
        m.compile(optimizer="sgd", loss="mse")
        m.fit(x[:4096], y[:4096], batch_size=4096, epochs=1, verbose=0)  # warm-up, compiled
        with open("/proc/self/status") as fh:
            vm = next(int(l.split()[1]) for l in fh if l.startswith("VmSize")) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (vm + (320 << 20), resource.RLIM_INFINITY))
        h = m.fit(x, y, batch_size=4096, epochs=1, verbose=0, shuffle=False)
        print("loss", h.history["loss"][0])
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "FNN_COMPILATION_CACHE": "0"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "loss" in proc.stdout

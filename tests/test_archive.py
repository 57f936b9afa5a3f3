"""fnn.archive: atomic writes, safe reading, and hostile files refused at bounded cost."""

from __future__ import annotations

import os
import pathlib
import queue
import signal
import subprocess
import sys
import threading

import jax.numpy as jnp
import numpy as np
import pytest

import fnn
from fnn import archive, saving
from fnn.models import load_model

REPO = pathlib.Path(fnn.__file__).resolve().parents[1]


# -- atomic saves ----------------------------------------------------------------------------
CHILD_PRELUDE = """
import sys, time
import numpy as np
from fnn import archive
from fnn.layers import Dense
from fnn.models import Sequential
path = sys.argv[1]
model = Sequential([Dense(256, input_shape=256), Dense(256)], seed=0)
model.compile(optimizer="adam", loss="mse")
def fill(value):
    model.set_weights([np.full_like(w, value) for w in model.get_weights()])
    model.epoch = value
"""

CHILD_SLOW = (
    CHILD_PRELUDE
    + """
fill(1)
model.save(path)
print("saved", flush=True)
written = []
original = archive._write_member
def stalling(zf, name, data):
    original(zf, name, data)
    written.append(name)
    if len(written) == 3:  # the temporary archive is half written: stall until killed
        print("mid-write", flush=True)
        time.sleep(120)
archive._write_member = stalling
fill(2)
model.save(path)
"""
)

CHILD_LOOP = (
    CHILD_PRELUDE
    + """
for i in range(1, 100000):
    fill(i)
    model.save(path)
    print("saved", i, flush=True)
"""
)


def _start_child(code: str, path: pathlib.Path) -> tuple[subprocess.Popen, queue.Queue]:
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(s.strip()) for s in proc.stdout], daemon=True
    ).start()
    return proc, lines


def _wait_for(lines: queue.Queue, prefix: str, timeout: float = 120) -> str:
    while True:
        line = lines.get(timeout=timeout)  # queue.Empty fails the test if the child stalls
        if line.startswith(prefix):
            return line


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def test_a_save_killed_mid_write_leaves_the_previous_file_loadable(tmp_path):
    path = tmp_path / "ckpt.fnn"
    proc, lines = _start_child(CHILD_SLOW, path)
    try:
        _wait_for(lines, "saved")
        previous = path.read_bytes()
        _wait_for(lines, "mid-write")
        partial = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert len(partial) == 1 and partial[0].stat().st_size > 0  # killed while writing
    finally:
        _kill(proc)
    assert path.read_bytes() == previous
    loaded = load_model(path)
    assert loaded.epoch == 1 and all(np.all(w == 1) for w in loaded.get_weights())
    with pytest.raises(ValueError, match=r"not a (valid )?fnn file"):
        load_model(partial[0])  # the torn temporary file itself is refused, not half-read


def test_a_save_loop_killed_at_any_moment_leaves_a_whole_checkpoint(tmp_path):
    path = tmp_path / "ckpt.fnn"
    proc, lines = _start_child(CHILD_LOOP, path)
    try:
        _wait_for(lines, "saved 5")
    finally:
        _kill(proc)
    loaded = load_model(path)
    assert loaded.epoch >= 5
    # One whole save, not a mixture of two: every array holds that save's value.
    assert all(np.all(w == loaded.epoch) for w in loaded.get_weights())


def test_the_format_never_imports_pickle_machinery():
    for module in (archive, saving):
        source = pathlib.Path(module.__file__).read_text()
        assert "allow_pickle=True" not in source and "import pickle" not in source
        assert "eval(" not in source


def test_bfloat16_arrays_survive_the_archive(tmp_path):
    array = jnp.arange(6, dtype=jnp.bfloat16).reshape(2, 3) / 3
    leaves = [("[0]", np.asarray(array))]
    config = {"layers": [], "arrays": {"params": archive.manifest(leaves), "state": []}}
    archive.write_archive(
        tmp_path / "w", archive.WEIGHTS_FORMAT, config, {"params": [leaves[0][1]]}
    )
    (read,) = archive.read_archive(tmp_path / "w", archive.WEIGHTS_FORMAT).arrays["params"]
    assert read.dtype == jnp.bfloat16 and np.array_equal(read, np.asarray(array))

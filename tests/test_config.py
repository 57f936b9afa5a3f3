"""Tests for fnn.config: the persistent compilation cache fnn turns on at import.

Every behaviour that depends on what happens at import runs in a fresh child process with a
temporary ``XDG_CACHE_HOME``; the child counts JAX's public monitoring events for cache hits
and cache writes (``/jax/compilation_cache/cache_hits`` and ``.../cache_misses``, the latter
recorded when a compiled program is written to the cache).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fnn import config

REPO_ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys
import jax
import jax.monitoring

counts = {"hits": 0, "writes": 0}
EVENTS = {"/jax/compilation_cache/cache_hits": "hits", "/jax/compilation_cache/cache_misses": "writes"}

def on_event(event, **kwargs):
    if event in EVENTS:
        counts[EVENTS[event]] += 1

jax.monitoring.register_event_listener(on_event)
mode = sys.argv[1]

import numpy as np
import fnn

if mode == "off-at-runtime":
    fnn.config.set_compilation_cache(False)
model = fnn.Sequential(
    [fnn.layers.Dense(4, activation="relu", input_shape=3), fnn.layers.Dense(2, activation="softmax")],
    seed=0,
)
model.compile(optimizer="adam", loss="categorical_crossentropy")
x = np.linspace(-1, 1, 96, dtype=np.float32).reshape(32, 3)
y = np.eye(2, dtype=np.float32)[np.arange(32) % 2]
history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
model.evaluate(x, y, batch_size=8, verbose=0)
print(json.dumps({
    **counts,
    "dir": fnn.config.compilation_cache_dir(),
    "min_compile_time": jax.config.jax_persistent_cache_min_compile_time_secs,
    "max_size": jax.config.jax_compilation_cache_max_size,
    "loss": history.history["loss"][-1],
}))
"""


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The test process's environment with a temporary cache home and no cache settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JAX_COMPILATION_CACHE", "JAX_PERSISTENT_CACHE", config.ENV_VAR))
    }
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
    env["JAX_PLATFORMS"] = "cpu"
    env.update(extra)
    return env


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """Start the child script in a fresh interpreter."""
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, *(args or ("default",))],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """Wait for a child and return the JSON it printed."""
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def run_child(env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run the child script to the end and return what it reported."""
    return finish(start(env, *args))


def cache_files(root: Path) -> set[str]:
    """Names of the compiled programs stored under ``root`` (any depth)."""
    return {p.name for p in root.rglob("*-cache")} if root.exists() else set()


def test_default_dir_follows_xdg_cache_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert config.default_cache_dir().parent == tmp_path / "fnn" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    home = Path(os.path.expanduser("~"))
    assert config.default_cache_dir().parent == home / ".cache" / "fnn" / "jax"


def test_processes_share_the_cache_and_a_later_one_compiles_nothing(tmp_path: Path) -> None:
    env = child_env(tmp_path)
    a, b = start(env), start(env)  # two processes filling one fresh cache at once
    first, second = finish(a), finish(b)
    root = tmp_path / "xdg" / "fnn" / "jax"
    assert first["dir"] is not None and Path(first["dir"]).parent == root
    assert first["min_compile_time"] == 0.0 and first["max_size"] == config.DEFAULT_MAX_SIZE
    assert first["loss"] == second["loss"]
    written = cache_files(root)
    assert max(first["writes"], second["writes"]) > 0
    assert len(written) <= first["writes"] + second["writes"]
    later = run_child(env)
    assert later["writes"] == 0
    assert later["hits"] >= max(first["writes"], second["writes"])
    assert cache_files(root) == written
    assert later["loss"] == first["loss"]


def test_environment_variable_turns_it_off_or_moves_it(tmp_path: Path) -> None:
    off = run_child(child_env(tmp_path, FNN_COMPILATION_CACHE="0"))
    assert off["dir"] is None and off["writes"] == 0 and off["hits"] == 0
    assert not (tmp_path / "xdg").exists()
    elsewhere = tmp_path / "elsewhere"
    moved = run_child(child_env(tmp_path, FNN_COMPILATION_CACHE=str(elsewhere)))
    assert moved["dir"] == str(elsewhere)
    assert len(cache_files(elsewhere)) == moved["writes"] > 0
    assert not (tmp_path / "xdg").exists()


def test_set_compilation_cache_false_at_run_time(tmp_path: Path) -> None:
    report = run_child(child_env(tmp_path), "off-at-runtime")
    assert report["dir"] is None and report["writes"] == 0
    assert cache_files(tmp_path / "xdg") == set()


def test_users_own_jax_setting_wins(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    by_env = run_child(child_env(tmp_path, JAX_COMPILATION_CACHE_DIR=str(mine)))
    assert by_env["dir"] == str(mine)
    assert by_env["min_compile_time"] == 1.0  # JAX's own threshold left alone
    assert by_env["max_size"] == -1
    assert not (tmp_path / "xdg").exists()


def test_bad_environment_value_is_a_value_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import fnn"],
        env=child_env(tmp_path, FNN_COMPILATION_CACHE="maybe"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert "ValueError" in proc.stderr and "FNN_COMPILATION_CACHE" in proc.stderr
    assert "'maybe'" in proc.stderr


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"cache": 3}, TypeError, "cache must be True, False or a directory path, got int"),
        ({"cache": ""}, ValueError, "empty path"),
        ({"cache": True, "max_size": 0}, ValueError, "max_size must be a positive"),
        ({"cache": True, "max_size": 1.5}, TypeError, "max_size must be an int"),
    ],
)
def test_set_compilation_cache_rejects_bad_arguments(
    kwargs: dict[str, Any], error: type[Exception], words: str
) -> None:
    before = config.compilation_cache_dir()
    with pytest.raises(error, match=words):
        config.set_compilation_cache(**kwargs)
    assert config.compilation_cache_dir() == before

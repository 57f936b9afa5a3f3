"""fnn.archive: atomic writes, safe reading, and hostile files refused at bounded cost."""

from __future__ import annotations

import io
import json
import os
import pathlib
import queue
import signal
import struct
import subprocess
import sys
import threading
import zipfile
import zlib

import jax.numpy as jnp
import numpy as np
import pytest
from conftest import make_classification, npy_bytes, seed_model, zip_members

import fnn
from fnn import archive, saving
from fnn.callbacks import ModelCheckpoint
from fnn.layers import Dense
from fnn.models import Sequential, load_model

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


# -- Ctrl-C during a save --------------------------------------------------------------------
def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def _interrupt_at(step: str, monkeypatch) -> None:
    """Make the next save raise KeyboardInterrupt at ``step``."""
    if step == "third-member":
        original, written = archive._write_member, []

        def writing(zf, name, data):
            written.append(name)
            if len(written) == 3:
                raise KeyboardInterrupt
            original(zf, name, data)

        monkeypatch.setattr(archive, "_write_member", writing)
    elif step == "zip-opened":  # the temporary file exists, nothing is written yet
        monkeypatch.setattr(archive.zipfile, "ZipFile", _interrupt)
    else:
        monkeypatch.setattr(archive.os, {"fsync": "fsync", "rename": "replace"}[step], _interrupt)


@pytest.mark.parametrize("step", ["zip-opened", "third-member", "fsync", "rename"])
def test_ctrl_c_during_a_save_leaves_no_tmp_file_and_no_open_descriptor(
    step, tmp_path, monkeypatch
):
    model = seed_model()
    path = tmp_path / "m.fnn"
    model.save(path)
    previous = path.read_bytes()
    before = _open_descriptors()
    _interrupt_at(step, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    monkeypatch.undo()
    assert _open_descriptors() == before
    assert os.listdir(tmp_path) == ["m.fnn"]
    assert path.read_bytes() == previous


def test_ctrl_c_during_a_model_checkpoint_save_leaves_the_last_checkpoint(tmp_path, monkeypatch):
    x, y, _ = make_classification(64)
    model = seed_model()
    ckpt = ModelCheckpoint(tmp_path / "ckpt.fnn", monitor="loss")
    model.fit(x, y, epochs=1, callbacks=[ckpt], verbose=0)
    previous = (tmp_path / "ckpt.fnn").read_bytes()
    before = _open_descriptors()
    _interrupt_at("third-member", monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=2, initial_epoch=1, callbacks=[ckpt], verbose=0)
    monkeypatch.undo()
    assert _open_descriptors() == before
    assert os.listdir(tmp_path) == ["ckpt.fnn"]
    assert (tmp_path / "ckpt.fnn").read_bytes() == previous
    assert load_model(tmp_path / "ckpt.fnn").epoch == 1


# -- hostile files: bounded memory, time and message ------------------------------------------
# A zip member as the tests write it by hand (so a file can declare anything): its name,
# compression method, CRC-32, bytes as stored, uncompressed size.
Entry = tuple[str, int, int, bytes, int]


def _central(name: str, method: int, crc: int, csize: int, size: int, offset: int) -> bytes:
    encoded = name.encode()
    fields = (20, 20, 0, method, 0, 0, crc, csize, size, len(encoded), 0, 0, 0, 0, 0, offset)
    return struct.pack("<4s6H3I5H2I", b"PK\x01\x02", *fields) + encoded


def raw_zip(entries: list[Entry], aliases: list[tuple[str, int]] = ()) -> bytes:
    """A zip of ``entries``; each alias (name, i) is one more directory entry for entry i's data."""
    local, central, offsets, pos = [], [], [], 0
    for name, method, crc, data, size in entries:
        offsets.append(pos)
        encoded = name.encode()
        fields = (20, 0, method, 0, 0, crc, len(data), size, len(encoded), 0)
        local.append(struct.pack("<4s5H3I2H", b"PK\x03\x04", *fields) + encoded + data)
        pos += len(local[-1])
    for (name, method, crc, data, size), offset in zip(entries, offsets):
        central.append(_central(name, method, crc, len(data), size, offset))
    for name, i in aliases:
        _, method, crc, data, size = entries[i]
        central.append(_central(name, method, crc, len(data), size, offsets[i]))
    body, directory, n = b"".join(local), b"".join(central), len(central)
    short = min(n, 0xFFFF)
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, short, short, len(directory), len(body), 0)
    if n >= 0xFFFF:  # zip64: the true count lives in the zip64 end record
        fields = (44, 45, 45, 0, 0, n, n, len(directory), len(body))
        record = struct.pack("<4sQ2H2I4Q", b"PK\x06\x06", *fields)
        locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, len(body) + len(directory), 1)
        end = record + locator + end
    return body + directory + end


def stored(members: dict[str, bytes]) -> list[Entry]:
    return [(n, zipfile.ZIP_STORED, zlib.crc32(d), d, len(d)) for n, d in members.items()]


def npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    buf = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue()


def edited(members: dict[str, bytes], edit) -> dict[str, bytes]:
    config = json.loads(members["config.json"])
    edit(config)
    return {**members, "config.json": json.dumps(config).encode()}


def zip_bomb(m: dict[str, bytes]) -> bytes:
    """params/000000.npy: 2**28 float32 zeros (1 GiB), DEFLATE-compressed to about 1 MB; the
    manifest agrees with the member, so only the compression gives it away."""
    header = npy_header((2**28,))
    zeros = bytes(2**20)
    crc = zlib.crc32(header)
    for _ in range(2**10):
        crc = zlib.crc32(zeros, crc)
    head = zlib.compressobj(0, zlib.DEFLATED, -15)
    body = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = body.compress(zeros) + body.flush(zlib.Z_FULL_FLUSH)
    stream = head.compress(header) + head.flush(zlib.Z_FULL_FLUSH) + block * 2**10 + body.flush()
    members = edited(m, lambda c: c["arrays"]["params"][0].update(shape=[2**28]))
    entries = stored(members)
    at = [e[0] for e in entries].index("params/000000.npy")
    entries[at] = ("params/000000.npy", zipfile.ZIP_DEFLATED, crc, stream, len(header) + 2**30)
    return raw_zip(entries)


def huge_declared_shape(m: dict[str, bytes]) -> bytes:
    """The manifest and the .npy header agree on a 2**40 x 2**40 kernel; the member has 128 B."""
    members = edited(m, lambda c: c["arrays"]["params"][0].update(shape=[2**40, 2**40]))
    return raw_zip(stored({**members, "params/000000.npy": npy_header((2**40, 2**40))}))


def huge_member_size(m: dict[str, bytes]) -> bytes:
    """A stored member whose entry claims 3 GiB while the file holds a few KB."""
    entries = stored(m)
    name, method, crc, data, _ = entries[2]
    entries[2] = (name, method, crc, data, 3 * 2**30)
    return raw_zip(entries)


def overlapping_members(m: dict[str, bytes]) -> bytes:
    """3,000 directory entries that all point at one 40 KB array: 120 MB declared."""
    array = np.zeros((100, 100), np.float32)
    members = edited(
        {k: v for k, v in m.items() if not k.startswith("params/")},
        lambda c: c["arrays"].update(
            params=[
                {"path": f"[{i}]", "shape": [100, 100], "dtype": "float32"} for i in range(3000)
            ]
        ),
    )
    entries = stored({**members, "params/000000.npy": npy_bytes(array)})
    aliases = [(f"params/{i:06d}.npy", len(entries) - 1) for i in range(1, 3000)]
    return raw_zip(entries, aliases)


def many_members(m: dict[str, bytes]) -> bytes:
    """200,000 empty members beside a valid model."""
    extra = [(f"x/{i}", zipfile.ZIP_STORED, 0, b"", 0) for i in range(200_000)]
    return raw_zip(stored(m) + extra)


def lying_member_count(m: dict[str, bytes], count: int = 150_000) -> bytes:
    """``count`` members whose end record says 5: the zip module would parse all of them."""
    extra = [(f"x/{i}", zipfile.ZIP_STORED, 0, b"", 0) for i in range(count)]
    data = bytearray(raw_zip(stored(m) + extra))
    at = data.rfind(b"PK\x05\x06")
    data[at + 8 : at + 12] = struct.pack("<2H", 5, 5)
    at = data.rfind(b"PK\x06\x06")  # and the zip64 end record
    data[at + 24 : at + 40] = struct.pack("<2Q", 5, 5)
    return bytes(data)


def many_unexpected_members(m: dict[str, bytes]) -> bytes:
    """5,000 unexpected members: the error lists a few and counts the rest."""
    return raw_zip(stored({**m, **{f"extra/{i:05d}": b"" for i in range(5000)}}))


def repeated_layers(count: int):
    def make(m: dict[str, bytes]) -> bytes:
        def edit(c):
            c["model"]["layers"] = [c["model"]["layers"][1]] * count

        return raw_zip(stored(edited(m, edit)))

    return make


def deep_json(m: dict[str, bytes]) -> bytes:
    """A config nested 100,000 levels deep (200 KB of brackets)."""
    return raw_zip(stored({**m, "config.json": b"[" * 100_000 + b"]" * 100_000}))


def large_json(m: dict[str, bytes]) -> bytes:
    """A 32 MiB config.json (the limit is 16 MiB)."""
    return raw_zip(stored({**m, "config.json": b'{"a": "' + b"x" * 2**25 + b'"}'}))


# (id, how to make the file from a valid model file's members, what the error says)
HOSTILE_FILES = [
    ("zip-bomb", zip_bomb, "compressed"),
    ("huge-declared-shape", huge_declared_shape, "should hold"),
    ("huge-member-size", huge_member_size, "cannot hold"),
    ("overlapping-members", overlapping_members, "damaged archive"),
    ("200000-members", many_members, "more than the 100000"),
    ("large-directory", lambda m: lying_member_count(m, 300_000), "zip directory has"),
    ("lying-member-count", lying_member_count, "more than the 100000"),
    ("5000-unexpected-members", many_unexpected_members, "and 4990 more"),
    ("3000-layers", repeated_layers(3000), "does not fit this model"),
    ("20000-layers", repeated_layers(20_000), "more than the 10000"),
    ("deep-json", deep_json, "config.json"),
    ("32MiB-json", large_json, "more than the 16777216"),
]

# Loads each file in a child process whose address space may grow by LIMIT_MIB only, and
# prints one JSON line per file: the error, its message, seconds and peak memory.
LIMIT_MIB = 400
CHILD_LOAD = r"""
import json, resource, signal, sys, time
from fnn import population
from fnn.models import Sequential, load_model
from fnn.layers import Dense
valid, cases = sys.argv[1], json.loads(sys.argv[2])
reference = load_model(valid)  # warm up: everything a load compiles
model = Sequential.from_config(reference.get_config())
model.get_weights()  # its parameters (a compiled init) exist before the limit
def vm(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
limit = vm("VmSize:") + LIMIT_BYTES
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
def alarm(*args):
    raise TimeoutError("no answer within 30 s")
signal.signal(signal.SIGALRM, alarm)
def rss_peak():  # resident peak (VmHWM), reset before each case where Linux lets us
    return vm("VmHWM:") / 2**20
def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
for case, path, how in cases:
    reset_peak()
    before = rss_peak()
    start = time.perf_counter()
    signal.alarm(30)
    try:
        if how == "model":
            load_model(path)
        elif how == "weights":
            model.load_weights(path)
        else:
            population.load_population(path)
        error, message = None, ""
    except BaseException as exc:
        error, message = type(exc).__name__, str(exc)
    signal.alarm(0)
    seconds = time.perf_counter() - start
    peak = rss_peak()
    print(json.dumps({"case": case, "error": error, "message": message, "seconds": seconds,
                      "peak_mib": peak, "grew_mib": peak - before}), flush=True)
""".replace("LIMIT_BYTES", str(LIMIT_MIB * 2**20))


def load_in_child(valid: pathlib.Path, cases: list[tuple[str, str, str]]) -> dict[str, dict]:
    """Load each (case, path, "model" | "weights" | "population") in one capped child process;
    print and return what happened to each."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", CHILD_LOAD, str(valid), json.dumps(cases)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    results = {}
    for line in done.stdout.splitlines():
        result = json.loads(line)
        results[result["case"]] = result
        print(
            f"{result['case']:>24}: {result['seconds']:6.2f} s, peak RSS {result['peak_mib']:5.0f}"
            f" MiB (+{result['grew_mib']:.0f}), {result['error']}, {len(result['message'])} chars"
        )
    assert len(results) == len(cases), done.stderr[-3000:]
    return results


@pytest.fixture(scope="module")
def hostile_results(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hostile")
    valid = directory / "valid.fnn"
    seed_model().save(valid)
    members = zip_members(valid)
    cases = []
    for case, make, _ in HOSTILE_FILES:
        path = directory / f"{case}.fnn"
        path.write_bytes(make(members))
        cases.append((case, str(path), "model"))
    fifo = directory / "fifo.fnn"
    os.mkfifo(fifo)
    cases += [
        ("dev-zero", "/dev/zero", "model"),
        ("fifo", str(fifo), "model"),
        ("directory", str(directory), "model"),
        ("zip-bomb-weights", str(directory / "zip-bomb.fnn"), "weights"),
        ("huge-shape-weights", str(directory / "huge-declared-shape.fnn"), "weights"),
        ("dev-zero-population", "/dev/zero", "population"),
    ]
    return load_in_child(valid, cases)


SPECIAL_FILES = [
    ("dev-zero", "a character device"),
    ("fifo", "a FIFO"),
    ("directory", "a directory"),
    ("zip-bomb-weights", "compressed"),
    ("huge-shape-weights", "should hold"),
    ("dev-zero-population", "a character device"),
]


@pytest.mark.parametrize(
    ("case", "message"),
    [(c, m) for c, _, m in HOSTILE_FILES] + SPECIAL_FILES,
    ids=[c for c, _, _ in HOSTILE_FILES] + [c for c, _ in SPECIAL_FILES],
)
def test_hostile_files_are_refused_within_bounded_memory_time_and_message(
    case, message, hostile_results
):
    result = hostile_results[case]
    assert result["error"] == "ValueError", result
    assert message in result["message"]
    assert "fnn" in result["message"]
    assert len(result["message"]) <= archive.MAX_MESSAGE_CHARS


def test_the_memory_cap_leaves_room_for_a_real_load(tmp_path):
    # The hostile files above are refused under the same cap a 40 MB model loads under, so the
    # cap tests the loader, not the child.
    model = Sequential([Dense(1000, input_shape=10_000)], seed=0)
    model.compile(optimizer="sgd", loss="mse")
    path = tmp_path / "big.fnn"
    model.save(path)
    result = load_in_child(path, [("valid-40MB", str(path), "model")])["valid-40MB"]
    assert result["error"] is None, result

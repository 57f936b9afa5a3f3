"""Tests for scripts/bench.py: a ``--quick`` run writes a well-formed report, and failures of
single contenders are recorded instead of aborting the run. Nothing here asserts speed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench.py"


def load_bench() -> ModuleType:
    """Import scripts/bench.py as a module (it is not part of the fnn package)."""
    return load_script("bench.py", "fnn_bench_script")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """Run ``bench.py --quick`` once in a subprocess; return its JSON report and stdout."""
    out = tmp_path_factory.mktemp("bench") / "report.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--quick",
            "--scaling",
            "1,2",
            "--population",
            "3",
            "--profile",
            str(out.parent / "traces"),
            "--first-result",
            "1",
            "--first-result-contenders",
            "fnn_cold,fnn_warm,jax_optax",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=out.parent,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout


def row(report: dict[str, Any], workload: str, contender: str) -> dict[str, Any]:
    """The single result row for ``contender`` on ``workload``."""
    rows = [
        r for r in report["results"] if r["workload"] == workload and r["contender"] == contender
    ]
    assert len(rows) == 1, rows
    return rows[0]


def test_quick_run_has_fnn_and_floor_rows(quick_run: tuple[dict[str, Any], str]) -> None:
    report, _ = quick_run
    for name in ("floor", "fnn"):
        r = row(report, "seed", name)
        assert r["status"] == "ok", r["error"]
        assert r["examples_per_s"] > 0
        assert r["step_us"] > 0
        assert r["compile_s"] > 0
        assert r["gflops"] > 0
        assert r["ratio_to_floor"] > 0
        assert 1 <= len(r["epoch_s"]) <= report["config"]["timed_epochs"]
    assert row(report, "seed", "floor")["ratio_to_floor"] == pytest.approx(1.0)


def test_quick_run_has_scaling_and_population_sections(
    quick_run: tuple[dict[str, Any], str],
) -> None:
    report, stdout = quick_run
    assert [r["devices"] for r in report["scaling"]] == [1, 2]
    for r in report["scaling"]:
        assert "error" not in r, r
        assert r["examples_per_s"] > 0 and r["efficiency"] > 0
    pop = report["population"]["results"]
    assert set(pop) == {"sequential", "population"}
    assert pop["population"]["member_examples_per_s"] > 0
    assert pop["sequential"]["speedup_vs_sequential"] == 1.0
    assert "data-parallel scaling" in stdout and "population of 3" in stdout


def test_quick_run_writes_a_profile_trace(quick_run: tuple[dict[str, Any], str]) -> None:
    report, _ = quick_run
    (profile,) = report["profile"]
    assert profile["workload"] == "seed" and profile["epoch_s"] > 0
    assert len(profile["traces"]) == 1
    assert Path(profile["traces"][0]).stat().st_size > 0
    assert Path(profile["traces"][0]).is_relative_to(Path(profile["dir"]))


def test_quick_run_has_first_result_section(quick_run: tuple[dict[str, Any], str]) -> None:
    report, stdout = quick_run
    section = report["first_result"]
    assert section["repeats"] == 1 and section["epochs"] == 2
    results = section["results"]
    assert list(results) == ["fnn_cold", "fnn_warm", "jax_optax"]
    for name in ("fnn_cold", "fnn_warm", "jax_optax"):
        row = results[name]
        assert row["status"] == "ok", row
        assert row["wall_s"]["min"] <= row["wall_s"]["median"] <= row["wall_s"]["max"]
        assert 0 < row["phases_s"]["import"] < row["wall_s"]["median"]
        assert row["final_loss"] > 0
    assert results["jax_optax"]["ratio_to_jax_optax"] == pytest.approx(1.0)
    phases = results["fnn_cold"]["phases_s"]
    assert list(phases) == [
        "import",
        "build",
        "compile",
        "first_fit",
        "more_epochs",
        "first_evaluate",
    ]
    # Same seed, data and recipe: a warm cache changes nothing but the time.
    assert results["fnn_warm"]["final_loss"] == results["fnn_cold"]["final_loss"]
    assert "time to first result" in stdout


def test_quick_run_reports_device_and_versions(quick_run: tuple[dict[str, Any], str]) -> None:
    report, stdout = quick_run
    assert report["device"]["backend"]
    assert report["device"]["device_kind"]
    for name in ("python", "jax", "jaxlib", "optax", "numpy", "fnn"):
        assert report["versions"][name], name
    for name in ("keras", "flax", "torch"):
        assert name in report["versions"]
    assert report["peak_matmul"]["gflops"] > 0
    assert "host_busy_by_others" in report
    assert "workload seed" in stdout and "×floor" in stdout


def test_quick_run_covers_every_contender(quick_run: tuple[dict[str, Any], str]) -> None:
    report, _ = quick_run
    bench = load_bench()
    seen = {r["contender"] for r in report["results"] if r["workload"] == "seed"}
    assert seen == set(bench.CONTENDER_NAMES)
    for r in report["results"]:
        assert r["status"] in {"ok", "error", "not installed", "timeout"}
        assert (r["error"] is None) == (r["status"] == "ok")
    verbose = row(report, "seed", "fnn_verbose")
    if verbose["status"] == "ok":
        assert verbose["overhead_vs_fnn"] > 0


def test_failing_contender_is_recorded_not_raised() -> None:
    bench = load_bench()
    wl = bench.Workload("tiny", (4, 8, 3), 4, 16)
    x, y = bench.make_data(wl, 0)
    ctx = bench.Context(wl, x, y, timed_epochs=1, seed=0)

    def broken(_: Any) -> Any:
        raise RuntimeError("boom")

    def missing(_: Any) -> Any:
        return bench.import_optional("no_such_module_for_fnn_bench")

    failed = bench.measure(bench.Contender("broken", bench.TRAIN, "floor", broken), ctx)
    assert failed["status"] == "error" and "boom" in failed["error"]
    absent = bench.measure(bench.Contender("absent", bench.TRAIN, "floor", missing), ctx)
    assert absent["status"] == "not installed"
    floor = bench.measure(bench.CONTENDERS[0], ctx)
    assert floor["status"] == "ok" and floor["examples_per_s"] > 0


def test_contender_past_its_limit_is_a_timeout() -> None:
    bench = load_bench()
    wl = bench.Workload("tiny", (4, 8, 3), 4, 16)
    x, y = bench.make_data(wl, 0)
    ctx = bench.Context(wl, x, y, timed_epochs=1, seed=0, timeout_s=1e-9)

    def slow(ctx: Any) -> Any:
        time.sleep(0.01)
        ctx.check_deadline(0)

    r = bench.measure(bench.Contender("slow", bench.TRAIN, "floor", slow), ctx)
    assert r["status"] == "timeout" and "limit" in r["error"]


def test_cli_rejects_unknown_contender() -> None:
    bench = load_bench()
    with pytest.raises(SystemExit):
        bench.parse_args(["--contenders", "floor,nope"])
    args = bench.parse_args(["--quick", "--workloads", "seed", "--contenders", "floor,fnn"])
    assert args.workloads == ["seed"] and args.contenders == ["floor", "fnn"]


def test_cnn_workload_runs_for_the_floor_and_fnn() -> None:
    bench = load_bench()
    wl = bench.QUICK_CNN_WORKLOAD
    x, y = bench.make_data(wl, 0)
    assert x.shape == (wl.n_examples, *wl.image) and y.shape == (wl.n_examples, wl.classes)
    ctx = bench.Context(wl, x, y, timed_epochs=1, seed=0)
    rows = [bench.measure(c, ctx) for c in bench.CONTENDERS if c.name in ("floor", "fnn")]
    bench.add_ratios(rows)
    for r in rows:
        assert r["status"] == "ok", r["error"]
        assert r["workload"] == "cnn" and r["examples_per_s"] > 0 and r["ratio_to_floor"] > 0
    assert bench.parse_args(["--quick", "--cnn"]).cnn


def test_rounds_merge_into_one_row_per_contender_with_the_median_ratio_and_its_spread():
    bench = load_bench()

    def row(contender, epochs, ratio, status="ok"):
        if status != "ok":
            return {"contender": contender, "status": status, "error": "boom"}
        median = sorted(epochs)[len(epochs) // 2]
        return {
            "contender": contender,
            "status": status,
            "epoch_s": epochs,
            "epoch_s_median": median,
            "examples_per_s": 1000 / median,
            "step_us": median / 10 * 1e6,
            "gflops": 2.0 / median,
            "ratio_to_floor": ratio,
            "host_busy_by_others": 0.0,
        }

    rounds = [
        [row("floor", [1.0], 1.0), row("fnn", [2.0], 2.0), row("keras", [], None, "error")],
        [row("floor", [0.5], 1.0), row("fnn", [0.6], 1.2), row("keras", [], None, "error")],
        [row("floor", [1.0], 1.0), row("fnn", [1.5], 1.5), row("keras", [], None, "error")],
    ]
    floor, fnn, keras = bench.merge_rounds(rounds)
    assert fnn["epoch_s"] == [2.0, 0.6, 1.5] and fnn["epoch_s_median"] == 1.5
    assert fnn["ratio_to_floor"] == 1.5 and fnn["ratio_spread"] == [1.2, 2.0]
    assert fnn["round_medians"] == [2.0, 0.6, 1.5]
    assert abs(fnn["examples_per_s"] - 1000 / 1.5) < 1e-9 and abs(fnn["step_us"] - 1.5e5) < 1e-6
    assert floor["epoch_s_median"] == 1.0 and keras["status"] == "error"
    assert bench.ratio_spread(fnn) == "(1.20-2.00) "

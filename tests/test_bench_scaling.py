"""scripts/bench_scaling.py: one subprocess per device count, a table of rows with efficiency."""

import pytest
from conftest import load_script


@pytest.fixture(scope="module")
def bench_scaling():
    return load_script("bench_scaling.py", "fnn_bench_scaling_script")


def test_scaling_table_runs_each_device_count_on_virtual_cpu_devices(bench_scaling):
    rows = bench_scaling.scaling_table(
        (1, 2), cpu_devices=True, layers=(4, 8, 2), per_device_batch=4, steps=2, epochs=1
    )
    assert [r.get("error") for r in rows] == [None, None]
    assert [(r["devices"], r["global_batch"], r["per_device_batch"]) for r in rows] == [
        (1, 4, 4),
        (2, 8, 4),
    ]
    assert rows[0]["efficiency"] == 1.0
    for r in rows:
        assert r["examples"] == 16 and r["examples_per_s"] > 0
        ideal = r["devices"] * rows[0]["examples_per_s"]
        assert r["efficiency"] == pytest.approx(r["examples_per_s"] / ideal)
    table = bench_scaling.format_table(rows)
    assert table.count("\n") == 3 and "| 2 | 8 |" in table


def test_unknown_scaling_mode_is_refused(bench_scaling):
    with pytest.raises(ValueError, match="scaling must be 'weak' or 'strong'"):
        bench_scaling.scaling_table((1,), scaling="linear")

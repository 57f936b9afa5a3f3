"""mypy over fnn/: every module not listed as pending type-checks clean (pyproject's [tool.mypy]).

PENDING lists the modules with known errors today; fix one and take it off the list. A new module
is checked from the start.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PENDING: set[str] = set()


def checked_modules() -> list[str]:
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "fnn").rglob("*.py"))
    return [f for f in files if f not in PENDING]


def test_pending_modules_exist():
    missing = [f for f in PENDING if not (ROOT / f).is_file()]
    assert not missing, f"remove from PENDING: {missing}"


def test_mypy_is_clean_on_the_checked_modules():
    pytest.importorskip("mypy")
    modules = checked_modules()
    assert "fnn/progress.py" in modules and "fnn/cli.py" in modules
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--follow-imports=silent", *modules],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"no issues found in {len(modules)} source files" in proc.stdout


def test_user_code_that_unpacks_evaluate_type_checks(tmp_path):
    """The README's ``loss, mae = model.evaluate(...)`` passes the checker; return_dict=True
    gives a dict."""
    user = tmp_path / "user.py"
    user.write_text(
        "import numpy as np\n"
        "from fnn.models import Sequential\n"
        "from fnn.layers import Dense\n"
        "model = Sequential([Dense(1, input_shape=3)])\n"
        "model.compile(optimizer='adam', loss='mse', metrics=['mae'])\n"
        "loss, mae = model.evaluate(np.ones((4, 3)), np.ones(4), verbose=0)\n"
        "logs: dict[str, float] = model.evaluate(np.ones((4, 3)), np.ones(4), return_dict=True)\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--follow-imports=silent",
            "--ignore-missing-imports",
            "--no-incremental",
            str(user),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**__import__("os").environ, "MYPYPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stdout[-2000:]

"""The README's main job: scripts/train.py trains the seed network on the digits."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_train_script_reaches_the_accuracy_target():
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert "Epoch 1/30" in out and "Epoch 30/30" in out
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))
    assert accuracy >= 0.95


def test_readme_has_the_two_quickstart_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    for comment in ("# main job", "# tests"):
        i = lines.index(comment)
        assert lines[i + 1].strip() and not lines[i + 1].startswith("#")

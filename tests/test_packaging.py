"""The sdist and the wheel, built with setuptools' PEP 517 backend from a copy of the tree: the
sdist carries what its own tests need, the wheel the package, py.typed and the fnn-train
command (found through importlib.metadata's entry points); one version, in the metadata."""

import importlib.metadata
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import fnn

ROOT = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns(
    ".git", "__pycache__", "*.egg-info", "build", "dist", "site", ".*_cache", ".hypothesis"
)


def build(kind: str, source: Path, out: Path) -> Path:
    """Run ``build_sdist`` or ``build_wheel`` of setuptools' backend in ``source``."""
    code = f"from setuptools import build_meta; print(build_meta.build_{kind}({str(out)!r}))"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out / proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """The sdist built from the tree, and the wheel built from the unpacked sdist (as pip and
    ``python -m build`` do)."""
    tmp = tmp_path_factory.mktemp("packaging")
    tree = tmp / "tree"
    shutil.copytree(ROOT, tree, ignore=IGNORE)
    sdist = build("sdist", tree, tmp / "dist")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp / "unpacked", filter="data")
    (unpacked,) = (tmp / "unpacked").iterdir()
    wheel = build("wheel", unpacked, tmp / "dist")
    return sdist, wheel, tmp


def test_sdist_ships_what_its_tests_need(artifacts):
    sdist, _, _ = artifacts
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    needed = {
        "pyproject.toml",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "mkdocs.yml",
        "docs/index.md",
        "tests/conftest.py",
        "scripts/train.py",
        "fnn/py.typed",
        "fnn/cli.py",
    }
    assert needed <= names, sorted(needed - names)
    tests = {p.name for p in (ROOT / "tests").glob("*.py")}
    assert {f"tests/{t}" for t in tests} <= names
    notebooks = {f"notebooks/{p.name}" for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert notebooks and notebooks <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_wheel_holds_the_package_py_typed_and_the_console_script(artifacts):
    _, wheel, tmp = artifacts
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp / "wheel")
    assert {"fnn/__init__.py", "fnn/cli.py", "fnn/progress.py", "fnn/py.typed"} <= names
    assert not any(n.startswith(("tests/", "scripts/", "notebooks/", "docs/")) for n in names)
    (info,) = (tmp / "wheel").glob("fnn-*.dist-info")
    dist = importlib.metadata.PathDistribution(info)
    (command,) = dist.entry_points.select(group="console_scripts", name="fnn-train")
    assert command.value == "fnn.cli:main"
    from fnn import cli

    assert command.load() is cli.main
    assert dist.version == fnn.__version__
    extras = dist.metadata.get_all("Provides-Extra")
    assert {"scripts", "notebooks", "docs", "test"} <= set(extras)
    requires = dist.requires or []
    assert any(r.startswith("ipywidgets") and 'extra == "notebooks"' in r for r in requires)
    assert any(r.startswith("mkdocstrings") and 'extra == "docs"' in r for r in requires)


def test_version_is_written_in_one_place():
    assert fnn.__version__ == importlib.metadata.version("fnn")
    sources = [p for p in (ROOT / "fnn").rglob("*.py") if fnn.__version__ in p.read_text()]
    assert sources == [], "the version is pyproject.toml's alone"
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## {fnn.__version__}" in changelog

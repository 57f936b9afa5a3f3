"""The documentation site: mkdocs + mkdocstrings build with warnings as errors (--strict), every
page of the navigation is written, and the API pages carry the docstrings' sections."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mkdocstrings_handlers.python")
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    return out


def nav_pages() -> list[str]:
    text = (ROOT / "mkdocs.yml").read_text()
    return re.findall(r":\s+(\S+\.md)\s*$", text, flags=re.MULTILINE)


def test_every_page_in_the_navigation_is_built(site):
    pages = nav_pages()
    assert "index.md" in pages and "api/models.md" in pages and "guide/pure-core.md" in pages
    for page in pages:
        html = site / ("index.html" if page == "index.md" else page.removesuffix(".md"))
        if html.is_dir():
            html = html / "index.html"
        assert html.is_file(), page


def test_every_module_of_the_package_has_an_api_page():
    documented = {p.stem for p in (ROOT / "docs" / "api").glob("*.md")}
    modules = {
        p.stem if p.name != "__init__.py" else p.parent.name
        for p in (ROOT / "fnn").glob("*")
        if (p.suffix == ".py" or (p / "__init__.py").is_file()) and not p.name.startswith("_")
    }
    assert modules <= documented, sorted(modules - documented)


def test_api_pages_render_args_returns_and_raises(site):
    html = (site / "api" / "progress" / "index.html").read_text()
    assert "ProgressBar" in html and "resolve_verbose" in html
    for section in ("Parameters", "Returns", "Raises"):
        assert section in html
    assert "the number of steps in the epoch" in html  # ProgressBar's Args, rendered
    cli = (site / "api" / "cli" / "index.html").read_text()
    assert "check_save_path" in cli

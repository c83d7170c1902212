"""A built wheel ships the policies and their source texts, and finds them after install."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{result.stderr[-2000:]}")
    return next(out.glob("medcalc-*.whl"))


def test_wheel_contains_every_policy_and_source(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (ROOT / "policies").rglob("*"):
        if path.is_file():
            assert f"medcalc/policies/{path.relative_to(ROOT / 'policies').as_posix()}" in names
    assert "medcalc/cli/__init__.py" in names
    assert "medcalc/py.typed" in names  # PEP 561: type checkers read medcalc's annotations
    assert "medcalc/docs/conventions.md" in names  # the page explanations and policy notes cite
    for name in ("index.html", "quote.js", "quote.css", "favicon.svg"):  # the quote page of `medcalc serve`
        assert f"medcalc/serve/static/{name}" in names


def test_installed_wheel_loads_shipped_policies(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)], check=True
    )
    code = (
        "import medcalc, medcalc.policy.registry as r; p = medcalc.load_policy('luan-2021');"
        "print(r.shipped_root().is_relative_to(medcalc.__path__[0]), p.id)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    assert result.stdout.split() == ["True", "luan-2021"], result.stderr

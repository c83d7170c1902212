"""The README's Python example runs as written and its figures are true."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_python_example_runs(capsys):
    code = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    batch = namespace["batch"]
    assert [r.field for r in batch.rejects] == ["level"]
    assert capsys.readouterr().out.startswith("14480.00 5520.00\n181/250\n")


def test_readme_test_command_is_what_ci_runs():
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest -q" in README
    assert ci.strip().splitlines()[-1] == "python -m pytest -q"

"""The README's Python example runs as written and its figures are true; the README stays short and its links\nreach files (the docs' own examples: tests/test_docs.py)."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_python_example_runs(capsys):
    code = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["s"].basic == 1448000
    out = capsys.readouterr().out
    assert out.startswith("14480.00 5520.00 181/250\n") and "起付线" in out  # the steps, with their quotes


def test_readme_is_at_most_200_lines():
    assert len(README.splitlines()) <= 200


def test_readme_links_reach_files():
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README)
    local = [link for link in links if "://" not in link]
    assert len(local) >= 20  # the README points into the docs
    for link in local:
        assert (Path(__file__).parents[1] / link).exists(), f"the README links to {link}, which does not exist"


def test_readme_test_command_is_what_ci_runs():
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest -q" in README
    assert ci.strip().splitlines()[-1] == "python -m pytest -q"


def test_policy_format_guide_example_loads(tmp_path):
    import medcalc
    from tests.policy_text import guide_policy

    policy = medcalc.load_policy(guide_policy(tmp_path, ""))
    claim = medcalc.Claim(person_id="p", settled_on="2025-05-01", level="level1", total=10200)
    assert medcalc.settle(policy, claim).basic == 900000  # (10200 − 200) × 90 %

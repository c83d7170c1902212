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


def test_readme_python_examples_run_in_order_and_the_table_figures_are_true(capsys):
    namespace: dict = {}
    for code in re.findall(r"```python\n(.*?)```", README, re.S):
        exec(compile(code, "README.md", "exec"), namespace)
    scored = namespace["scored"]
    assert scored.results.column("basic").to_pylist() == [1448000, 564000]  # 18100 × 80 %; 9400 × 60 %
    assert scored.rejects.column("row").to_pylist() == [2]
    assert scored.rejects.column("field").to_pylist() == ["level"]
    assert [s.amount for s in scored.traces[0] if s.mechanism == "patient"] == [552000]


def test_readme_test_command_is_what_ci_runs():
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest -q" in README
    assert ci.strip().splitlines()[-1] == "python -m pytest -q"


def test_policy_format_guide_example_loads(tmp_path):
    import medcalc

    root = Path(__file__).parents[1] / "policies"
    guide = (root / "README.md").read_text(encoding="utf-8")
    text = re.search(r"```toml\n(\[policy\].*?)```", guide, re.S).group(1)
    text = text.replace('file = "../sources/', f'file = "{(root / "sources").as_posix()}/')
    (tmp_path / "example-city-2025.toml").write_text(text, encoding="utf-8")
    policy = medcalc.load_policy(tmp_path / "example-city-2025.toml")
    claim = medcalc.Claim(person_id="p", settled_on="2025-05-01", level="level1", total=10200)
    assert medcalc.settle(policy, claim).basic == 900000  # (10200 − 200) × 90 %

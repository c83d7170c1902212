"""Build small test policies from TOML fragments (a fixture source, no text file)."""

from __future__ import annotations

from pathlib import Path

import medcalc

HEADER = """
[policy]
id = "{id}"
region = "测试市"
scheme = "residents"

[levels]
level1 = "一级"
level2 = "二级"

[sources.fixture]
title = "test fixture"
official = true
"""

CITE = 'source = "fixture"\nquote = "fixture"\n'


def rule(key: str, body: str, since: str = "2020-01-01") -> str:
    """One [[key]] version citing the fixture source."""
    return f"\n[[{key}]]\nsince = {since}\n{body}\n{CITE}"


def make_policy(tmp_path: Path, *rules: str, name: str = "p") -> medcalc.Policy:
    text = HEADER.format(id=name) + "".join(rules)
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return medcalc.load_policy(path)

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


#: The policy format guide (policies/README.md): its first example file, and the worked examples of
#: mechanisms, each a ```toml block after a ``<!-- example: NAME -->`` line.
GUIDE_PATH = Path(__file__).parents[1] / "policies" / "README.md"
#: A verbatim passage of the guide example's source, cited by the rules its illustrations leave unsourced.
GUIDE_CITE = 'source = "anhui-2025-web"\nquote = "住院封顶线统一30万元"\nverified = false\n'


def guide_example(name: str) -> str:
    """The guide's worked example ``name`` (its rules, as the guide shows them: no source)."""
    import re

    guide = GUIDE_PATH.read_text(encoding="utf-8")
    return re.search(rf"<!-- example: {re.escape(name)} -->\n```toml\n(.*?)```", guide, re.S).group(1)


def guide_policy(tmp_path: Path, rules: str, without: str | None = None) -> Path:
    """The guide's example file (its source path made absolute) with ``rules`` added, each version
    citing GUIDE_CITE; ``without``: a rule key of the file left out (the rules replace it)."""
    import re

    guide = GUIDE_PATH.read_text(encoding="utf-8")
    text = re.search(r"```toml\n(\[policy\].*?)```", guide, re.S).group(1)
    text = text.replace('file = "../sources/', f'file = "{(GUIDE_PATH.parent / "sources").as_posix()}/')
    if without is not None:  # (the file's rules are in order: the key's block runs to the next one or the end)
        start = text.index(f"[[{without}]]")
        end = text.find("\n[[", start + 1)
        text = text[:start] + ("" if end < 0 else text[end + 1 :])
    blocks = re.split(r"(?m)^(?=\[\[)", rules.strip())
    cited = "\n".join(block.rstrip() + "\n" + GUIDE_CITE for block in blocks if block.strip())
    path = tmp_path / "example-city-2025.toml"
    path.write_text(text + "\n" + cited, encoding="utf-8")
    return path

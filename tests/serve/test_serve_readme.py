"""The docs' `medcalc serve` curl examples (docs/how-to/serve.md, once the README's), run with curl against a live server, answers checked.

Each command of the block after "Calling it" runs in bash (in a folder of its own, so that
``claims.csv`` is written there), with the README's ``http://127.0.0.1:8000`` pointed at the
test's server; the ``#`` line after a curl command holds fields its JSON answer must have
(objects are matched key by key, lists item by item). Skipped, saying why, without curl.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .serve_live import LiveServer, serve_extra_or_skip

README = (Path(__file__).parents[2] / "docs" / "how-to" / "serve.md").read_text(encoding="utf-8")
SHOWN_URL = "http://127.0.0.1:8000"


def examples() -> list[tuple[str, object]]:
    """(command, expected fields or None) in the README's order."""
    block = re.search(r"\*\*Calling it\*\*.*?```sh\n(.*?)```", README, re.S).group(1)
    lines = block.replace("\\\n", " ").splitlines()
    out: list[tuple[str, object]] = []
    for line in lines:
        if line.startswith("# "):
            assert out and out[-1][1] is None, f"an expectation without its command: {line}"
            out[-1] = (out[-1][0], json.loads(line[2:]))
        elif line.strip():
            out.append((line, None))
    return out


def matches(expected: object, actual: object, where: str = "answer") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}: no {key!r} in {sorted(actual)}"
            matches(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {actual!r}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            matches(e, a, f"{where}[{i}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def test_the_readme_block_has_curl_examples_for_every_endpoint():
    commands = " ".join(c for c, _ in examples())
    for endpoint in ("/quote", "/score", "/policies/", "/regions/"):
        assert endpoint in commands
    assert sum(1 for c, e in examples() if c.startswith("curl") and e is not None) == sum(
        1 for c, _ in examples() if c.startswith("curl")
    )  # every curl answer is checked


def test_readme_curl_examples_against_a_live_server(tmp_path):
    serve_extra_or_skip()
    if shutil.which("curl") is None:
        pytest.skip("needs curl (apt-get install curl; .ci/run installs it)")
    server = LiveServer()
    try:
        for command, expected in examples():
            run = command.replace(SHOWN_URL, server.url)
            done = subprocess.run(["bash", "-c", run], cwd=tmp_path, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, f"{command}\n{done.stderr}"
            if expected is not None:
                matches(expected, json.loads(done.stdout), command[:60])
    finally:
        server.stop()

"""Every shipped policy loads, and every value it holds quotes its source verbatim."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import medcalc
from medcalc.policy.registry import policy_files, shipped_root

SHIPPED = sorted(policy_files([shipped_root()]))


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_the_seed_regions_are_shipped():
    assert {
        "anhui-2019",
        "luan-2021",
        "anhui-2025",
        "huaibei-2025",
        "jiujiang-residents",
        "jiujiang-employees",
        "hengyang-2023",
        "hengnan-2019",
        "chongqing-2023-tier1",
        "chongqing-2023-tier2",
    } <= set(SHIPPED)


@pytest.mark.parametrize("policy_id", SHIPPED)
def test_every_quote_appears_in_its_source_text(policy_id):
    policy = medcalc.load_policy(policy_id)
    checked = 0
    for timeline in policy.timelines.values():
        for layer in timeline.layers:
            for version in layer:
                if version.disabled:
                    continue
                source = version.citation.source
                assert source.file is not None, f"{version.key}: source {source.id} has no stored text"
                text = _norm(Path(source.file).read_text(encoding="utf-8"))
                for passage in version.citation.quotes:  # each passage of a quote list is checked
                    assert _norm(passage) in text, f"{version.file}: {version.key}[{version.index}]"
                if not source.official:
                    assert version.citation.verified is False
                checked += 1
    assert checked or policy.chain[1:], f"{policy_id} holds no values and extends nothing"


@pytest.mark.parametrize("policy_id", SHIPPED)
def test_every_policy_says_what_its_sources_leave_open(policy_id):
    assert len(medcalc.load_policy(policy_id).notes.strip()) > 40


def test_seed_texts_are_the_shared_seeds():
    shared = Path(__file__).parents[3] / "shared" / "seeds"
    if not shared.is_dir():
        pytest.skip("shared/seeds is not beside this checkout")
    for seed in shared.glob("*.txt"):
        assert (shipped_root() / "sources" / "seeds" / seed.name).read_bytes() == seed.read_bytes()

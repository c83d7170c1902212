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
    assert {"anhui-2019", "luan-2021", "anhui-2025", "huaibei-2025", "jiujiang-residents", "jiujiang-employees",
            "hengyang-2023", "hengnan-2019", "chongqing-2023-tier1", "chongqing-2023-tier2"} <= set(SHIPPED)


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
                assert _norm(version.citation.quote) in text, f"{version.file}: {version.key}[{version.index}]"
                if not source.official:
                    assert version.citation.verified is False
                checked += 1
    assert checked or policy.chain[1:], f"{policy_id} holds no values and extends nothing"


@pytest.mark.parametrize("policy_id", SHIPPED)
def test_every_policy_says_what_its_sources_leave_open(policy_id):
    assert len(medcalc.load_policy(policy_id).notes.strip()) > 40


def test_seed_texts_are_the_shared_seeds():
    shared = Path(__file__).parents[2] / "shared" / "seeds"
    if not shared.is_dir():
        pytest.skip("shared/seeds is not beside this checkout")
    for seed in shared.glob("*.txt"):
        assert (shipped_root() / "sources" / "seeds" / seed.name).read_bytes() == seed.read_bytes()


def test_lu_an_worked_identity_example_5():
    # domain.md §5 example 5 (seed 000): (11.42 + 3.49) / 19.24 = 77.49 %; only the identity can be checked
    text = (shipped_root() / "sources" / "seeds" / "000_31e116db2ab3fcc4.txt").read_text(encoding="utf-8")
    assert "住院医疗费用高达19.24万元,在城乡居民基本医保报销11.42万元后" in text and "实际报销比例达77.49%" in text
    from fractions import Fraction
    rate = Fraction(1142 + 349, 1924)
    assert (rate * 10000 * 2 + 1) // 2 == 7749

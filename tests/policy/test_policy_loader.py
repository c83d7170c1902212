"""Strict loading: the broken-policy corpus with pinned messages, and the extends merge rules."""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from pathlib import Path

import pytest

import medcalc
from medcalc import Claim, PolicyError

TESTS = Path(__file__).parents[1]
BROKEN = TESTS / "broken_policies"
EXPECTED = tomllib.loads((BROKEN / "expected.toml").read_text(encoding="utf-8"))
INHERIT = TESTS / "cases" / "policies" / "inherit"


def test_every_broken_file_has_a_pinned_message():
    files = {p.name for p in BROKEN.glob("*.toml")} - {"expected.toml"}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_policy_fails_with_its_message(name, monkeypatch):
    monkeypatch.chdir(BROKEN)
    with pytest.raises(medcalc.MedcalcError) as info:
        medcalc.load_policy(name)
    assert str(info.value) == EXPECTED[name].replace("<here>", str(BROKEN.resolve()))


def test_policy_error_names_file_path_value_and_rule(monkeypatch):
    monkeypatch.chdir(BROKEN)
    with pytest.raises(PolicyError) as info:
        medcalc.load_policy("ratio_over_100.toml")
    err = info.value
    assert (err.file, err.path, err.found) == ("ratio_over_100.toml", "inpatient.ratio[0].ratio.level1", "120%")
    assert "[0%, 100%]" in err.allowed


def _version(policy, key, day):
    return policy.at(day).rule(key)


@pytest.fixture(scope="module")
def city():
    return medcalc.load_policy(INHERIT / "city.toml")


def test_child_version_wins_on_its_days_and_parent_applies_around_them(city):
    ratio = lambda day: _version(city, "inpatient.ratio", day)["ratio"].get("level1")  # noqa: E731
    assert ratio(dt.date(2021, 6, 30)) == 9000  # the day before the city's version: province
    assert ratio(dt.date(2021, 7, 1)) == 9500  # the day it starts
    assert ratio(dt.date(2021, 12, 31)) == 9500  # its last day
    assert ratio(dt.date(2022, 1, 1)) == 9000  # the day after: province again


def test_parent_change_applies_on_its_day(city):
    amount = lambda day: _version(city, "inpatient.deductible", day)["amount"].get("level1")  # noqa: E731
    assert amount(dt.date(2021, 12, 31)) == 20000
    assert amount(dt.date(2022, 1, 1)) == 30000


def test_disabled_version_switches_the_inherited_rule_off(city):
    poor = lambda day: _version(city, "inpatient.modifier.poor", day)  # noqa: E731
    assert poor(dt.date(2020, 12, 31)) is not None
    assert poor(dt.date(2021, 1, 1)) is None
    assert poor(dt.date(2021, 6, 30)) is None
    assert poor(dt.date(2021, 7, 1)) is not None


def test_levels_and_sources_merge(city):
    assert dict(city.levels) == {"level1": "一级", "level2": "二级"}
    assert set(city.sources) == {"fixture"}
    assert city.chain == ("test-city", "test-province")


def test_settlements_follow_the_version_in_force(city):
    def basic(day, category="ordinary"):
        claim = Claim(person_id=f"p-{day}-{category}", settled_on=day, level="level1", total=10200, category=category)
        return medcalc.settle(city, claim).basic

    # deductible 200 until 2021-12-31 then 300; ratio 90 %, 95 % in 2021H2; poverty +10 except 2021H1
    assert basic(dt.date(2021, 6, 30)) == 900000
    assert basic(dt.date(2021, 7, 1)) == 950000
    assert basic(dt.date(2022, 1, 1)) == (10200 - 300) * 90
    assert basic(dt.date(2020, 12, 31), "poverty") == 1000000
    assert basic(dt.date(2021, 1, 1), "poverty") == 900000


def test_a_value_for_every_level_covers_levels_a_child_adds(city):
    # the province's deductible (200) is one value for every level, so the city's level2 has it too
    s = medcalc.settle(city, Claim(person_id="a", settled_on="2021-08-01", level="level2", total=1000))
    assert (s.deductible, s.basic) == (20000, 76000)


def test_scheme_must_match_parent(tmp_path):
    (tmp_path / "base.toml").write_text(
        (INHERIT / "base.toml").read_text(encoding="utf-8").replace('file = "source.txt"\n', ""), encoding="utf-8"
    )
    (tmp_path / "child.toml").write_text(
        '[policy]\nid = "c"\nregion = "x"\nscheme = "employees"\nextends = "test-province"\n', encoding="utf-8"
    )
    with pytest.raises(
        PolicyError,
        match=r"child.toml: policy.scheme: the scheme of the extended policy 'test-province' \('residents'\) \(got 'employees'\)",
    ):
        medcalc.load_policy(tmp_path / "child.toml")


def test_a_claim_outside_every_version_is_rejected_with_the_coverage():
    policy = medcalc.load_policy(INHERIT / "base.toml")
    with pytest.raises(medcalc.ClaimError) as info:
        medcalc.settle(policy, Claim(person_id="a", settled_on="2019-12-31", level="level1", total=100))
    assert str(info.value) == (
        "settled_on: no inpatient.deductible rule in force on 2019-12-31; policy test-province covers 2020-01-01 to open"
        " (got '2019-12-31')"
    )


# ---------------------------------------------------------------- policy folders: search= and MEDCALC_POLICIES


def _folder_with_city(folder: Path, ratio: str) -> Path:
    """The inherit fixtures (测试市 on 测试省) in ``folder``, the city's 2021H2 ratio set to ``ratio``."""
    folder.mkdir()
    for name in ("base.toml", "source.txt"):
        (folder / name).write_bytes((INHERIT / name).read_bytes())
    (folder / "city.toml").write_text(
        (INHERIT / "city.toml").read_text(encoding="utf-8").replace('"95%"', f'"{ratio}"'), encoding="utf-8"
    )
    return folder


def _basic(policy) -> int:
    # 10 200 yuan at level 1 on 2021-07-01: (10200 − 200) × the city's ratio
    return medcalc.settle(policy, Claim(person_id="a", settled_on="2021-07-01", level="level1", total=10200)).basic


def test_search_folders_come_before_the_variables_and_both_before_the_shipped(tmp_path, monkeypatch):
    from medcalc.policy.registry import search_folders, shipped_root

    given, variable = _folder_with_city(tmp_path / "given", "80%"), _folder_with_city(tmp_path / "variable", "95%")
    monkeypatch.setenv("MEDCALC_POLICIES", os.pathsep.join(["", str(variable), " "]))  # empty entries are skipped
    assert search_folders([given]) == (given.resolve(), variable.resolve(), shipped_root().resolve())
    assert _basic(medcalc.load_policy("test-city")) == 950000
    assert _basic(medcalc.load_policy("test-city", search=[given])) == 800000
    assert _basic(medcalc.find_policy("测试市", dt.date(2021, 7, 1))) == 950000
    assert _basic(medcalc.find_policy("测试市", dt.date(2021, 7, 1), search=[given])) == 800000
    ids = [p.id for p in medcalc.list_policies()]
    assert ids.count("test-city") == 1 and {"test-province", "huaibei-2025"} <= set(ids)
    assert medcalc.load_policy("test-city", search=[given]).file == str((given / "city.toml").resolve())
    monkeypatch.delenv("MEDCALC_POLICIES")
    assert "test-city" not in [p.id for p in medcalc.list_policies()]


def test_a_file_in_a_policy_folder_extends_a_policy_of_another(tmp_path, monkeypatch):
    bases = _folder_with_city(tmp_path / "bases", "95%")
    (bases / "city.toml").unlink()
    town = tmp_path / "town"
    town.mkdir()
    (town / "city.toml").write_text(
        (INHERIT / "city.toml")
        .read_text(encoding="utf-8")
        .replace("[levels]", '[sources.fixture]\ntitle = "t"\nofficial = true\nfile = "source.txt"\n\n[levels]'),
        encoding="utf-8",
    )
    (town / "source.txt").write_bytes((INHERIT / "source.txt").read_bytes())
    with pytest.raises(PolicyError) as info:
        medcalc.load_policy(town / "city.toml")
    assert info.value.allowed == f"the id of a policy that exists in {town.resolve()} or the shipped policies"
    monkeypatch.setenv("MEDCALC_POLICIES", str(bases))
    assert medcalc.load_policy(town / "city.toml").chain == ("test-city", "test-province")


def test_lookups_that_find_nothing_name_the_folders_searched(tmp_path, monkeypatch):
    given = _folder_with_city(tmp_path / "given", "80%")
    monkeypatch.setenv("MEDCALC_POLICIES", str(INHERIT))
    with pytest.raises(medcalc.PolicyNotFound) as info:
        medcalc.load_policy("test-town", search=[given])
    assert str(info.value) == (
        f"no policy with id 'test-town' in {given.resolve()}, {INHERIT.resolve()} or the shipped "
        "policies; did you mean test-city, test-province?"
    )
    with pytest.raises(medcalc.PolicyNotFound) as info:
        medcalc.find_policy("火星", dt.date(2021, 7, 1), search=[given])
    assert str(info.value) == (
        f"no policy for region '火星' in {given.resolve()}, {INHERIT.resolve()} or the shipped "
        "policies (see `medcalc policy list`)"
    )


def test_a_policy_folder_that_does_not_exist_is_an_error_naming_it(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    with pytest.raises(medcalc.PolicyNotFound, match=f"^search: {re.escape(str(missing))}: no such folder$"):
        medcalc.load_policy("huaibei-2025", search=[missing])
    with pytest.raises(
        medcalc.PolicyNotFound, match=f"^search: {re.escape(str(INHERIT / 'city.toml'))}: not a folder$"
    ):
        medcalc.find_policy("淮北", dt.date(2025, 3, 1), search=[INHERIT / "city.toml"])
    monkeypatch.setenv("MEDCALC_POLICIES", str(missing))
    with pytest.raises(medcalc.PolicyNotFound, match=f"^MEDCALC_POLICIES: {re.escape(str(missing))}: no such folder$"):
        medcalc.list_policies()


def test_find_policy_is_exported_at_the_top():
    assert "find_policy" in medcalc.__all__
    assert medcalc.find_policy("淮北", dt.date(2025, 3, 1)).id == "huaibei-2025"

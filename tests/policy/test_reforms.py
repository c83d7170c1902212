"""Reforms as data: overlay files validated like policies, applied from their date, cited as proposals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import medcalc
from medcalc.errors import PolicyError
from medcalc.policy.registry import find_policy

HEADER = """
[reform]
id = "test-reform"
base = "huaibei-2025"
title = "测试方案"
author = "tests"
date = 2026-12-01
since = 2025-07-01
"""


def _reform(tmp_path: Path, body: str, header: str = HEADER) -> medcalc.Policy:
    path = tmp_path / "reform.toml"
    path.write_text(header + body, encoding="utf-8")
    return medcalc.load_policy(path)


def _claim(day: str, level: str = "level1", total: str = "10000", category: str = "ordinary", person: str = "p"):
    return medcalc.Claim(
        person_id=person, settled_on=dt.date.fromisoformat(day), level=level, total=total, category=category
    )


def test_points_raise_one_level_from_the_reform_date_only(tmp_path):
    reform = _reform(tmp_path, '[[adjust]]\nrule = "inpatient.ratio"\nlevels = ["level1"]\npoints = "+5"\n')
    # 10,000 yuan at level 1: deductible 200, then 95 % instead of 90 % of 9,800
    assert medcalc.settle(reform, _claim("2025-08-01")).basic == medcalc.Fen(931000)
    assert medcalc.settle("huaibei-2025", _claim("2025-08-01")).basic == medcalc.Fen(882000)
    # before `since` the base's version is in force; other levels are untouched
    assert medcalc.settle(reform, _claim("2025-03-01")).basic == medcalc.Fen(882000)
    assert (
        medcalc.settle(reform, _claim("2025-08-01", "level3_province")).basic
        == medcalc.settle("huaibei-2025", _claim("2025-08-01", "level3_province")).basic
        == medcalc.Fen(630000)
    )


def test_every_changed_value_cites_the_proposal_unverified(tmp_path):
    reform = _reform(tmp_path, '[[adjust]]\nrule = "critical.threshold"\nscale = "50%"\n')
    version = reform.at(dt.date(2025, 8, 1)).rule("critical.threshold")
    assert version["amount"] == 750_000  # 1.5万 halved, in fen
    assert version.citation.source.id == "proposal" and version.citation.source.official is False
    assert version.citation.verified is False
    assert "proposal by tests" == version.citation.source.document
    assert "scale 50%" in version.citation.note
    assert reform.chain == ("test-reform", "huaibei-2025", "anhui-2025")


def test_whole_rule_versions_stack_with_the_base_rules(tmp_path):
    reform = _reform(
        tmp_path,
        '[[critical.modifier.dibao_more]]\nwhen = { category = ["dibao"] }\n'
        'threshold_fraction = "50%"\nratio_points = "+10"\n',
    )
    on = reform.at(dt.date(2025, 8, 1))
    assert {r.key for r in on.named("critical.modifier")} == {"critical.modifier.dibao_more", "critical.modifier.poor"}
    # a 低保 person with 40,000 yuan in scope at level 3: 大病 starts at 1.5万 x 50% x 50% = 3,750
    claim = _claim("2025-08-01", "level3_province", total="40000", category="dibao")
    base = medcalc.settle("huaibei-2025", claim)
    more = medcalc.settle(reform, claim)
    assert more.basic == base.basic
    # base = deductible 1,000 + co-insurance 30 % of 39,000 = 12,700 qualifying self-pay
    assert base.critical == medcalc.Fen(round((1_270_000 - 750_000) * 65 / 100))
    assert more.critical == medcalc.Fen(round((1_270_000 - 375_000) * 75 / 100))


def test_an_identity_reform_changes_nothing(tmp_path):
    from medcalc.analysis.synthetic import synthetic_claims

    reform = _reform(
        tmp_path,
        '[[adjust]]\nrule = "inpatient.ratio"\npoints = "+0"\n[[adjust]]\nrule = "critical.cap"\nscale = "100%"\n',
    )
    claims = synthetic_claims("huaibei-2025", 3000, seed=7)
    a = medcalc.settle_table(claims, "huaibei-2025", amounts="fen").results.drop_columns(["policy"])
    b = medcalc.settle_table(claims, reform, amounts="fen").results.drop_columns(["policy"])
    assert a.equals(b)


@pytest.mark.parametrize(
    "body, path, allowed",
    [
        ('[[adjust]]\nrule = "inpatient.nothing"\npoints = "+5"\n', "adjust[0].rule", "a rule of the base policy"),
        (
            '[[adjust]]\nrule = "inpatient.ratio"\nlevels = ["level2"]\npoints = "+5"\n',
            "adjust[0].levels",
            "base's levels",
        ),
        ('[[adjust]]\nrule = "inpatient.ratio"\npoints = "+15"\n', "adjust[0].points", "within 0%..100%"),
        (
            '[[adjust]]\nrule = "inpatient.ratio"\npoints = "+5"\nscale = "50%"\n',
            "adjust[0]",
            "exactly one of points, scale",
        ),
        ('[[adjust]]\nrule = "inpatient.cap"\npoints = "+5"\n', "adjust[0].points", "points changes only ratio"),
        (
            '[[adjust]]\nrule = "inpatient.ratio"\npoints = "+5"\n[[inpatient.ratio]]\nratio = "80%"\n',
            "adjust[0].rule",
            "nor also writes",
        ),
        ('[[inpatient.ratio]]\nratio = "80%"\nverified = true\n', "inpatient.ratio[0].verified", "must be false"),
    ],
)
def test_bad_reforms_fail_at_load_with_the_key_path(tmp_path, body, path, allowed):
    with pytest.raises(PolicyError) as info:
        _reform(tmp_path, body)
    assert info.value.path == path and allowed in info.value.allowed
    assert info.value.file.endswith("reform.toml")


def test_a_reform_needs_its_header(tmp_path):
    with pytest.raises(PolicyError) as info:
        _reform(tmp_path, "", header='[reform]\nid = "x"\nbase = "huaibei-2025"\ntitle = "t"\ndate = 2026-01-01\n')
    assert info.value.path == "reform.author"
    with pytest.raises(medcalc.MedcalcError, match="no policy with id 'nowhere'"):
        _reform(tmp_path, "", header=HEADER.replace('"huaibei-2025"', '"nowhere"'))


def test_shipped_example_reforms_load_by_id_but_are_not_policies_of_a_region():
    reform = medcalc.load_policy("huaibei-level1-plus5")
    assert reform.at(dt.date(2025, 1, 1)).rule("inpatient.ratio")["ratio"].get("level1") == 9500
    assert "huaibei-level1-plus5" not in {p.id for p in medcalc.list_policies()}
    assert find_policy("淮北", dt.date(2025, 6, 1)).id == "huaibei-2025"


def test_a_one_line_reform_equals_the_same_reform_file(tmp_path):
    from medcalc.policy import adjusted_policy

    line = adjusted_policy("huaibei-2025", ["inpatient.ratio[level1] +5", "critical.threshold *50%"])
    file = _reform(
        tmp_path,
        '[[adjust]]\nrule = "inpatient.ratio"\nlevels = ["level1"]\npoints = "+5"\n'
        '[[adjust]]\nrule = "critical.threshold"\nscale = "50%"\n',
        header=HEADER.replace("2025-07-01", "2025-01-01"),
    )
    claims = [_claim("2025-02-01", total="30000"), _claim("2025-05-01", "level3_province", total="60000")]
    assert [s.funds for s in medcalc.settle_sequence(line, claims).settlements] == [
        s.funds for s in medcalc.settle_sequence(file, claims).settlements
    ]
    assert line.at(dt.date(2025, 2, 1)).rule("critical.threshold")["amount"] == 750_000
    assert line.at(dt.date(2025, 2, 1)).rule("inpatient.ratio").citation.source.id == "proposal"


@pytest.mark.parametrize(
    "line, message",
    [
        ("inpatient.ratio 5", "RULE[LEVELS] +POINTS or RULE *PERCENT"),
        ("inpatient.ratio[level9] +5", "adjust[0].levels"),
        ("no.such +5", "adjust[0].rule"),
    ],
)
def test_bad_one_line_reforms_say_what_is_allowed(line, message):
    from medcalc.policy import adjusted_policy

    with pytest.raises(PolicyError, match=message.replace("[", r"\[").replace("+", r"\+").replace("*", r"\*")):
        adjusted_policy("huaibei-2025", [line])


def test_cli_takes_a_one_line_reform(tmp_path, capsys):
    from medcalc.cli import main

    assert (
        main(
            [
                "simulate",
                "--policy",
                "huaibei-2025",
                "--adjust",
                "inpatient.ratio[level1] +5",
                "--rows",
                "500",
                "--json",
            ]
        )
        == 0
    )
    assert '"adjusted"' in capsys.readouterr().out
    assert main(["simulate", "--policy", "huaibei-2025", "--rows", "10"]) == 2
    assert "name a reform" in capsys.readouterr().err

"""The command line through its entry point: output at a fixed width, JSON parsed, errors pinned."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from medcalc.cli import main

CASES = Path(__file__).parents[1] / "cases" / "policies"
JIUQUAN = str(CASES / "jiuquan-2022.toml")
CLAIM = ["--date", "2022-01-20", "--total", "6500", "--self-funded", "350", "--level", "level2"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_quote_prints_the_breakdown(capsys):
    code, out, err = run(capsys, "quote", "--policy", JIUQUAN, *CLAIM, "--width", "100")
    assert (code, err) == (0, "")
    assert re.search(r"基本医保统筹 basic insurance\s+│\s+4,087\.50", out)
    assert re.search(r"个人负担 patient pays\s+│\s+2,412\.50", out)
    assert re.search(r"实际报销比例 funds / total\s+│\s+62\.88%", out)
    assert "explanation" not in out


def test_quote_explain_shows_each_step_with_its_source(capsys):
    code, out, _ = run(capsys, "quote", "--policy", JIUQUAN, *CLAIM, "--explain", "--width", "160")
    assert code == 0
    assert "explanation 计算过程" in out
    assert "5,450.00 × 75%" in out
    assert "unverified 未核实" in out
    assert "居民医保住院报销小知识" in out


def test_quote_json(capsys):
    code, out, _ = run(capsys, "quote", "--policy", JIUQUAN, *CLAIM, "--json")
    data = json.loads(out)
    assert code == 0
    assert (data["basic"], data["patient"], data["deductible"], data["in_scope"]) == (
        "4087.50",
        "2412.50",
        "700.00",
        "6150.00",
    )
    assert [s["mechanism"] for s in data["steps"]] == [
        "decompose",
        "deductible",
        "deductible_charged",
        "ratio",
        "basic_rounded",
        "basic",
        "patient",
    ]
    assert data["steps"][1]["source"]["quote"].startswith("酒泉市域内一级医疗机构起付标准200元")


def test_quote_from_a_claim_file_with_history(capsys, tmp_path):
    (tmp_path / "claim.json").write_text(
        json.dumps({"person_id": "p", "settled_on": "2022-03-01", "level": "level2", "total": "6500"})
    )
    (tmp_path / "history.json").write_text(
        json.dumps([{"settled_on": "2022-01-20", "level": "level2", "total": 6500, "self_funded": 350}])
    )
    code, out, _ = run(
        capsys,
        "quote",
        "--policy",
        JIUQUAN,
        "--claim",
        str(tmp_path / "claim.json"),
        "--history",
        str(tmp_path / "history.json"),
        "--json",
    )
    data = json.loads(out)
    assert code == 0
    assert data["accumulators_before"]["admissions"] == 1
    assert data["basic"] == "4350.00"  # (6500 − 700) × 75 %


def test_quote_on_a_shipped_policy_by_id(capsys):
    code, out, _ = run(
        capsys,
        "quote",
        "--policy",
        "jiujiang-residents",
        "--date",
        "2020-06-01",
        "--level",
        "level2",
        "--total",
        "2万",
        "--self-funded",
        "1500",
        "--json",
    )
    assert code == 0
    assert json.loads(out)["basic"] == "14480.00"  # (20000 − 1500 − 400) × 80 %


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["quote", "--policy", JIUQUAN, *CLAIM[:-2], "--level", "level9"],
            "medcalc: error: --level: unknown hospital level 'level9' for policy test-jiuquan-2022; one of level1 (一级医疗机构), level2 (二级医疗机构), level3 (三级医疗机构); "
            "did you mean level3 (三级医疗机构) or level2 (二级医疗机构) or level1 (一级医疗机构)? (got 'level9')",
        ),
        (
            ["quote", "--policy", JIUQUAN, "--date", "2022-01-20", "--total", "6千", "--level", "level2"],
            'medcalc: error: --total: amount \'6千\' is not a number of yuan such as "150", "150元" or "1.5万" (got \'6千\')',
        ),
        (
            ["quote", "--policy", JIUQUAN, "--date", "2023-01-20", "--total", "100", "--level", "level2"],
            "medcalc: error: --date: no inpatient.deductible rule in force on 2023-01-20; policy test-jiuquan-2022 covers 2022-01-01 to 2022-12-31 (got '2023-01-20')",
        ),
        (
            ["quote", "--policy", "no-such-policy", *CLAIM],
            "medcalc: error: no policy with id 'no-such-policy' in the shipped policies; known ids: anhui-2019, anhui-2025, chongqing-2023-tier1, chongqing-2023-tier2, hengnan-2019, hengyang-2023, huaibei-2025, jiujiang-employees, jiujiang-residents, luan-2021, xiuning",
        ),
        (
            ["quote", "--policy", "jiujiang-resident", *CLAIM],
            "medcalc: error: no policy with id 'jiujiang-resident' in the shipped policies; did you mean jiujiang-residents, jiujiang-employees?",
        ),
        (["quote", "--policy", "missing.toml", *CLAIM], "medcalc: error: missing.toml: no such policy file"),
        (["quote", "--policy", JIUQUAN, "--claim", "nofile.json"], "medcalc: error: nofile.json: no such file"),
        (
            ["quote", "--policy", JIUQUAN, "--total", "100", "--level", "level2"],
            "medcalc: error: settled_on: required: a date such as 2025-03-01",
        ),
    ],
)
def test_errors_are_one_line_with_exit_code_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err == message + "\n"


def test_usage_errors_exit_2(capsys):
    assert run(capsys, "quote")[1:] == ("", "medcalc: error: --policy or --region is required\n")
    assert run(capsys, "quote")[0] == 2
    with pytest.raises(SystemExit) as info:
        main(["score"])
    assert info.value.code == 2
    assert "the following arguments are required: file" in capsys.readouterr().err


def test_policy_list(capsys):
    code, out, _ = run(capsys, "policy", "list", "--json")
    rows = {r["id"]: r for r in json.loads(out)}
    assert code == 0
    assert rows["luan-2021"]["extends"] == "anhui-2019"
    assert rows["jiujiang-residents"]["covers"] == [["2020-01-01", "2020-12-31"]]
    code, out, _ = run(capsys, "policy", "list", "--width", "200")
    assert "chongqing-2023-tier2" in out and "residents 二档" in out


def test_policy_check(capsys):
    code, out, _ = run(capsys, "policy", "check", str(CASES / "inherit" / "city.toml"))
    assert code == 0
    assert out.splitlines()[:2] == [
        f"ok: test-city (测试市, residents) from {CASES / 'inherit' / 'city.toml'}",
        "  extends: test-province",
    ]
    code, _, err = run(
        capsys, "policy", "check", str(Path(__file__).parents[1] / "broken_policies" / "ratio_over_100.toml")
    )
    assert code == 2 and "inpatient.ratio[0].ratio.level1: a ratio within [0%, 100%]" in err


def test_readme_documents_every_subcommand():
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    for command in (
        "medcalc quote",
        "medcalc score",
        "medcalc policy list",
        "medcalc policy show",
        "medcalc policy check",
        "medcalc policy diff",
        "medcalc serve",
    ):
        assert command in readme


def test_quote_explains_every_layer_with_its_accumulators(capsys):
    policy = str(CASES / "critical-cumulative.toml")
    code, out, _ = run(
        capsys, "quote", "--policy", policy, "--date", "2024-05-01", "--level", "level1", "--total", "15万", "--json"
    )
    data = json.loads(out)
    assert code == 0
    assert (data["basic"], data["critical"], data["funds"], data["patient"]) == (
        "0.00",
        "93800.00",
        "93800.00",
        "56200.00",
    )
    steps = [s for s in data["steps"] if s["mechanism"].startswith("critical") or s["title"] == "大病分段 band"]
    assert [s["mechanism"] for s in steps] == [
        "critical_base",
        "critical_threshold",
        "ratio",
        "ratio",
        "ratio",
        "critical_rounded",
        "critical",
    ]
    assert steps[0]["before"] == "0.00" and steps[0]["after"] == "150000.00"
    assert [s["detail"].split(" (")[0] for s in steps[2:5]] == ["18000.00 × 60%", "70000.00 × 65%", "50000.00 × 75%"]
    assert data["accumulators_after"]["critical_paid"] == "93800.00"
    code, out, _ = run(
        capsys,
        "quote",
        "--policy",
        policy,
        "--date",
        "2024-05-01",
        "--level",
        "level1",
        "--total",
        "15万",
        "--explain",
        "--width",
        "200",
    )
    assert "大病保险 critical illness" in out and "大病起付线 annual threshold" in out


# ---------------------------------------------------------------- your own policies: --policies, MEDCALC_POLICIES

INHERIT = CASES / "inherit"
# 测试市 on 2021-07-01 (its own ratio), level 1, 10 200 yuan: (10200 − 200 deductible) × 95 % = 9500.00
OWN_CLAIM = ["--date", "2021-07-01", "--level", "level1", "--total", "10200"]


def own_policies(folder: Path, ratio: str = "95%", city_id: str = "test-city") -> Path:
    """A folder of one's own policies: the inherit fixtures (测试市 on 测试省), the city's 2021H2 ratio ``ratio``."""
    folder.mkdir(parents=True)
    for name in ("base.toml", "source.txt"):
        (folder / name).write_bytes((INHERIT / name).read_bytes())
    city = (INHERIT / "city.toml").read_text(encoding="utf-8")
    city = city.replace('"95%"', f'"{ratio}"').replace('id = "test-city"', f'id = "{city_id}"')
    (folder / "city.toml").write_text(city, encoding="utf-8")
    return folder


@pytest.fixture
def mine(tmp_path) -> Path:
    return own_policies(tmp_path / "mine" / "test")


def _leaf_parsers(parser, path=()):
    import argparse

    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
    for sub in subs:
        for name, child in sub.choices.items():
            yield from _leaf_parsers(child, path + (name,))


def test_every_command_takes_policies_folders():
    from medcalc.cli import _parser

    leaves = dict(_leaf_parsers(_parser()))
    assert {" ".join(p) for p in leaves} == {
        "quote",
        "score",
        "impact",
        "simulate",
        "reconcile",
        "policy list",
        "policy show",
        "policy check",
        "policy diff",
        "plot rates",
        "plot burden",
        "serve",
    }
    for path, parser in leaves.items():
        assert "--policies" in parser._option_string_actions, " ".join(path)


def test_quote_on_a_policy_of_ones_own_by_region_and_by_id(capsys, mine):
    for choice in (["--region", "测试市"], ["--region", "测试"], ["--policy", "test-city"]):
        code, out, err = run(capsys, "quote", "--policies", str(mine.parent), *choice, *OWN_CLAIM, "--json")
        data = json.loads(out)
        assert (code, err, data["policy"]) == (0, "", "test-city")
        assert (data["deductible"], data["basic"], data["patient"]) == ("200.00", "9500.00", "700.00")


def test_policy_tools_on_policies_of_ones_own(capsys, mine):
    folder = str(mine.parent)
    code, out, _ = run(capsys, "policy", "list", "--policies", folder, "--json")
    rows = {r["id"]: r for r in json.loads(out)}
    assert code == 0 and rows["test-city"]["file"] == str((mine / "city.toml").resolve())
    assert rows["test-city"]["extends"] == "test-province" and "huaibei-2025" in rows
    code, out, _ = run(capsys, "policy", "list", "--policies", folder, "--width", "200")
    assert f"policies of {mine.parent.resolve()} and shipped" in out
    code, out, _ = run(capsys, "policy", "show", "test-city", "--policies", folder, "--on", "2021-08-01", "--json")
    rules = {r["rule"]: r for r in json.loads(out)["rules"]}
    assert code == 0 and rules["inpatient.ratio"]["values"]["ratio"] == "level1 95%, level2 95%"
    code, out, _ = run(capsys, "policy", "check", "test-city", "--policies", folder, "--json")
    assert code == 0 and json.loads(out)["chain"] == ["test-city", "test-province"]
    code, out, _ = run(
        capsys, "policy", "diff", "test-city", "test-province", "--policies", folder, "--on", "2021-08-01", "--json"
    )
    assert code == 0 and [(c["rule"], c["a"], c["b"]) for c in json.loads(out)["changes"]] == [
        ("inpatient.ratio", "level1 95%, level2 95%", "90%")
    ]


def test_score_reconcile_impact_and_simulate_on_policies_of_ones_own(capsys, mine, tmp_path):
    folder = str(mine.parent)
    claims = tmp_path / "claims.csv"  # each row's region chooses its policy: one of one's own, one shipped
    claims.write_text(
        "person_id,settled_on,level,total,region,hifp_pay\n"
        "p1,2021-07-01,level1,10200,测试市,9500\n"
        "p2,2025-03-01,level1,1000,淮北,720\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "score", str(claims), "--policies", folder, "-o", str(tmp_path / "out.csv"), "--json")
    report = json.loads(out)
    assert (code, report["settled"], report["policy"]) == (0, 2, "test-city, huaibei-2025")
    assert report["totals"]["basic"] == "10220.00"  # 9500 + (1000 − 200) × 90 %
    code, out, _ = run(capsys, "reconcile", str(claims), "--policies", folder, "--json")
    assert (code, json.loads(out)["matched"]) == (0, 2)
    code, out, _ = run(
        capsys,
        "impact",
        str(claims),
        "--policies",
        folder,
        "--policy",
        "test-city",
        "--reform",
        "test-province",
        "--by",
        "level",
        "--json",
    )
    funds = [g["funds"] for g in json.loads(out)["groups"]["all"]]
    # every row on the baseline: 9500 + 2025's (1000 − 300) × 90 % = 630; the province's 90 % in 2021: 9000 + 630
    assert code == 0 and funds == ["10130.00", "9630.00"]
    code, out, _ = run(
        capsys,
        "simulate",
        "--policies",
        folder,
        "--policy",
        "test-city",
        "--reform",
        "test-province",
        "--rows",
        "50",
        "--json",
    )
    assert code == 0 and json.loads(out)["scenarios"] == ["test-city", "test-province"]
    code, out, _ = run(capsys, "score", str(claims), "-o", str(tmp_path / "out.csv"), "--json")
    assert code == 0 and json.loads(out)["rejected"] == 1  # without the folder, 测试市 is unknown


def test_flag_folders_come_before_the_variables_and_both_before_the_shipped(capsys, tmp_path, monkeypatch):
    flagged = own_policies(tmp_path / "flagged", ratio="80%")
    variable = own_policies(tmp_path / "variable")
    monkeypatch.setenv("MEDCALC_POLICIES", str(variable))
    basic = lambda *argv: json.loads(run(capsys, "quote", *argv, *OWN_CLAIM, "--json")[1])["basic"]  # noqa: E731
    assert basic("--policy", "test-city") == "9500.00"
    assert basic("--policies", str(flagged), "--policy", "test-city") == "8000.00"  # (10200 − 200) × 80 %
    assert basic("--policies", str(flagged), "--region", "测试市") == "8000.00"
    assert os.environ["MEDCALC_POLICIES"] == str(variable)  # the command's folders are gone after it
    shadow = own_policies(tmp_path / "shadow", city_id="huaibei-2025")  # one's own copy of a shipped id wins
    assert basic("--policies", str(shadow), "--policy", "huaibei-2025") == "9500.00"


def test_errors_about_policy_folders_name_them_and_exit_2(capsys, mine, tmp_path, monkeypatch):
    folder = str(mine.parent)
    missing, a_file = tmp_path / "nowhere", tmp_path / "claims.csv"
    a_file.write_text("x\n", encoding="utf-8")
    cases = [
        (["--policies", str(missing), "--policy", "test-city"], f"--policies {missing}: no such folder"),
        (["--policies", str(a_file), "--policy", "test-city"], f"--policies {a_file}: not a folder"),
        (
            ["--policies", folder, "--policy", "test-town"],
            f"no policy with id 'test-town' in {mine.parent.resolve()} or the shipped policies; "
            "did you mean test-city, test-province?",
        ),
        (
            ["--policies", folder, "--policies", str(INHERIT), "--region", "火星"],
            f"no policy for region '火星' in {mine.parent.resolve()}, {INHERIT.resolve()} or the shipped policies "
            "(see `medcalc policy list`)",
        ),
    ]
    for argv, message in cases:
        assert run(capsys, "quote", *argv, *OWN_CLAIM) == (2, "", f"medcalc: error: {message}\n")
    monkeypatch.setenv("MEDCALC_POLICIES", os.pathsep.join([folder, str(missing)]))
    for argv in (["quote", "--policy", "huaibei-2025", *OWN_CLAIM], ["policy", "list"]):
        assert run(capsys, *argv) == (2, "", f"medcalc: error: MEDCALC_POLICIES: {missing}: no such folder\n")

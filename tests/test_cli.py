"""The command line through its entry point: output at a fixed width, JSON parsed, errors pinned."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from medcalc.cli import main

CASES = Path(__file__).parent / "cases" / "policies"
JIUQUAN = str(CASES / "jiuquan-2022.toml")
CLAIM = ["--date", "2022-01-20", "--total", "6500", "--self-funded", "350", "--level", "level2"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_quote_prints_the_breakdown(capsys):
    code, out, err = run(capsys, "quote", "--policy", JIUQUAN, *CLAIM, "--width", "100")
    assert (code, err) == (0, "")
    assert re.search(r"基本医保统筹 basic insurance\s+│\s+4087\.50", out)
    assert re.search(r"个人负担 patient pays\s+│\s+2412\.50", out)
    assert re.search(r"实际报销比例 funds / total\s+│\s+62\.88%", out)
    assert "explanation" not in out


def test_quote_explain_shows_each_step_with_its_source(capsys):
    code, out, _ = run(capsys, "quote", "--policy", JIUQUAN, *CLAIM, "--explain", "--width", "160")
    assert code == 0
    assert "explanation 计算过程" in out
    assert "5450.00 × 75%" in out
    assert "unverified 未核实" in out
    assert "居民医保住院报销小知识" in out


def test_quote_json(capsys):
    code, out, _ = run(capsys, "quote", "--policy", JIUQUAN, *CLAIM, "--json")
    data = json.loads(out)
    assert code == 0
    assert (data["basic"], data["patient"], data["deductible"], data["in_scope"]) == ("4087.50", "2412.50", "700.00", "6150.00")
    assert [s["mechanism"] for s in data["steps"]] == ["decompose", "deductible", "deductible_charged", "ratio", "basic_rounded", "basic", "patient"]
    assert data["steps"][1]["source"]["quote"].startswith("酒泉市域内一级医疗机构起付标准200元")


def test_quote_from_a_claim_file_with_history(capsys, tmp_path):
    (tmp_path / "claim.json").write_text(json.dumps({"person_id": "p", "settled_on": "2022-03-01", "level": "level2", "total": "6500"}))
    (tmp_path / "history.json").write_text(json.dumps([{"settled_on": "2022-01-20", "level": "level2", "total": 6500, "self_funded": 350}]))
    code, out, _ = run(capsys, "quote", "--policy", JIUQUAN, "--claim", str(tmp_path / "claim.json"),
                       "--history", str(tmp_path / "history.json"), "--json")
    data = json.loads(out)
    assert code == 0
    assert data["accumulators_before"]["admissions"] == 1
    assert data["basic"] == "4350.00"  # (6500 − 700) × 75 %


def test_quote_on_a_shipped_policy_by_id(capsys):
    code, out, _ = run(capsys, "quote", "--policy", "jiujiang-residents", "--date", "2020-06-01", "--level", "level2",
                       "--total", "2万", "--self-funded", "1500", "--json")
    assert code == 0
    assert json.loads(out)["basic"] == "14480.00"  # (20000 − 1500 − 400) × 80 %


@pytest.mark.parametrize("argv, message", [
    (["quote", "--policy", JIUQUAN, *CLAIM[:-2], "--level", "level9"],
     "medcalc: error: level: unknown hospital level 'level9' for policy test-jiuquan-2022; one of level1 (一级医疗机构), level2 (二级医疗机构), level3 (三级医疗机构) (got 'level9')"),
    (["quote", "--policy", JIUQUAN, "--date", "2022-01-20", "--total", "6千", "--level", "level2"],
     "medcalc: error: total: amount '6千' is not a number of yuan such as \"150\", \"150元\" or \"1.5万\" (got '6千')"),
    (["quote", "--policy", JIUQUAN, "--date", "2023-01-20", "--total", "100", "--level", "level2"],
     "medcalc: error: settled_on: no inpatient.deductible rule in force on 2023-01-20; policy test-jiuquan-2022 covers 2022-01-01 to 2022-12-31 (got '2023-01-20')"),
    (["quote", "--policy", "no-such-policy", *CLAIM],
     "medcalc: error: no policy with id 'no-such-policy' in the shipped policies; known ids: anhui-2019, anhui-2025, chongqing-2023-tier1, chongqing-2023-tier2, hengnan-2019, hengyang-2023, huaibei-2025, jiujiang-employees, jiujiang-residents, luan-2021, xiuning"),
    (["quote", "--policy", "jiujiang-resident", *CLAIM],
     "medcalc: error: no policy with id 'jiujiang-resident' in the shipped policies; did you mean jiujiang-residents, jiujiang-employees?"),
    (["quote", "--policy", "missing.toml", *CLAIM], "medcalc: error: missing.toml: no such policy file"),
    (["quote", "--policy", JIUQUAN, "--claim", "nofile.json"], "medcalc: error: nofile.json: no such file"),
    (["quote", "--policy", JIUQUAN, "--total", "100", "--level", "level2"], "medcalc: error: settled_on: required: a date such as 2025-03-01"),
])
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
    assert out.splitlines()[:2] == [f"ok: test-city (测试市, residents) from {CASES / 'inherit' / 'city.toml'}", "  extends: test-province"]
    code, _, err = run(capsys, "policy", "check", str(Path(__file__).parent / "broken_policies" / "ratio_over_100.toml"))
    assert code == 2 and "inpatient.ratio[0].ratio.level1: a ratio within [0%, 100%]" in err


def test_readme_documents_every_subcommand():
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    for command in ("medcalc quote", "medcalc score", "medcalc policy list", "medcalc policy show",
                    "medcalc policy check", "medcalc policy diff"):
        assert command in readme


def test_quote_explains_every_layer_with_its_accumulators(capsys):
    policy = str(CASES / "critical-cumulative.toml")
    code, out, _ = run(capsys, "quote", "--policy", policy, "--date", "2024-05-01", "--level", "level1",
                       "--total", "15万", "--json")
    data = json.loads(out)
    assert code == 0
    assert (data["basic"], data["critical"], data["funds"], data["patient"]) == ("0.00", "93800.00", "93800.00", "56200.00")
    steps = [s for s in data["steps"] if s["mechanism"].startswith("critical") or s["title"] == "大病分段 band"]
    assert [s["mechanism"] for s in steps] == ["critical_base", "critical_threshold", "ratio", "ratio", "ratio",
                                               "critical_rounded", "critical"]
    assert steps[0]["before"] == "0.00" and steps[0]["after"] == "150000.00"
    assert [s["detail"].split(" (")[0] for s in steps[2:5]] == ["18000.00 × 60%", "70000.00 × 65%", "50000.00 × 75%"]
    assert data["accumulators_after"]["critical_paid"] == "93800.00"
    code, out, _ = run(capsys, "quote", "--policy", policy, "--date", "2024-05-01", "--level", "level1",
                       "--total", "15万", "--explain", "--width", "200")
    assert "大病保险 critical illness" in out and "大病起付线 annual threshold" in out

"""A bureau's own header is read (issue 26): spaces, units in brackets, traditional and full-width
characters, extra columns passed through and listed, near misses refused with "did you mean"."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from medcalc.batch.headers import edit_distance, normalize
from medcalc.batch.tables import settle_table
from medcalc.cli import main
from medcalc.errors import MedcalcError

POLICY = "jiujiang-residents"
BASIC = 1_448_000  # fen: 20 000 yuan at level2 with 1 500 yuan 全自费


@pytest.mark.parametrize(
    "name,key,unit",
    [
        ("人员编号 ", "人员编号", None),
        (" 医疗费总额(元)", "医疗费总额", "元"),
        ("医疗费总额（万元）", "医疗费总额", "万元"),
        ("醫療費總額", "医疗费总额", None),
        ("人員編號", "人员编号", None),
        ("結算日期", "结算日期", None),
        ("ＰＳＮ＿ＮＯ", "psn_no", None),
        ("Total", "total", None),
        ("全自费金额【元】", "全自费金额", "元"),
        ("medfee_sumamt [yuan]", "medfee_sumamt", "元"),
        ("(元)", "(元)", None),
    ],
)
def test_headers_are_normalized_before_matching(name, key, unit):
    assert (normalize(name).key, normalize(name).unit) == (key, unit)


@pytest.mark.parametrize(
    "headers",
    [
        ["人员编号 ", "结算日期", "医院等级", "医疗费总额(元)", "全自费金额（元）"],
        ["人員編號", "結算日期", "醫院等級", "醫療費總額", "全自費金額"],
        ["ＰＳＮ＿ＮＯ", "SETL_TIME", "level", " medfee_sumamt ", "fulamt_ownpay_amt"],
    ],
)
def test_a_bureaus_header_settles_like_medcalcs(headers):
    table = pa.table(dict(zip(headers, [["p1"], ["2020-06-01"], ["level2"], ["20000"], ["1500"]])))
    scored = settle_table(table, POLICY)
    assert scored.results.column("basic").to_pylist() == [BASIC] and scored.rejects.num_rows == 0


def test_a_header_in_wan_reads_its_numbers_as_wan():
    table = pa.table(
        {
            "人员编号": ["p1", "p2", "p3"],
            "结算日期": ["2020-06-01"] * 3,
            "医院等级": ["level2"] * 3,
            "医疗费总额(万元)": ["2", "1.5万", "20000元"],
            "全自费(万元)": ["0.15", "", "1500元"],
        }
    )
    scored = settle_table(table, POLICY)
    assert scored.results.column("total").to_pylist() == [2_000_000, 1_500_000, 2_000_000]
    assert scored.results.column("basic").to_pylist()[0] == scored.results.column("basic").to_pylist()[2] == BASIC


def test_an_integer_column_whose_header_says_yuan_needs_no_unit():
    table = pa.table(
        {
            "person_id": ["p1"],
            "settled_on": ["2020-06-01"],
            "level": ["level2"],
            "total(元)": pa.array([20000]),
            "self_funded": pa.array(["1500"]),
        }
    )
    assert settle_table(table, POLICY).results.column("basic").to_pylist() == [BASIC]


def test_extra_columns_pass_through_and_are_listed_once(capsys, tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text(
        "姓名,人员编号,结算日期,医院等级,医疗费总额,全自费,备注,科室\n"
        "张三,p1,2020-06-01,level2,20000,1500,,内科\n李四,p2,2020-06-01,level2,20000,1500,复诊,外科\n",
        encoding="utf-8",
    )
    assert main(["score", str(path), "--policy", POLICY, "-o", str(tmp_path / "o.csv"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["settled"], summary["columns_not_used"]) == (2, ["姓名", "备注", "科室"])
    assert main(["score", str(path), "--policy", POLICY, "-o", str(tmp_path / "o.csv")]) == 0
    assert capsys.readouterr().out.count("columns not used (no claim field; passed through): 姓名, 备注, 科室") == 1


@pytest.mark.parametrize(
    "name,meant",
    [
        ("totl", "total"),
        ("levle", "level"),
        ("self_fundd", "self_funded"),
        ("全自费金", "全自费金额"),
        ("medfee_sumamnt", "medfee_sumamt"),
        ("Setl_Tme", "setl_time"),
    ],
)
def test_a_near_miss_is_refused_with_did_you_mean(name, meant):
    table = (
        pa.table(
            {"person_id": ["p1"], "settled_on": ["2020-06-01"], "level": ["level2"], "total": ["20000"], name: ["1"]}
        )
        if meant not in ("total", "level", "setl_time")
        else pa.table(
            {"person_id": ["p1"], "settled_on": ["2020-06-01"], "level": ["level2"], "total": ["20000"]}
        ).rename_columns(
            [
                "person_id",
                "settled_on" if meant != "setl_time" else name,
                name if meant == "level" else "level",
                name if meant == "total" else "total",
            ]
        )
    )
    with pytest.raises(MedcalcError, match=f"did you mean '{meant}'"):
        settle_table(table, POLICY)


@pytest.mark.parametrize("name", ["姓名", "备注", "科室", "医院名称", "身份证号", "name", "notes", "dept"])
def test_common_extra_columns_are_no_near_miss(name):
    table = pa.table(
        {"person_id": ["p1"], "settled_on": ["2020-06-01"], "level": ["level2"], "total": ["20000"], name: ["x"]}
    )
    assert settle_table(table, POLICY).unused == (name,)


def test_a_sheet_naming_no_claim_field_exits_2(capsys, tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("note,remark\nhello,world\n")
    assert main(["score", str(path), "--policy", POLICY, "-o", str(tmp_path / "o.csv")]) == 2
    assert "no column is a claim field (the columns: 'note', 'remark')" in capsys.readouterr().err


def test_edit_distance_counts_a_swap_as_one():
    assert [edit_distance(*p) for p in (("levle", "level"), ("kitten", "sitting"), ("", "abc"), ("ab", "ab"))] == [
        1,
        3,
        3,
        0,
    ]


def test_reconcile_and_impact_skip_title_rows_and_take_limits(capsys, tmp_path):
    extract = tmp_path / "extract.csv"
    extract.write_text(
        "对账\npsn_no,setl_time,level,medfee_sumamt,hifp_pay\n"
        "p1,2020-06-01,level2,20000,15680\np2,2020-06-01,level2,20000,15000\n"
    )
    assert main(["reconcile", str(extract), "--policy", POLICY, "--json"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert (report["rows"], [d["row"] for d in report["differences"]]) == (2, [4])  # line 4 of the file
    assert main(["reconcile", str(extract), "--policy", POLICY, "--limit", "max_columns=2"]) == 2
    assert "over the limit max_columns=2" in capsys.readouterr().err
    assert (
        main(
            [
                "impact",
                str(extract),
                "--policy",
                POLICY,
                "--adjust",
                "inpatient.ratio[level2] +5",
                "--header-row",
                "2",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["rows"] == 2

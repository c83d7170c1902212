"""Chinese words for claim codes and Chinese column headers, through the API, the CLI and tables."""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pytest

import medcalc
from medcalc.batch.tables import settle_table
from medcalc.cli import main
from medcalc.errors import ClaimError

BASE = dict(person_id="p", settled_on="2020-06-01", total=50000, self_funded=1500)

# (policy, the claim by codes, the same claim by words, funds in yuan)
CASES = [
    ("jiujiang-residents", dict(level="level3"), dict(level="三级"), "28740.00"),
    ("jiujiang-residents", dict(level="level3"), dict(level="三级医院"), "28740.00"),
    ("jiujiang-residents", dict(level="level3"), dict(level="3"), "28740.00"),
    ("jiujiang-residents", dict(level="level3"), dict(level="三甲"), "28740.00"),
    ("jiujiang-residents", dict(level="level2"), dict(level="市内二级医疗机构"), None),
    (
        "jiujiang-residents",
        dict(level="level2", place="out_of_province", referral="referred"),
        dict(level="二级", place="跨省", referral="转诊"),
        "23950.00",
    ),
    (
        "jiujiang-residents",
        dict(level="level2", place="in_province", referral="not_referred"),
        dict(level="二级", place="省内异地", referral="未转诊"),
        "19080.00",
    ),
    ("jiujiang-residents", dict(level="level2", scheme="residents"), dict(level="二级", scheme="居民"), None),
    (
        "xiuning",
        dict(settled_on="2025-03-01", level="level1", category="dibao"),
        dict(settled_on="2025-03-01", level="一级及以下", category="低保"),
        "46991.00",
    ),
    (
        "xiuning",
        dict(settled_on="2025-03-01", level="level1", category="tekun"),
        dict(settled_on="2025-03-01", level="一级", category="特困人员"),
        "47997.00",
    ),
    (
        "huaibei-2025",
        dict(
            settled_on="2025-03-01",
            level="level1",
            visit="outpatient",
            service="two_diseases",
            diseases="高血压",
            total=400,
            self_funded=0,
        ),
        dict(
            settled_on="2025-03-01",
            level="一级及以下医疗机构",
            visit="门诊",
            service="两病",
            diseases="高血压",
            total=400,
            self_funded=0,
        ),
        "150.00",
    ),
    # 九江's pages are in traditional characters: 縣級醫療機構, 高血壓; either script names them
    (
        "jiujiang-residents",
        dict(level="county", visit="outpatient", service="two_diseases", diseases="高血壓", total=400, self_funded=0),
        dict(level="县级医疗机构", visit="门诊", service="门诊两病", diseases="高血压", total=400, self_funded=0),
        "200.00",
    ),
]


def _claim(**fields):
    return medcalc.Claim(**{**BASE, **fields})


@pytest.mark.parametrize("policy, codes, words, funds", CASES)
def test_words_settle_to_the_fen_of_their_codes(policy, codes, words, funds):
    by_code = medcalc.settle(policy, _claim(**codes))
    by_word = medcalc.settle(policy, _claim(**words))
    assert by_word.to_dict() == by_code.to_dict()
    if funds is not None:
        assert str(by_word.funds) == funds


def test_policy_free_words_are_codes_at_construction():
    claim = _claim(level="三级", place="本地", referral="急诊", category="返贫致贫", scheme="职工", visit="住院")
    assert (claim.place, claim.referral, claim.category, claim.scheme, claim.visit) == (
        "local",
        "emergency",
        "poverty",
        "employees",
        "inpatient",
    )
    assert claim.level == "三级"  # a level depends on the policy: resolved where it is known


def test_an_unknown_word_gets_the_closest_codes_with_their_labels():
    with pytest.raises(ClaimError) as info:
        _claim(level="level3", category="低宝")
    assert str(info.value) == (
        "category: must be one of ordinary (普通), tekun (特困), dibao (低保), low_income (低收入), poverty (返贫致贫), "
        "monitored (监测对象), illness_poverty (因病致困); did you mean dibao (低保)? (got '低宝')"
    )
    with pytest.raises(ClaimError) as info:
        medcalc.settle("jiujiang-residents", _claim(level="三级医"))
    assert str(info.value).startswith(
        "level: unknown hospital level '三级医' for policy jiujiang-residents; one of level1 (市内一级医疗机构), "
        "level2 (市内二级医疗机构), level3 (市内三级医疗机构); did you mean level3 (市内三级医疗机构)"
    )


def test_a_common_form_two_levels_share_is_refused_naming_both():
    claim = medcalc.Claim(person_id="p", settled_on="2019-08-01", total=2000, level="三级")
    with pytest.raises(ClaimError) as info:
        medcalc.settle("anhui-2019", claim)
    assert str(info.value) == (
        "level: hospital level '三级' is ambiguous in policy anhui-2019: it has level3_city (三级(市属)医疗机构) and "
        "level3_province (三级(省属)医疗机构); name one (got '三级')"
    )
    by_label = medcalc.Claim(person_id="p", settled_on="2019-08-01", total=2000, level="三级（市属）")
    by_code = medcalc.Claim(person_id="p", settled_on="2019-08-01", total=2000, level="level3_city")
    assert medcalc.settle("anhui-2019", by_label).funds == medcalc.settle("anhui-2019", by_code).funds


def test_unknown_service_word_suggests_the_service():
    claim = _claim(
        settled_on="2025-03-01", level="level1", visit="outpatient", service="普通门", total=100, self_funded=0
    )
    with pytest.raises(ClaimError, match=r"did you mean general \(普通门诊\)"):
        medcalc.settle("huaibei-2025", claim)


def _quote(capsys, *flags):
    code = main(
        [
            "quote",
            "--policy",
            "jiujiang-residents",
            "--date",
            "2020-06-01",
            "--total",
            "50000",
            "--self-funded",
            "1500",
            "--json",
            *flags,
        ]
    )
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_flags_take_the_words(capsys):
    code, out, err = _quote(capsys, "--level", "二级", "--place", "跨省", "--referral", "转诊", "--category", "低保")
    assert (code, err) == (0, "")
    by_word = json.loads(out)
    code, out, err = _quote(
        capsys, "--level", "level2", "--place", "out_of_province", "--referral", "referred", "--category", "dibao"
    )
    assert json.loads(out) == by_word
    assert by_word["funds"] == "23950.00"


def test_cli_unknown_word_exits_2_with_suggestions(capsys):
    code, out, err = _quote(capsys, "--level", "二级", "--place", "跨生")
    assert (code, out) == (2, "")
    assert err == (
        "medcalc: error: --place: must be one of local (市内), in_province (省内异地), out_of_province (跨省); "
        "did you mean out_of_province (跨省)? (got '跨生')\n"
    )
    with pytest.raises(SystemExit) as info:  # argparse's own exit, for a flag of a fixed vocabulary
        main(
            [
                "quote",
                "--region",
                "九江",
                "--scheme",
                "居名",
                "--date",
                "2020-06-01",
                "--total",
                "100",
                "--level",
                "level1",
            ]
        )
    out, err = capsys.readouterr()
    assert info.value.code == 2
    assert err == (
        "medcalc: error: argument --scheme: must be one of residents (城乡居民), employees (职工); "
        "did you mean residents (城乡居民)? (got '居名')\n"
    )


def test_batch_dictionary_columns_take_the_words():
    def table(level, place, referral, category):
        n = len(level)
        return pa.table(
            {
                "person_id": [f"p{i}" for i in range(n)],
                "settled_on": ["2020-06-01"] * n,
                "total": ["50000"] * n,
                "self_funded": ["1500"] * n,
                **{
                    name: pa.array(values).dictionary_encode()
                    for name, values in (
                        ("level", level),
                        ("place", place),
                        ("referral", referral),
                        ("category", category),
                    )
                },
            }
        )

    words = settle_table(
        table(
            ["三级", "二级", "二级医院", "市内一级医疗机构"],
            ["市内", "跨省", "省内异地", "本地"],
            ["无", "转诊", "未转诊", "无"],
            ["低保", "普通", "特困", "监测对象"],
        ),
        "jiujiang-residents",
        amounts="fen",
    )
    codes = settle_table(
        table(
            ["level3", "level2", "level2", "level1"],
            ["local", "out_of_province", "in_province", "local"],
            ["none", "referred", "not_referred", "none"],
            ["dibao", "ordinary", "tekun", "monitored"],
        ),
        "jiujiang-residents",
        amounts="fen",
    )
    assert words.rejects.num_rows == 0
    assert words.results.column("funds").to_pylist() == codes.results.column("funds").to_pylist()
    assert words.results.column("funds").to_pylist()[:3] == [2874000, 2395000, 1908000]


def test_a_batch_word_outside_the_vocabulary_is_rejected_not_guessed():
    t = pa.table(
        {
            "person_id": ["a", "b"],
            "settled_on": ["2019-08-01"] * 2,
            "total": ["2000"] * 2,
            "level": pa.array(["三级", "level3_city"]).dictionary_encode(),
        }
    )
    scored = settle_table(t, "anhui-2019", amounts="fen")  # 三级 is two levels of anhui-2019
    assert scored.rejects.column("row").to_pylist() == [0]
    assert scored.rejects.column("field").to_pylist() == ["level"]


def test_csv_with_chinese_headers_is_scored(tmp_path, capsys):
    path = tmp_path / "claims.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "人员编号",
                "结算日期",
                "医院等级",
                "医疗费总额",
                "全自费金额",
                "超限价自费金额",
                "先行自付金额",
                "就诊类型",
                "险种类型",
            ]
        )
        w.writerow(["p1", "2020-06-01", "三级", "50000", "1000", "300", "200", "住院", "居民"])
        w.writerow(["p2", "2020-06-01", "二级医院", "20000", "0", "0", "0", "住院", "居民"])
    out = tmp_path / "out.csv"
    assert (
        main(["score", str(path), "--policy", "jiujiang-residents", "-o", str(out), "--names", "chinese", "--json"])
        == 0
    )
    capsys.readouterr()
    rows = list(csv.DictReader(open(out, encoding="utf-8-sig")))
    by_code = medcalc.settle_many(
        "jiujiang-residents",
        [
            medcalc.Claim(
                person_id="p1",
                settled_on="2020-06-01",
                level="level3",
                total=50000,
                self_funded=1000,
                over_limit=300,
                pre_self_pay=200,
            ),
            medcalc.Claim(person_id="p2", settled_on="2020-06-01", level="level2", total=20000),
        ],
    )
    assert [r["基金支付总额"] for r in rows] == [str(s.funds) for s in by_code.settlements]
    assert [r["符合政策范围金额"] for r in rows] == ["48500.00", "20000.00"]

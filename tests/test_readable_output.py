"""Output a person can read: numbers whole and grouped, tables that fit 80–120 columns, rows
counted from 1, rejects naming the file's own column and the bad value, a quote header in words,
and ``--explain`` within 80 columns (measured in terminal cells: a CJK character is two)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from rich.cells import cell_len

from medcalc.cli import main

CASES = Path(__file__).parent / "cases" / "policies"
WIDTHS = (80, 100, 120)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def widest(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


def inner(text: str) -> list[str]:
    """The lines of a panel without its borders."""
    return [line.strip("│╭╮╰╯ ") for line in text.splitlines()]


def assert_no_number_split(text: str) -> None:
    """No line ends inside a number that the next line goes on with, and nothing is ellipsized."""
    assert "…" not in text
    lines = inner(text)
    for before, after in zip(lines, lines[1:]):
        if not (before and after) or re.match(r"\d+\. .*\s{2,}[\d,]+\.\d\d$", before):
            continue  # a step's title line ends with its amount, right-aligned
        assert not (before[-1].isdigit() and after[0].isdigit() or before[-1] in ".," and after[0].isdigit()), \
            (before, after)


# ---------------------------------------------------------------- the quote: header and --explain

def test_quote_header_names_the_person_the_visit_the_service_and_the_level_in_words(capsys):
    code, out, err = run(capsys, "quote", "--region", "淮北", "--date", "2025-03-01", "--visit", "outpatient",
                         "--service", "two_diseases", "--diseases", "高血压,糖尿病", "--level", "level1",
                         "--total", "400", "--person", "张三", "--age", "67", "--category", "低保", "--width", "80")
    assert (code, err) == (0, "")
    head = " ".join(inner(out)[1:6])
    for words in ("huaibei-2025", "淮北市", "person 张三", "城乡居民 residents", "低保 dibao", "67岁", "门诊 outpatient",
                  "两病 two_diseases", "病种 糖尿病, 高血压", "一级及以下医疗机构 (level1)", "市内 local", "settled 2025-03-01"):
        assert words in head, words
    assert "level level1" not in out and widest(out) <= 80


def test_quote_header_gives_the_place_the_referral_and_a_common_form_of_the_level_as_the_policy_names_it(capsys):
    code, out, _ = run(capsys, "quote", "--region", "九江", "--scheme", "居民", "--date", "2020-06-01", "--level", "三级",
                       "--place", "跨省", "--referral", "转诊", "--total", "5万", "--width", "80")
    assert code == 0
    assert "市内三级医疗机构 (level3)" in out and "跨省 out_of_province, 转诊 referred" in out
    assert re.search(r"医疗费总额 total\s+│\s+50,000\.00", out)  # amounts grouped


EXPLAINED = [
    ["--policy", "luan-2021", "--date", "2021-05-01", "--level", "level2", "--total", "1.2万"],
    ["--policy", str(CASES / "critical-cumulative.toml"), "--date", "2024-05-01", "--level", "level1", "--total", "15万"],
    ["--region", "九江", "--scheme", "employees", "--date", "2020-06-01", "--level", "level3", "--total", "80万"],
    ["--region", "淮北", "--date", "2025-03-01", "--visit", "outpatient", "--service", "day_ward", "--level", "level1",
     "--total", "3000", "--bed-fees", "400"],
]


@pytest.mark.parametrize("claim", EXPLAINED)
def test_quote_explain_fits_80_columns_and_splits_no_number(capsys, monkeypatch, claim):
    monkeypatch.setenv("COLUMNS", "80")  # as a terminal 80 columns wide tells rich
    code, out, err = run(capsys, "quote", *claim, "--explain")
    assert (code, err) == (0, "")
    assert "explanation 计算过程" in out
    assert widest(out) <= 80
    assert_no_number_split(out)
    code, data, _ = run(capsys, "quote", *claim, "--json")
    untitled = [re.sub(r"\s{2,}[\d,]+\.\d\d$", "", line) for line in inner(out)]  # the amounts beside titles
    flowing = re.sub(r"\s+", " ", " ".join(untitled))
    for step in json.loads(data)["steps"]:  # every step's title (wrapped at a space, if at all) and amount, whole
        assert step["title"] in flowing
        if step["amount"] is not None:
            whole, cents = step["amount"].split(".")
            assert f"{int(whole):,}.{cents}" in out


def test_quote_explain_keeps_a_number_with_its_unit_in_a_wrapped_chinese_quote(capsys):
    code, out, _ = run(capsys, "quote", "--policy", "luan-2021", "--date", "2021-05-01", "--level", "level2",
                       "--total", "1.2万", "--explain", "--width", "80")
    text = "".join(inner(out))
    for piece in ("起付线200元", "起付线500元", "起付线700元", "起付线1000元", "报销比例85%"):
        assert piece in text
    lines = inner(out)
    assert not any(re.search(r"\d$", a) and re.match(r"\d", b) for a, b in zip(lines, lines[1:]))

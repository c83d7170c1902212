"""Errors a policy author can act on: where a quote leaves its source, values as written, the
allowed values of a missing choice, a layer's rules as a sentence; quotes of several passages;
and the [policy] not_encoded list, checked against the rules the policy defines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import medcalc
from medcalc import PolicyError
from medcalc.policy.registry import clear_caches

SOURCE = "一级医疗机构起付线200元,报销比例90%;二级医疗机构起付线500元,报销比例80%。年度最高支付限额为10万元。"

HEADER = """[policy]
id = "p"
region = "测试市"
scheme = "residents"
{policy_extra}
[levels]
level1 = "一级"
level2 = "二级"

[sources.fixture]
title = "测试文件"
official = true
file = "source.txt"

[[inpatient.deductible]]
since = 2020-01-01
amount = {{ level1 = 200, level2 = 500 }}
source = "fixture"
quote = "一级医疗机构起付线200元"
"""

RATIO = """
[[inpatient.ratio]]
since = 2020-01-01
ratio = { level1 = "90%", level2 = "80%" }
source = "fixture"
quote = "报销比例90%"
"""


@pytest.fixture
def folder(tmp_path):
    clear_caches()
    (tmp_path / "source.txt").write_text(SOURCE, encoding="utf-8")
    yield tmp_path
    clear_caches()


def _write(folder: Path, text: str, policy_extra: str = "") -> Path:
    path = folder / "p.toml"
    path.write_text(HEADER.format(policy_extra=policy_extra) + text, encoding="utf-8")
    return path


def _refused(path: Path) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        medcalc.load_policy(path)
    return info.value


# ------------------------------------------------------------------ quotes


def test_a_value_from_two_sentences_cites_both_and_each_is_checked(folder):
    cap = (
        '\n[[inpatient.cap]]\nsince = 2020-01-01\nfund = "10万"\nsource = "fixture"\n'
        'quote = ["一级医疗机构起付线200元", "年度最高支付限额为10万元"]\n'
    )
    policy = medcalc.load_policy(_write(folder, RATIO + cap))
    citation = policy.at(dt.date(2020, 6, 1)).rule("inpatient.cap").citation
    assert citation.quotes == ("一级医疗机构起付线200元", "年度最高支付限额为10万元")
    assert citation.quote == "一级医疗机构起付线200元 … 年度最高支付限额为10万元"
    s = medcalc.settle(policy, medcalc.Claim(person_id="p", settled_on="2020-06-01", level="level1", total="20万"))
    assert medcalc.format_yuan(s.basic) == "100000.00"  # (200000 − 200) × 90 % = 179820, capped at 10万


def test_a_list_with_one_bad_quote_fails_at_load_naming_file_key_value_and_what_is_allowed(folder):
    cap = (
        '\n[[inpatient.cap]]\nsince = 2020-01-01\nfund = "10万"\nsource = "fixture"\n'
        'quote = ["一级医疗机构起付线200元", "年度最高支付限额为20万元"]\n'
    )
    err = _refused(_write(folder, RATIO + cap))
    assert err.file.endswith("p.toml")
    assert err.path == "inpatient.cap[0].quote[1]"
    assert err.found == "年度最高支付限额为20万元"
    assert err.allowed.startswith(
        "a verbatim quote of the text of source 'fixture'; they first differ at "
        "character 10 of the quote (whitespace ignored): after '年度最高支付限额为' "
        "it has '2' where the source has '1'"
    )


@pytest.mark.parametrize(
    "quote, path, found",
    [
        ("[]", "inpatient.ratio[0].quote", []),
        ('["报销比例90%", ""]', "inpatient.ratio[0].quote[1]", ""),
        ('["报销比例90%", 90]', "inpatient.ratio[0].quote[1]", 90),
    ],
)
def test_a_quote_list_must_hold_passages(folder, quote, path, found):
    err = _refused(_write(folder, RATIO.replace('quote = "报销比例90%"', f"quote = {quote}")))
    assert (err.path, err.found) == (path, found)
    assert "one contiguous passage, or an array of passages" in err.allowed


def test_a_misquote_shows_where_it_leaves_the_source_with_a_snippet(folder):
    err = _refused(_write(folder, RATIO.replace("报销比例90%", "报销比例95%")))
    assert str(err) == (
        f"{folder / 'p.toml'}: inpatient.ratio[0].quote: a verbatim quote of the text of source 'fixture'; they "
        "first differ at character 6 of the quote (whitespace ignored): after '报销比例9' it has '5' where the "
        "source has '0' (source there: '…付线200元,报销比例90%;二级医疗机构起付线…') (got '报销比例95%')"
    )


def test_a_misquote_that_differs_by_character_width_says_so(folder):
    err = _refused(_write(folder, RATIO.replace('quote = "报销比例90%"', 'quote = "起付线200元，报销比例90%"')))
    assert err.path == "inpatient.ratio[0].quote"
    assert "after '起付线200元' it has the full-width '，' where the source has the half-width ','" in err.allowed
    assert err.allowed.endswith(
        "the quote matches if full-width and half-width characters are read alike: "
        "copy them as the source text writes them"
    )
    err = _refused(_write(folder, RATIO.replace('quote = "报销比例90%"', 'quote = "报销比例90％"')))
    assert "it has the full-width '％' where the source has the half-width '%'" in err.allowed


def test_a_quote_whose_first_character_is_not_in_the_source(folder):
    err = _refused(_write(folder, RATIO.replace("报销比例90%", "住院")))
    assert "its first character '住' is nowhere in the source text" in err.allowed


# ------------------------------------------------------------------ values as written, allowed values


@pytest.mark.parametrize(
    "body, path, found",
    [
        # a ceiling without disease caps: the value as written, not 10000000 fen
        ('levels = ["level1"]\nratio = "50%"\nceiling = "10万"', "outpatient.service.s[0].ceiling", "10万"),
        ('levels = ["level1"]\nfixed = 9\ndeductible = "1.5万"', "outpatient.service.s[0].deductible", "1.5万"),
    ],
)
def test_errors_show_a_value_as_it_was_written(folder, body, path, found):
    service = f'\n[[outpatient.service.s]]\nsince = 2020-01-01\n{body}\nsource = "fixture"\nquote = "报销比例90%"\n'
    err = _refused(_write(folder, RATIO + service))
    assert (err.path, err.found) == (path, found)
    assert f"(got {found!r})" in str(err)


@pytest.mark.parametrize(
    "value, path, found, allowed",
    [
        (
            '{ amount = 300, per = "week" }',
            "outpatient.service.s[0].period_cost_cap.per",
            "week",
            "one of 'month', 'quarter'",
        ),
        (
            '{ amount = "三百", per = "month" }',
            "outpatient.service.s[0].period_cost_cap.amount",
            "三百",
            "an amount of yuan",
        ),
        ("{ amount = 300 }", "outpatient.service.s[0].period_cost_cap.per", None, "a value (required)"),
        (
            '{ amount = 300, per = "month", every = 2 }',
            "outpatient.service.s[0].period_cost_cap.every",
            "every",
            "one of the keys amount, per",
        ),
        ("300", "outpatient.service.s[0].period_cost_cap", 300, "a table with keys amount, per"),
    ],
)
def test_a_bad_period_cost_cap_names_the_key_the_value_and_what_is_allowed(folder, value, path, found, allowed):
    service = (
        f'\n[[outpatient.service.s]]\nsince = 2020-01-01\nlevels = ["level1"]\nratio = "50%"\n'
        f'period_cost_cap = {value}\nsource = "fixture"\nquote = "报销比例90%"\n'
    )
    err = _refused(_write(folder, RATIO + service))
    assert err.path == path and allowed in err.allowed
    assert "p.toml" in str(err)
    if found is not None:
        assert err.found == found and f"(got {found!r})" in str(err)


def test_a_period_cost_cap_is_not_for_a_fixed_payment(folder):
    service = (
        '\n[[outpatient.service.s]]\nsince = 2020-01-01\nlevels = ["level1"]\nfixed = 9\n'
        'period_cost_cap = { amount = 300, per = "month" }\nsource = "fixture"\nquote = "报销比例90%"\n'
    )
    err = _refused(_write(folder, RATIO + service))
    assert (err.path, err.allowed) == ("outpatient.service.s[0].period_cost_cap", "not with a fixed payment")
    assert err.found == {"amount": 300, "per": "month"}


def test_band_bounds_in_errors_are_as_written(folder):
    bands = (
        "\n[[critical.base]]\nsince = 2020-01-01\ndeductible = true\ncoinsurance = true\nabove_cap = true\n"
        'pre_self_pay = false\nsource = "fixture"\nquote = "报销比例90%"\n'
        '\n[[critical.threshold]]\nsince = 2020-01-01\namount = "1.5万"\nsource = "fixture"\nquote = "报销比例90%"\n'
        '\n[[critical.bands]]\nsince = 2020-01-01\nconvention = "cumulative"\n'
        'bands = [ { below = "10万", ratio = "60%" }, { below = "5万", ratio = "70%" }, { below = "20万", ratio = "80%" } ]\n'
        'source = "fixture"\nquote = "报销比例90%"\n'
    )
    err = _refused(_write(folder, RATIO + bands))
    assert (err.path, err.found) == ("critical.bands[0].bands[1].below", "5万")
    assert "the previous band's below = '10万'" in err.allowed
    err = _refused(
        _write(folder, RATIO + bands.replace('{ below = "5万", ratio = "70%" }', '{ below = "15万", ratio = "70%" }'))
    )
    assert (err.path, err.found) == ("critical.bands[0].bands[2].below", "20万")
    assert "no 'below' bound on the last band" in err.allowed


@pytest.mark.parametrize(
    "missing, allowed",
    [
        ("segments", 'one of "marginal"'),
        ("basis", 'one of "in_scope"'),
    ],
)
def test_a_missing_basis_or_segments_lists_the_allowed_values(folder, missing, allowed):
    ratio = (
        '\n[[inpatient.ratio]]\nsince = 2020-01-01\nsegments = "marginal"\nbasis = "in_scope"\n'
        'bands = [ { below = 6000, ratio = "60%" }, { ratio = "80%" } ]\nsource = "fixture"\nquote = "报销比例90%"\n'
    )
    err = _refused(_write(folder, ratio.replace(f"{missing} = ", "# ")))
    assert err.path == f"inpatient.ratio[0].{missing}"
    assert err.allowed.startswith(f"a value (required with bands): {allowed}")
    assert ('"step"' if missing == "segments" else '"above_deductible"') in err.allowed


def test_rules_of_a_layer_in_force_together_reads_as_a_sentence(folder):
    base = (
        "\n[[critical.base]]\nsince = 2020-01-01\ndeductible = true\ncoinsurance = true\nabove_cap = true\n"
        'pre_self_pay = false\nsource = "fixture"\nquote = "报销比例90%"\n'
    )
    err = _refused(_write(folder, RATIO + base))
    assert str(err) == (
        f"{folder / 'p.toml'}: critical: the layer runs only with critical.base, critical.threshold and "
        "critical.bands all in force on the same days, but on 2020-01-01 critical.base is in force and "
        "critical.threshold and critical.bands are not: give them a version for that day, or end critical.base "
        "before it"
    )


# ------------------------------------------------------------------ not_encoded


def test_not_encoded_lists_rules_that_are_absent(folder):
    policy = medcalc.load_policy(_write(folder, RATIO, 'not_encoded = ["critical", "outpatient.service.chronic"]'))
    assert policy.not_encoded == ("critical", "outpatient.service.chronic")


@pytest.mark.parametrize(
    "listed, defined",
    [
        ("inpatient.ratio", "inpatient.ratio"),
        ("inpatient", "inpatient.deductible, inpatient.ratio"),
    ],
)
def test_not_encoded_naming_a_rule_the_file_defines_fails_at_load(folder, listed, defined):
    err = _refused(_write(folder, RATIO, f'not_encoded = ["critical", "{listed}"]'))
    assert (err.path, err.found) == ("policy.not_encoded[1]", listed)
    assert err.allowed.startswith(f"a rule this policy does not define; it defines {defined} (")


@pytest.mark.parametrize(
    "value, path",
    [
        ('"critical"', "policy.not_encoded"),
        ('["critical.thresholds"]', "policy.not_encoded[0]"),
        ('["inpatient.ratio.level1"]', "policy.not_encoded[0]"),
    ],
)
def test_not_encoded_names_known_rules(folder, value, path):
    err = _refused(_write(folder, RATIO, f"not_encoded = {value}"))
    assert err.path == path
    assert "a rule family" in err.allowed


def test_not_encoded_is_checked_against_inherited_rules(tmp_path):
    clear_caches()
    city = tmp_path / "city.toml"
    city.write_text(
        '[policy]\nid = "city"\nregion = "某市"\nscheme = "residents"\nextends = "huaibei-2025"\n'
        'not_encoded = ["outpatient.service.day_ward"]\n',
        encoding="utf-8",
    )
    err = _refused(city)
    assert (err.path, err.found) == ("policy.not_encoded[0]", "outpatient.service.day_ward")
    assert "huaibei-2025.toml" in err.allowed

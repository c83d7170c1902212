"""The claim record: conversions, defaults, and errors that name the field."""

import datetime as dt

import pytest

from medcalc import Claim, ClaimError, Fen


def claim(**kw):
    base = dict(person_id="p", settled_on="2025-03-01", total=10000, level="level1")
    base.update(kw)
    return Claim(**base)


def test_amounts_are_yuan_and_in_scope_is_derived():
    c = claim(total="1.2万", self_funded=1000, over_limit="500元", pre_self_pay=Fen(10))
    assert c.total == 1200000
    assert c.in_scope_cost == 1200000 - 100000 - 50000 - 10


@pytest.mark.parametrize("text", ["2025-03-01", "20250301", "2025/3/1", "2025年3月1日", dt.date(2025, 3, 1)])
def test_dates(text):
    assert claim(settled_on=text).settled_on == dt.date(2025, 3, 1)


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(total=-1), "total: amount must not be negative (got -1)"),
        (
            dict(total=1.5),
            'total: amount 1.5 must be an integer, a Decimal or a string such as "1.5万" (floats are inexact) (got 1.5)',
        ),
        (dict(settled_on="3/1"), "settled_on: must be a date such as 2025-03-01 (got '3/1')"),
        (dict(settled_on="2025-02-30"), "settled_on: must be a date such as 2025-03-01 (got '2025-02-30')"),
        (dict(level=None), "level: required: the hospital level code of the policy"),
        (
            dict(place="abroad"),
            "place: must be one of local (市内), in_province (省内异地), out_of_province (跨省) (got 'abroad')",
        ),
        (
            dict(place="in_province"),
            "referral: required for care outside the insured area: one of referred, emergency, resident, not_referred (got 'none')",
        ),
        (
            dict(self_funded=20000),
            "total: must be at least 全自费 + 超限价 + 乙类先行自付 = 20000.00 yuan (got '10000.00')",
        ),
        (
            dict(self_funded=10, in_scope=50),
            "in_scope: must equal total − 全自费 − 超限价 − 乙类先行自付 = 9990.00 yuan when the parts are given (got '50.00')",
        ),
        (dict(admitted_on="2025-03-02"), "admitted_on: must not be after settled_on (2025-03-01) (got '2025-03-02')"),
        (
            dict(category="rich"),
            "category: must be one of ordinary (普通), tekun (特困), dibao (低保), low_income (低收入), poverty (返贫致贫), "
            "monitored (监测对象), illness_poverty (因病致困) (got 'rich')",
        ),
        (dict(age=200), "age: must be whole years between 0 and 150 (got 200)"),
        (dict(person_id=""), "person_id: required"),
        (dict(total="1000.01万"), "total: amount must not exceed 10000000.00 yuan (1000万) (got '1000.01万')"),
    ],
)
def test_invalid_claims_name_the_field(kw, message):
    with pytest.raises(ClaimError) as info:
        claim(**kw)
    assert str(info.value) == message


def test_from_mapping_accepts_national_interface_names():
    c = Claim.from_mapping(
        {
            "psn_no": "p9",
            "setl_time": "2025-03-01",
            "medfee_sumamt": "22000",
            "fulamt_ownpay_amt": "1500",
            "preselfpay_amt": "500",
            "level": "level3",
        }
    )
    assert (c.person_id, c.total, c.self_funded, c.pre_self_pay) == ("p9", 2200000, 150000, 50000)


def test_from_mapping_rejects_unknown_fields_and_conflicts():
    with pytest.raises(ClaimError, match="^bogus: unknown field"):
        Claim.from_mapping({"person_id": "p", "settled_on": "2025-01-01", "total": 1, "level": "x", "bogus": 1})
    with pytest.raises(ClaimError, match="^medfee_sumamt: total given twice"):
        Claim.from_mapping({"person_id": "p", "settled_on": "2025-01-01", "total": 1, "medfee_sumamt": 2, "level": "x"})
    with pytest.raises(ClaimError, match="^settled_on: required"):
        Claim.from_mapping({"person_id": "p", "total": 1, "level": "x"})


def test_row_is_added_to_errors():
    err = ClaimError("total", "x", "bad").at_row(7)
    assert str(err) == "row 7: total: bad (got 'x')"


def test_claim_fields_have_their_converted_types():
    import typing

    from medcalc.money import Fen as F

    hints = typing.get_type_hints(Claim)
    assert {
        name: hints[name]
        for name in (
            "person_id",
            "settled_on",
            "total",
            "level",
            "admitted_on",
            "in_scope",
            "age",
            "retired",
            "diseases",
            "claim_id",
        )
    } == {
        "person_id": str,
        "settled_on": dt.date,
        "total": F,
        "level": str,
        "admitted_on": dt.date | None,
        "in_scope": F | None,
        "age": int | None,
        "retired": bool,
        "diseases": tuple[str, ...],
        "claim_id": str | None,
    }
    assert object not in hints.values() and typing.Any not in hints.values()
    c = claim(
        person_id=17,
        settled_on="2025年3月1日",
        total="1.2万",
        self_funded="1,000",
        age="60",
        retired="是",
        diseases="高血压,糖尿病",
    )
    assert (c.person_id, c.settled_on, c.total, c.self_funded, c.age, c.retired, c.diseases) == (
        "17",
        dt.date(2025, 3, 1),
        1200000,
        100000,
        60,
        True,
        ("糖尿病", "高血压"),
    )
    assert type(c.total) is Fen and type(c.in_scope_cost) is Fen and type(c.total - c.self_funded) is Fen


def test_the_constructor_names_what_each_field_accepts():
    from medcalc import claims

    # attrs takes each parameter's type from its converter: what a type checker holds Claim(...) to
    accepted = Claim.__init__.__annotations__
    assert {accepted[name] for name in ("total", "self_funded", "in_scope", "bed_fees")} == {"AmountInput"}
    assert (
        accepted["settled_on"],
        accepted["person_id"],
        accepted["diseases"],
        accepted["age"],
        accepted["retired"],
    ) == ("DayInput", "TextInput", "NamesInput", "AgeInput", "FlagInput")
    assert claims.AmountInput == "Fen | int | Decimal | str | None"  # no float: floats are refused
    assert {"AmountInput", "DayInput", "TextInput", "NamesInput", "FlagInput", "AgeInput"} <= set(claims.__all__)

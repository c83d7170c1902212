"""Exact money: parsing yuan and ratios, half-up rounding, formatting."""

from decimal import Decimal

import pytest

from medcalc.money import (
    AmountError,
    Fen,
    Ratio,
    apply_ratio,
    format_yuan,
    parse_amount,
    parse_points,
    parse_ratio,
    round_half_up,
)


@pytest.mark.parametrize(
    "text, fen",
    [
        (150, 15000),
        ("150", 15000),
        ("150元", 15000),
        ("1.5万", 1500000),
        ("12,000.50", 1200050),
        (Decimal("0.01"), 1),
        ("0", 0),
        ("  3000 元 ", 300000),
        ("1.23456万", 1234560),
        (Fen(7), 7),
    ],
)
def test_parse_amount(text, fen):
    assert parse_amount(text) == fen
    assert isinstance(parse_amount(text), Fen)


@pytest.mark.parametrize(
    "bad, message",
    [
        (1.5, "floats are inexact"),
        (True, "floats are inexact"),
        ("-5", "is not a number of yuan"),
        (-5, "must not be negative"),
        ("0.001", "more precision than allowed"),
        ("1.5千", "is not a number of yuan"),
        ([1], "must be a number of yuan"),
    ],
)
def test_parse_amount_refuses(bad, message):
    with pytest.raises(AmountError, match=message):
        parse_amount(bad)


@pytest.mark.parametrize("text, units", [("60%", 6000), ("62.5%", 6250), ("0%", 0), ("100%", 10000), ("33.33%", 3333)])
def test_parse_ratio(text, units):
    assert parse_ratio(text) == units
    assert str(parse_ratio(text)) == text


@pytest.mark.parametrize("bad", ["0.6", "60", "101%", "33.333%", 60, "-5%"])
def test_parse_ratio_refuses(bad):
    with pytest.raises(AmountError):
        parse_ratio(bad)


@pytest.mark.parametrize("text, units", [("+10", 1000), ("-12", -1200), ("+5点", 500), (5, 500), ("2.5", 250)])
def test_parse_points(text, units):
    assert parse_points(text) == units


def test_round_half_up_is_one_rounding_of_the_exact_value():
    assert round_half_up(5, 10) == 1  # 0.5 -> 1
    assert round_half_up(4, 10) == 0
    assert round_half_up(15, 10) == 2  # 1.5 -> 2 (not banker's 2 by luck: 2.5 -> 3 below)
    assert round_half_up(25, 10) == 3
    assert apply_ratio(545000, 7500) == 408750  # 5450 × 75 % = 4087.50 yuan
    assert apply_ratio(1, 5000) == 1  # 0.5 fen rounds up
    assert apply_ratio(1, 4999) == 0


def test_format_yuan():
    assert format_yuan(408750) == "4087.50"
    assert format_yuan(5) == "0.05"
    assert format_yuan(-150) == "-1.50"
    assert Fen(408750).yuan == Decimal("4087.50")
    assert str(Fen(100)) == "1.00"
    assert str(Ratio(6250)) == "62.5%"


def test_fen_plus_or_minus_fen_stays_fen():
    deductible, basic = parse_amount("200"), parse_amount("1.2万")
    assert (deductible + basic, basic - deductible, deductible - basic) == (1220000, 1180000, -1180000)
    for value in (
        deductible + basic,
        basic - deductible,
        deductible - basic,
        sum([deductible, basic]),
        sum([basic], Fen(0)),
        basic + 0,
        0 + basic,
        basic - 0,
        0 - basic,
    ):
        assert type(value) is Fen
    assert str(sum([deductible, basic, Fen(5)])) == "12200.05"
    assert repr(deductible - basic) == "Fen(-1180000)"


def test_fen_with_a_plain_number_is_a_plain_number():
    # a plain int could mean yuan (as medcalc reads plain ints): the result is not labelled fen
    fen = Fen(15000)
    for value, expected in (
        (fen + 5, 15005),
        (5 + fen, 15005),
        (fen - 5, 14995),
        (5 - fen, -14995),
        (fen * 2, 30000),
        (fen // 2, 7500),
        (-fen, -15000),
        (fen + True, 15001),
        (sum([fen, 5]), 15005),
    ):
        assert (type(value), value) == (int, expected)
    assert sum([]) == 0 and type(sum([])) is int
    assert fen + Decimal("0.5") == Decimal("15000.5")

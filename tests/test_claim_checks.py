"""The claim checks are written once (medcalc.claim_checks): a Claim and a batch refuse the same
claims for the same rule, and no other module words a check's reason again."""

from __future__ import annotations

import ast
import builtins
import datetime as dt
import dis
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medcalc import Claim, ClaimError, Fen, claim_checks
from medcalc.batch.reasons import MAX_VALUES, by_value, naming_values
from medcalc.claim_checks import CHECKS, MAX_TOTAL, NOT_A_DAY, NOT_GIVEN, reason
from medcalc.engine import checks
from medcalc.engine.compiled import kernel_functions, numba_available
from medcalc.money import AmountError, parse_amount

PACKAGE = Path(claim_checks.__file__).parent

# --------------------------------------------------------------------------- one table


def _strings(path: Path) -> list[str]:
    """Every string of a module: constants, and f-strings with ``{}`` for what they interpolate."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.JoinedStr):
            out.append("".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append(node.value)
    return out


def _pattern(code: int) -> re.Pattern:
    """A check's reason as a regular expression: its {words} anything, its [figures] optional."""

    def words(text: str) -> str:
        return "".join(".*?" if p.startswith("{") else re.escape(p) for p in re.split(r"(\{[^}]*\})", text))

    parts = re.split(r"\[([^\]]*)\]", CHECKS[code][1])  # (odd positions: the figures' text)
    return re.compile("".join(f"(?:{words(p)})?" if k % 2 else words(p) for k, p in enumerate(parts)))


def _own_words(code: int) -> int:
    """How many characters of a reason are its own (not words or figures filled in)."""
    return len(re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", CHECKS[code][1]))


def test_every_reason_is_written_in_one_module():
    strings = {path: _strings(path) for path in PACKAGE.rglob("*.py") if path.name != "claim_checks.py"}
    # parse_amount (money, below the claims) words a negative amount as it reads one; the table
    # repeats its words so that both read the same (test_amount_words_are_parse_amounts_words)
    allowed = {(PACKAGE / "money.py", reason(claim_checks.TOTAL_NEGATIVE))}
    found = []
    for code in range(1, len(CHECKS)):
        if _own_words(code) < 20:  # "required", "must be one of {places}": words every message uses
            continue
        for path, texts in strings.items():
            if (path, CHECKS[code][1]) not in allowed and any(_pattern(code).search(text) for text in texts):
                found.append((code, str(path.relative_to(PACKAGE.parent))))
    assert not found
    assert len({CHECKS[c] for c in range(1, len(CHECKS))}) == len(CHECKS) - 1  # no rule twice


def test_amount_words_are_parse_amounts_words():
    def words(value, **kw) -> str:
        with pytest.raises(AmountError) as info:
            parse_amount(value, **kw)
        return str(info.value).split(" (got")[0]

    assert words(Fen(-1)) == words(-1) == reason(claim_checks.TOTAL_NEGATIVE)
    assert words(Fen(MAX_TOTAL + 1), max_fen=MAX_TOTAL) == reason(claim_checks.TOTAL_TOO_LARGE)


def test_codes_are_named_in_the_order_they_are_tried():
    names = {getattr(claim_checks, name): name for name in claim_checks.__all__ if name.isupper()}
    codes = sorted(code for code in names if isinstance(code, int) and 0 <= code < len(CHECKS))
    assert codes == list(range(len(CHECKS)))  # every code named, none left out
    assert checks.CHECKS is CHECKS and checks.check_row is claim_checks.check_row  # the engine's are these


def test_the_engine_module_holds_every_name_its_functions_read():
    # numba compiles the functions with engine.checks' names as their globals
    for name in checks.FUNCTIONS:
        code = getattr(checks, name).__code__
        read = {i.argval for i in dis.get_instructions(code) if i.opname == "LOAD_GLOBAL"}  # (not attributes)
        missing = [g for g in sorted(read) if g not in vars(checks) and g not in vars(builtins)]
        assert not missing, (name, missing)


def test_reasons_carry_figures_only_where_known():
    assert reason(claim_checks.IN_SCOPE_ABOVE_TOTAL) == "must not exceed total"
    assert reason(claim_checks.IN_SCOPE_ABOVE_TOTAL, {"total": Fen(120)}) == "must not exceed total (1.20 yuan)"
    words = {"policy": "p", "levels": "level1 (一级)"}
    assert reason(claim_checks.INSTITUTION_ADMITTED, **words) == (
        "an outpatient institution of policy p; an admission needs a hospital level: one of level1 (一级)"
    )
    for code in range(1, len(CHECKS)):
        text = reason(
            code,
            **dict.fromkeys(("policy", "levels", "places", "referrals", "categories", "visits", "services"), "x"),
            scheme="'s'",
        )
        assert "[" not in text and "]" not in text and "{" not in text


# --------------------------------------------------------------------------- a Claim's messages


def claim(**kw):
    base = dict(person_id="p", settled_on="2025-03-01", total=10000, level="level1")
    base.update(kw)
    return Claim(**base)


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(in_scope=20000), "in_scope: must not exceed total (10000.00 yuan) (got '20000.00')"),
        (
            dict(self_funded=1000, bed_fees=8000, nursing_fees=2000),
            "bed_fees: bed and nursing fees are part of the in-scope cost and must not exceed it (9000.00 yuan) "
            "(got '8000.00')",
        ),
        (
            dict(basic_paid=6000, critical_paid=5000),
            "basic_paid: the payments given (basic_paid + critical_paid) must not exceed the in-scope cost "
            "(10000.00 yuan) (got '6000.00')",
        ),
        (
            dict(pre_self_pay=100, basic_paid=6000, critical_base=5000),
            "critical_base: must not exceed the in-scope cost − basic_paid + 乙类先行自付 (4000.00 yuan): "
            "what a 大病 base is made of (got '5000.00')",
        ),
        (
            dict(critical_paid=10),
            "critical_paid: needs basic_paid: a 大病 figure settled elsewhere goes with the basic payment it was "
            "settled after (got '10.00')",
        ),
        (dict(service="general"), "service: only outpatient claims name a service (got 'general')"),
        (
            dict(visit="outpatient"),
            "service: required for an outpatient claim: the outpatient service of the policy "
            "(see `medcalc policy show`)",
        ),
    ],
)
def test_a_claims_message_names_its_figures(kw, message):
    with pytest.raises(ClaimError) as info:
        claim(**kw)
    assert str(info.value) == message


# --------------------------------------------------------------------------- the same rule either way


def _claim_code(exc: ClaimError) -> int:
    matched = [
        code for code in range(1, len(CHECKS)) if CHECKS[code][0] == exc.field and _pattern(code).fullmatch(exc.reason)
    ]
    assert len(matched) == 1, (str(exc), matched)
    return matched[0]


_SETTLED = dt.date(2025, 3, 1)
_AMOUNTS = ("total", "self_funded", "over_limit", "pre_self_pay", "in_scope", "bed_fees", "nursing_fees")
_AMOUNTS += ("basic_paid", "critical_base", "critical_paid")


def _mostly(draw, common, rare, one_in: int = 12):
    """A value of ``common``, or now and then (1 in ``one_in``) one of ``rare``."""
    return draw(rare) if draw(st.integers(0, one_in - 1)) == 0 else draw(common)


@st.composite
def _claims(draw):
    negative = st.integers(-300, -1)
    total = _mostly(draw, st.integers(0, 30_000), st.one_of(negative, st.integers(MAX_TOTAL - 5, MAX_TOTAL + 5)))
    parts = [_mostly(draw, st.one_of(st.just(0), st.integers(0, 8_000)), negative, 40) for _ in range(3)]
    derived = max(0, total - sum(parts))
    given = st.one_of(st.none(), st.integers(0, derived + 2_000))
    visit = draw(st.sampled_from(["inpatient", "outpatient"]))
    place = draw(st.sampled_from(["local", "in_province"]))
    return dict(
        total=total,
        self_funded=parts[0],
        over_limit=parts[1],
        pre_self_pay=parts[2],
        in_scope=draw(st.one_of(st.none(), st.just(derived), st.integers(0, 30_000))),
        bed_fees=_mostly(draw, st.one_of(st.just(0), st.integers(0, 5_000)), negative, 40),
        nursing_fees=_mostly(draw, st.one_of(st.just(0), st.integers(0, 5_000)), negative, 40),
        basic_paid=_mostly(draw, given, negative, 40),
        critical_base=_mostly(draw, given, negative, 40),
        critical_paid=_mostly(draw, given, negative, 40),
        visit=visit,
        service=_mostly(
            draw, st.just("general" if visit == "outpatient" else None), st.sampled_from([None, "general"])
        ),
        place=place,
        referral=_mostly(
            draw, st.just("none" if place == "local" else "referred"), st.sampled_from(["none", "referred"])
        ),
        age=_mostly(draw, st.one_of(st.none(), st.integers(0, 150)), st.integers(151, 200), 30),
        admitted_on=draw(st.one_of(st.none(), st.integers(-3, 1).map(lambda d: _SETTLED + dt.timedelta(days=d)))),
    )


def _batch_check(values: dict, engine: str = "interpreted") -> tuple[int, int]:
    """(code, in-scope cost) of check_rows on the claim's values as one-row columns."""

    def column(value, kind=np.int64):
        return np.zeros(0, kind) if value is None else np.array([value], kind)

    def code_of(word, choices):
        return column(choices.index(word), np.int16)

    code, cost = np.zeros(1, np.int8), np.zeros(1, np.int64)
    given = {
        n: column(NOT_GIVEN if values[n] is None else values[n])
        for n in ("basic_paid", "critical_base", "critical_paid")
    }
    columns = checks.CheckColumns(
        person=np.zeros(1, np.int64),
        day=np.array([_SETTLED.toordinal()], np.int64),
        admitted=column(None if values["admitted_on"] is None else values["admitted_on"].toordinal()),
        total=column(values["total"]),
        visit=code_of(values["visit"], ("inpatient", "outpatient")),
        place=code_of(values["place"], ("local", "in_province")),
        referral=code_of(values["referral"], ("none", "referred")),
        category=np.zeros(0, np.int16),
        age=column(values["age"]),
        self_funded=column(values["self_funded"]),
        over_limit=column(values["over_limit"]),
        pre_self_pay=column(values["pre_self_pay"]),
        in_scope=column(-1 if values["in_scope"] is None else values["in_scope"]),
        bed_fees=column(values["bed_fees"]),
        nursing_fees=column(values["nursing_fees"]),
        service=column(None if values["service"] is None else 0, np.int16),
        wrong_scheme=np.zeros(0, np.int8),
        level=np.zeros(1, np.int16),  # level1
        **given,
    )
    kernel_functions(engine, checks)["check_rows"](
        columns, values["service"] is not None, 1, np.zeros(1, np.int8), code, cost
    )
    return int(code[0]), int(cost[0])


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_claims())
def test_a_claim_is_refused_iff_the_batch_check_refuses_it_for_the_same_rule(values):
    kw = {k: Fen(v) if k in _AMOUNTS and v is not None else v for k, v in values.items()}  # (amounts in fen)
    batch_code, batch_cost = _batch_check(values)
    try:
        made = claim(settled_on=_SETTLED, **kw)
    except ClaimError as exc:
        assert batch_code == _claim_code(exc), str(exc)
        assert exc.field == CHECKS[batch_code][0]
    else:
        assert batch_code == claim_checks.PASSES
        assert batch_cost == made.in_scope_cost


@pytest.mark.skipif(not numba_available(), reason="numba is not installed")
def test_the_compiled_check_decides_as_the_interpreted_one():
    rng = np.random.default_rng(27)
    n = 4000

    def some(low, high, kind=np.int64):
        return rng.integers(low, high, n).astype(kind)

    day = some(20000, 20010)
    basic_paid, critical_base, critical_paid = (
        np.where(rng.random(n) < 0.5, NOT_GIVEN, some(-2, 9000)).astype(np.int32) for _ in range(3)
    )
    columns = checks.CheckColumns(
        person=some(0, 50),
        day=day,
        admitted=np.where(rng.random(n) < 0.5, NOT_A_DAY, day + some(-2, 3)),
        total=some(-10, 20_000, np.int32),
        visit=some(-1, 2, np.int16),
        place=some(-1, 3, np.int16),
        referral=some(-1, 4, np.int16),
        category=some(-1, 7, np.int16),
        age=some(-3, 160),
        self_funded=some(-2, 3000, np.int32),
        over_limit=some(-2, 3000, np.int32),
        pre_self_pay=some(-2, 3000, np.int32),
        in_scope=np.where(rng.random(n) < 0.5, -1, some(0, 20_000)).astype(np.int32),
        bed_fees=some(-2, 3000, np.int32),
        nursing_fees=some(-2, 3000, np.int32),
        basic_paid=basic_paid,
        critical_base=critical_base,
        critical_paid=critical_paid,
        service=some(-1, 3, np.int16),
        wrong_scheme=some(0, 2, np.int8),
        level=some(-1, 4, np.int16),
    )
    args = (columns, True, 3, (rng.random(51) < 0.05).astype(np.int8))
    results = []
    for engine in ("interpreted", "compiled"):
        code, cost = np.zeros(n, np.int8), np.zeros(n, np.int32)
        kernel_functions(engine, checks)["check_rows"](*args, code, cost)
        results.append((code, cost))
    assert np.array_equal(results[0][0], results[1][0]) and np.array_equal(results[0][1], results[1][1])
    assert len(np.unique(results[0][0])) > 20  # most rules met somewhere


def test_a_batch_refuses_an_admission_after_its_settlement():
    from medcalc import load_policy
    from medcalc.batch.columns import settle_arrays

    batch = settle_arrays(
        load_policy("luan-2021"),
        person_id=["a", "b"],
        settled_on=np.array(["2021-03-01", "2021-03-01"], "datetime64[D]"),
        admitted_on=np.array(["2021-03-02", "2021-02-27"], "datetime64[D]"),
        level=["level1", "level1"],
        total=np.array([100_00, 100_00]),
    )
    assert [(r.row, r.field, r.reason) for r in batch.rejects] == [(0, "admitted_on", "must not be after settled_on")]
    assert list(batch.row) == [1]


# --------------------------------------------------------------------------- naming a rejected row's value


def test_rows_are_named_by_their_value():
    column = pa.array([5, None, 1234, 5, 7], pa.int64())
    groups = by_value(column, np.array([0, 1, 2, 3]), "bad", fen=True)  # (fen shown as yuan)
    assert [(list(rows), why) for rows, why in groups] == [
        ([1], "bad (the cell is empty)"),
        ([0, 3], "bad (got '0.05')"),
        ([2], "bad (got '12.34')"),
    ]
    long = pa.array(["y" * 100])
    assert by_value(long, np.array([0]), "bad")[0][1] == "bad (got '" + "y" * 39 + "… (100 characters))"
    many = pa.array([str(i) for i in range(MAX_VALUES + 1)])
    assert by_value(many, np.arange(MAX_VALUES + 1), "bad")[0][1] == "bad"
    assert by_value(column, np.array([], np.int64), "bad") == []
    table = pa.table({"level": ["level7", "level7", "三级医"]})
    assert [(list(r), w) for r, w in naming_values(table, np.array([0, 1, 2]), "level", "unknown")] == [
        ([0, 1], "unknown (got 'level7')"),
        ([2], "unknown (got '三级医')"),
    ]

"""The claim record: what one settlement needs to know, validated at the edge.

Amounts given as plain numbers mean yuan; ``Fen`` values are taken as fen. Every
invalid value raises a ClaimError naming the field, the value and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeAlias, TypeVar

import attrs

from .claim_checks import (
    AGE_OUT_OF_RANGE,
    BASE_ABOVE_ITS_PARTS,
    MAX_TOTAL,
    NO_PERSON,
    NO_SETTLED_ON,
    NOT_A_DAY,
    NOT_GIVEN,
    PASSES,
    ClaimValues,
    check_row,
    field_of,
    reason,
)
from .errors import NOTHING, ClaimError
from .money import AmountError, Fen, parse_amount
from .policy.model import CATEGORIES, PLACES, REFERRALS, SCHEMES
from .vocabulary import CHINESE_NAMES, choices_text, code_for

__all__ = [
    "Claim",
    "FLAG_WORDS",
    "parse_flag",
    "GIVEN_FIELDS",
    "AMOUNT_FIELDS",
    "GIVEN_LAYERS",
    "VISITS",
    "FIELD_ALIASES",
    "MAX_TOTAL",
    "parse_day",
    "AmountInput",
    "DayInput",
    "TextInput",
    "NamesInput",
    "FlagInput",
    "AgeInput",
]

# What Claim(...) accepts for each kind of field, for type checkers: each value is converted
# (and checked, whatever its type, since rows from files arrive untyped) to the field's type.
#: An amount: Fen (fen), int or Decimal (yuan), or yuan text such as "1.2万"; None or "" is not given.
AmountInput: TypeAlias = "Fen | int | Decimal | str | None"
#: A day: a date (or datetime), or text such as "2025-03-01", "20250301", "2025年3月1日".
DayInput: TypeAlias = "dt.date | str | None"
#: An id or code: text, or an int (kept as its digits).
TextInput: TypeAlias = "str | int | None"
#: Names (diseases, certifications): a list (tuple, set) of them, or one string separated by , ; | or 、.
NamesInput: TypeAlias = "str | list[str] | tuple[str, ...] | set[str] | frozenset[str] | None"
#: A flag: True/False, 1/0, or "true"/"yes"/"是" and "false"/"no"/"否".
FlagInput: TypeAlias = "bool | int | str | None"
#: Whole years: an int or its digits.
AgeInput: TypeAlias = "int | str | None"

#: Claim columns with a Chinese header in CHINESE_NAMES (the others there are result columns).
_CLAIM_COLUMNS = (
    "claim_id",
    "person_id",
    "settled_on",
    "admitted_on",
    "scheme",
    "total",
    "self_funded",
    "over_limit",
    "pre_self_pay",
    "in_scope",
    "level",
    "visit",
    "age",
    "diseases",
    "bed_fees",
    "nursing_fees",
    "policy",
    "basic_paid",
    "critical_base",
    "critical_paid",
)

#: Amounts of earlier layers a claim may carry, as settled elsewhere: 基本医保's payment, the
#: claim's 大病 base (qualifying self-pay) and 大病's payment. Not given: computed by the policy.
GIVEN_FIELDS = ("basic_paid", "critical_base", "critical_paid")
#: The layers whose payment a settled file may give (``score --given``), and the field it fills.
GIVEN_LAYERS = {"basic": "basic_paid", "critical": "critical_paid"}
#: A claim's fields that are amounts of money (fen inside, yuan as written).
AMOUNT_FIELDS = (
    "total",
    "self_funded",
    "over_limit",
    "pre_self_pay",
    "in_scope",
    "bed_fees",
    "nursing_fees",
    *GIVEN_FIELDS,
)

#: Visit kinds the engine settles: an admission, or an outpatient service the policy names.
VISITS = ("inpatient", "outpatient")

#: Column names of the national settlement interface and their Chinese labels -> Claim fields.
FIELD_ALIASES = {
    "psn_no": "person_id",
    "setl_id": "claim_id",
    "mdtrt_id": "claim_id",
    "setl_time": "settled_on",
    "enddate": "settled_on",
    "begndate": "admitted_on",
    "insutype": "scheme",
    "medfee_sumamt": "total",
    "fulamt_ownpay_amt": "self_funded",
    "overlmt_selfpay": "over_limit",
    "preselfpay_amt": "pre_self_pay",
    "inscp_scp_amt": "in_scope",
    # the Chinese headers --names chinese writes (one table: medcalc.vocabulary.CHINESE_NAMES) ...
    **{label: field for field, label in CHINESE_NAMES.items() if field in _CLAIM_COLUMNS},
    # ... and the other labels forms and the interface use for the same columns
    "就诊ID": "claim_id",
    "结算时间": "settled_on",
    "出院日期": "settled_on",
    "全自费": "self_funded",
    "超限价自费": "over_limit",
    "超限价自费费用": "over_limit",
    "乙类先行自付": "pre_self_pay",
    "政策范围内费用": "in_scope",
}

_DAY = re.compile(r"^\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?\s*$")


def parse_day(value: object) -> dt.date:
    """A day from a date, "2025-03-01", "20250301", "2025/3/1" or "2025年3月1日"."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        match = _DAY.match(value)
        try:
            if match:
                return dt.date(int(match[1]), int(match[2]), int(match[3]))
            if re.fullmatch(r"\s*\d{4}-?\d{2}-?\d{2}([T ][0-9:.]+)?\s*", value):
                from dateutil.parser import isoparse  # loaded for the rare timestamp, not at import

                return isoparse(value.strip()).date()
        except ValueError:
            pass
    raise ValueError("a date such as 2025-03-01")


def _field_error(name: str, value: object, reason: str) -> ClaimError:
    return ClaimError(name, value, reason)


def _text(name: str, value: TextInput) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _field_error(name, value, "must be a string")
    return str(value).strip()


def _day(name: str, value: DayInput) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return parse_day(value)
    except ValueError:
        raise _field_error(name, value, "must be a date such as 2025-03-01") from None


def _amount(name: str, value: AmountInput) -> Fen | None:
    # only an empty value is "not given" (as an empty cell in a table); any other text must be an amount
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return parse_amount(value, max_fen=MAX_TOTAL)  # every amount of a claim is at most its largest total
    except AmountError as exc:
        raise _field_error(name, value, str(exc).split(" (got")[0]) from None


def _choice(name: str, value: str | None, choices: tuple[str, ...]) -> str | None:
    if value is None or value == "":
        return None
    if value not in choices:
        raise _field_error(name, value, "must be one of " + ", ".join(choices))
    return value


_T = TypeVar("_T")

_AN_AMOUNT = 'required: an amount of yuan such as 12000 or "1.2万"'


def _given(value: _T | None, name: str, reason: str) -> _T:
    """A required field's value; nothing given is a ClaimError naming the field."""
    if value is None:
        raise _field_error(name, NOTHING, reason)
    return value


# One converter per field, each a named function: type checkers read Claim(...)'s parameter
# types off them (attrs' mypy plugin accepts no converter made by a call), and the field's
# type off their return.
def _person_id(value: TextInput) -> str:
    return _given(_text("person_id", value), "person_id", reason(NO_PERSON))


def _level(value: TextInput) -> str:
    return _given(_text("level", value), "level", "required: the hospital level code of the policy")


def _claim_id(value: TextInput) -> str | None:
    return _text("claim_id", value)


def _service(value: TextInput) -> str | None:
    return _text("service", value)


def _settled_on(value: DayInput) -> dt.date:
    return _given(_day("settled_on", value), "settled_on", reason(NO_SETTLED_ON))


def _admitted_on(value: DayInput) -> dt.date | None:
    return _day("admitted_on", value)


def _total(value: AmountInput) -> Fen:
    return _given(_amount("total", value), "total", _AN_AMOUNT)


def _self_funded(value: AmountInput) -> Fen:
    return _given(_amount("self_funded", value), "self_funded", _AN_AMOUNT)


def _over_limit(value: AmountInput) -> Fen:
    return _given(_amount("over_limit", value), "over_limit", _AN_AMOUNT)


def _pre_self_pay(value: AmountInput) -> Fen:
    return _given(_amount("pre_self_pay", value), "pre_self_pay", _AN_AMOUNT)


def _in_scope(value: AmountInput) -> Fen | None:
    return _amount("in_scope", value)


def _bed_fees(value: AmountInput) -> Fen:
    return _given(_amount("bed_fees", value), "bed_fees", _AN_AMOUNT)


def _nursing_fees(value: AmountInput) -> Fen:
    return _given(_amount("nursing_fees", value), "nursing_fees", _AN_AMOUNT)


def _basic_paid(value: AmountInput) -> Fen | None:
    return _amount("basic_paid", value)


def _critical_base(value: AmountInput) -> Fen | None:
    return _amount("critical_base", value)


def _critical_paid(value: AmountInput) -> Fen | None:
    return _amount("critical_paid", value)


def _one_of(name: str, value: str | None, choices: tuple[str, ...]) -> str:
    return _given(_choice(name, value, choices), name, "required: one of " + ", ".join(choices))


def _word(name: str, value: str | None) -> str | None:
    """A policy-free code from its code or a word for it (跨省, 低保, 居民 …: medcalc.vocabulary)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise _field_error(name, value, "must be one of " + choices_text(name, tuple(_CODES[name])))
    return code_for(name, value)


_CODES = {"visit": VISITS, "place": PLACES, "referral": REFERRALS, "category": CATEGORIES, "scheme": SCHEMES}


def _visit(value: str | None) -> str:
    return _one_of("visit", _word("visit", value), VISITS)


def _place(value: str | None) -> str:
    return _one_of("place", _word("place", value), PLACES)


def _referral(value: str | None) -> str:
    return _one_of("referral", _word("referral", value), REFERRALS)


def _category(value: str | None) -> str:
    return _one_of("category", _word("category", value), CATEGORIES)


def _scheme(value: str | None) -> str | None:
    return _word("scheme", value)


def _age(value: AgeInput) -> int | None:
    if value is None or value == "":
        return None
    try:
        age = int(value) if not isinstance(value, bool) and isinstance(value, (int, str)) else None
    except ValueError:
        age = None
    if age is None or not 0 <= age <= 150:
        raise _field_error("age", value, reason(AGE_OUT_OF_RANGE))
    return age


def _names(name: str, value: NamesInput) -> tuple[str, ...]:
    """A set of names (diseases, certifications): a list, or a string separated by , ; | or 、."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        items = re.split(r"[,;|、，]", value)
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    else:
        raise _field_error(name, value, "must be a list of names, or names separated by commas")
    if not all(isinstance(i, str) for i in items):
        raise _field_error(name, value, "must be a list of names, or names separated by commas")
    return tuple(sorted({i.strip() for i in items if i.strip()}))


def _diseases(value: NamesInput) -> tuple[str, ...]:
    return _names("diseases", value)


def _certified(value: NamesInput) -> tuple[str, ...]:
    return _names("certified", value)


#: The words a yes/no field (``retired``) may hold, in any case and with spaces around; nothing else.
FLAG_WORDS = {"1": True, "true": True, "yes": True, "是": True, "0": False, "false": False, "no": False, "否": False}
FLAG_REASON = "must be true or false (1/0, 是/否, yes/no)"


def parse_flag(value: object) -> bool:
    """A yes/no value: a bool, 1 or 0, or one of FLAG_WORDS; ValueError otherwise (never a default:
    ``retired = 7`` would match neither the retired nor the in-service rules)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in FLAG_WORDS:
        return FLAG_WORDS[value.strip().lower()]
    raise ValueError(FLAG_REASON)


def _flag(value: FlagInput) -> bool:
    if value is None or (isinstance(value, str) and not value.strip()):
        return False
    try:
        return parse_flag(value)
    except ValueError:
        raise _field_error("retired", value, FLAG_REASON) from None


@attrs.frozen(kw_only=True)
class Claim:
    """One settlement to compute. See the README's claim table for every field."""

    # required, but defaulted to None so that leaving one out is a ClaimError naming it (the
    # converter refuses None), not attrs' TypeError
    person_id: str = attrs.field(default=None, converter=_person_id)
    settled_on: dt.date = attrs.field(default=None, converter=_settled_on)
    total: Fen = attrs.field(default=None, converter=_total)
    level: str = attrs.field(default=None, converter=_level)
    visit: str = attrs.field(default="inpatient", converter=_visit)
    claim_id: str | None = attrs.field(default=None, converter=_claim_id)
    admitted_on: dt.date | None = attrs.field(default=None, converter=_admitted_on)
    scheme: str | None = attrs.field(default=None, converter=_scheme)
    place: str = attrs.field(default="local", converter=_place)
    referral: str = attrs.field(default="none", converter=_referral)
    category: str = attrs.field(default="ordinary", converter=_category)
    age: int | None = attrs.field(default=None, converter=_age)
    retired: bool = attrs.field(default=False, converter=_flag)
    self_funded: Fen = attrs.field(default=Fen(0), converter=_self_funded)
    over_limit: Fen = attrs.field(default=Fen(0), converter=_over_limit)
    pre_self_pay: Fen = attrs.field(default=Fen(0), converter=_pre_self_pay)
    in_scope: Fen | None = attrs.field(default=None, converter=_in_scope)
    service: str | None = attrs.field(default=None, converter=_service)
    diseases: tuple[str, ...] = attrs.field(default=(), converter=_diseases)
    certified: tuple[str, ...] = attrs.field(default=(), converter=_certified)
    bed_fees: Fen = attrs.field(default=Fen(0), converter=_bed_fees)
    nursing_fees: Fen = attrs.field(default=Fen(0), converter=_nursing_fees)
    # what earlier layers already paid, as settled elsewhere (a 大病 insurer's or an assistance
    # office's own figures): a layer given is not computed (GIVEN_FIELDS)
    basic_paid: Fen | None = attrs.field(default=None, converter=_basic_paid)
    critical_base: Fen | None = attrs.field(default=None, converter=_critical_base)
    critical_paid: Fen | None = attrs.field(default=None, converter=_critical_paid)

    def __attrs_post_init__(self) -> None:
        # the rules across fields, decided as the batch decides them (medcalc.claim_checks); the
        # converters have refused what one value says on its own, and what needs the policy is
        # checked when the claim is settled. Amounts as plain ints: Fen's arithmetic runs in Python
        # (its operators keep the unit), which cost a Claim 2.6 µs here.
        basic, base, critical = self.basic_paid, self.critical_base, self.critical_paid
        values = ClaimValues(
            0,
            self.settled_on.toordinal(),
            NOT_A_DAY if self.admitted_on is None else self.admitted_on.toordinal(),
            int(self.total),
            1 if self.visit == "outpatient" else 0,
            0 if self.place == "local" else 1,
            0 if self.referral == "none" else 1,
            0,
            -1 if self.age is None else self.age,
            int(self.self_funded),
            int(self.over_limit),
            int(self.pre_self_pay),
            -1 if self.in_scope is None else int(self.in_scope),
            int(self.bed_fees),
            int(self.nursing_fees),
            NOT_GIVEN if basic is None else int(basic),
            NOT_GIVEN if base is None else int(base),
            NOT_GIVEN if critical is None else int(critical),
            -1 if self.service is None else 0,
            0,
            0,
        )
        code = check_row(values, self.service is not None, 1)
        if code != PASSES:
            self._refuse(code)

    def _refuse(self, code: int) -> None:
        """Raise the ClaimError of a failed check: its field, the claim's value there (yuan text,
        a day's ISO text) and the check's reason completed with the claim's figures."""
        field = field_of(code)
        value = getattr(self, field)
        if value is None:
            value = NOTHING
        elif isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, Fen):
            value = str(value)
        parts = self.self_funded + self.over_limit + self.pre_self_pay
        cost = self.in_scope_cost
        figures = {
            "settled_on": self.settled_on,
            "parts": Fen(parts),
            "derived": Fen(self.total - parts),
            "total": self.total,
            "cost": cost,
            "most": Fen(cost - (self.basic_paid or 0) + self.pre_self_pay) if code == BASE_ABOVE_ITS_PARTS else None,
        }
        raise ClaimError(field, value, reason(code, figures))

    @property
    def in_scope_cost(self) -> Fen:
        """政策范围内费用: given directly, or total − 全自费 − 超限价 − 乙类先行自付."""
        if self.in_scope is not None:
            return self.in_scope
        # (int arithmetic, then one Fen: Fen's own operators check their operands each time)
        return Fen(
            int.__sub__(int.__sub__(int.__sub__(self.total, self.self_funded), self.over_limit), self.pre_self_pay)
        )

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> Claim:
        """A claim from a dict of strings or values, accepting national interface names."""
        fields = {f.name for f in attrs.fields(cls)}
        values: dict[str, Any] = {}
        keys: dict[str, str] = {}  # field -> the key that gave it, as the row spells it (setl_time, 结算日期)
        for key, value in row.items():
            name = FIELD_ALIASES.get(key, key)
            if name not in fields:
                raise ClaimError(str(key), NOTHING, "unknown field; known: " + ", ".join(sorted(fields)))
            if name in values and values[name] != value:
                raise ClaimError(str(key), value, f"{name} given twice (also as {keys[name]} = {values[name]!r})")
            values[name] = value
            keys[name] = str(key)
        try:
            return cls(**values)
        except TypeError as exc:
            missing = re.findall(r"'(\w+)'", str(exc))
            raise ClaimError(missing[0] if missing else "claim", NOTHING, "required") from None
        except ClaimError as exc:  # named as the row names it, not by medcalc's name for it
            if keys.get(exc.field, exc.field) == exc.field:
                raise
            raise ClaimError(keys[exc.field], exc.found, exc.reason, exc.row) from None

    def to_dict(self) -> dict[str, Any]:
        """The claim as JSON-ready values (amounts in yuan strings)."""
        out: dict[str, Any] = {}
        for f in attrs.fields(type(self)):
            value = getattr(self, f.name)
            if isinstance(value, Fen):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, dt.date):
                value = value.isoformat()
            out[f.name] = value
        return out

"""``medcalc quote``: settle one claim given by flags and/or a claim file, and show the breakdown.

Its parser (every claim field a flag), reading the --claim and --history files (JSON or TOML,
numbers exact), the claim built from both, and the handler. Errors name a field as the user
wrote it (a flag, a file's key), not by medcalc's name for it.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from decimal import Decimal
from pathlib import Path

from ..api import settle
from ..claims import Claim
from ..errors import ClaimError, MedcalcError
from ..policy.model import CATEGORIES, PLACES, REFERRALS
from ..vocabulary import choices_text
from .options import EXIT_OK, _choose_policy, _console, _print_json, _word_of, encoding_option

_CLAIM_FLAGS = {
    "person": "person_id",
    "claim_id": "claim_id",
    "date": "settled_on",
    "admitted": "admitted_on",
    "total": "total",
    "self_funded": "self_funded",
    "over_limit": "over_limit",
    "pre_self_pay": "pre_self_pay",
    "in_scope": "in_scope",
    "level": "level",
    "place": "place",
    "referral": "referral",
    "category": "category",
    "age": "age",
    "visit": "visit",
    "service": "service",
    "diseases": "diseases",
    "certified": "certified",
    "bed_fees": "bed_fees",
    "nursing_fees": "nursing_fees",
    "basic_paid": "basic_paid",
    "critical_base": "critical_base",
    "critical_paid": "critical_paid",
}


def add_command(sub, policy_choice: argparse.ArgumentParser, output: argparse.ArgumentParser) -> None:
    """Register ``quote`` on the CLI's subparsers."""
    quote = sub.add_parser(
        "quote",
        parents=[policy_choice, output],
        help="settle one claim and show the breakdown",
        description="Settle one claim and show what each layer pays and why.",
    )
    quote.add_argument(
        "--claim",
        metavar="FILE",
        help="the claim as a JSON or TOML file ('-' for JSON on stdin); flags override its fields",
    )
    quote.add_argument(
        "--history", metavar="FILE", help="the person's earlier claims this year: a JSON array (or TOML [[claims]])"
    )
    encoding_option(quote, "--claim and --history")
    quote.add_argument("--person", help="person id (default: 'person')")
    quote.add_argument("--claim-id", dest="claim_id")
    quote.add_argument("--date", help="settlement (discharge) date, e.g. 2025-03-01 (default: --on)")
    quote.add_argument("--admitted", help="admission date")
    quote.add_argument("--total", help="total bill 医疗费总额 in yuan: 12000, 1.2万, 12000元")
    quote.add_argument("--self-funded", dest="self_funded", help="全自费: outside the catalogue")
    quote.add_argument("--over-limit", dest="over_limit", help="超限价自费: above price limits")
    quote.add_argument("--pre-self-pay", dest="pre_self_pay", help="乙类先行自付: class-B co-pay")
    quote.add_argument("--in-scope", dest="in_scope", help="政策范围内费用, if known directly")
    quote.add_argument(
        "--level",
        help="hospital level: its code or the policy's Chinese name (三级, 三级医院, 3 where "
        "the policy has one such level; see `medcalc policy list`)",
    )
    quote.add_argument("--place", help="one of " + choices_text("place", PLACES) + ", or 本地, 省外 …")
    quote.add_argument("--referral", help="one of " + choices_text("referral", REFERRALS))
    quote.add_argument("--category", help="person category: one of " + choices_text("category", CATEGORIES))
    quote.add_argument("--age", help="age in years")
    quote.add_argument("--retired", action="store_true", default=None, help="the person is retired (employees)")
    quote.add_argument("--visit", type=_word_of("visit"), help="inpatient 住院 (default) or outpatient 门诊")
    quote.add_argument(
        "--service",
        help="outpatient service of the policy, e.g. general 普通门诊, two_diseases 两病 (see `medcalc policy show`)",
    )
    quote.add_argument("--diseases", help="diseases the visit treats, comma-separated, e.g. 高血压,糖尿病")
    quote.add_argument("--certified", help="慢特病 the person is certified for, comma-separated")
    quote.add_argument("--bed-fees", dest="bed_fees", help="bed fees within the in-scope cost (日间病床)")
    quote.add_argument("--nursing-fees", dest="nursing_fees", help="nursing fees within the in-scope cost (日间病床)")
    quote.add_argument(
        "--basic-paid",
        dest="basic_paid",
        help="what basic insurance paid, settled elsewhere: only the "
        "later layers are computed (a 大病 or assistance office's policy)",
    )
    quote.add_argument(
        "--critical-base", dest="critical_base", help="the claim's 大病 qualifying self-pay, if known directly"
    )
    quote.add_argument("--critical-paid", dest="critical_paid", help="what 大病 insurance paid, settled elsewhere")
    quote.add_argument("--explain", action="store_true", help="show every step with the policy sentence behind it")
    quote.set_defaults(run=_quote)


def _quote(args: argparse.Namespace) -> int:
    if not args.policy and not args.region:
        raise MedcalcError("--policy or --region is required")
    claim, spelled = _claim_from_args(args)
    policy = _choose_policy(args, claim.settled_on)
    history = _history(args, claim.person_id)
    try:
        result = settle(policy, claim, history=history)
    except ClaimError as exc:
        raise _as_spelled(exc, spelled) from None
    if args.json:
        _print_json(result.to_dict())
        return EXIT_OK
    from ..report.render import print_settlement

    print_settlement(_console(args), result, explain=args.explain, policy=policy)
    return EXIT_OK


#: The largest --claim or --history file read (bytes).
MAX_CLAIM_FILE = 16 << 20


def _read_data_file(name: str, encoding: str | None = None) -> object:
    """A claim or history file: JSON (or TOML by its extension), numbers read exactly (Decimal,
    never float); unreadable text or syntax is bad input (exit 2)."""
    from ..batch.files import decode_text, parse_json

    if name == "-":
        stream = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else None
        data = stream.read(MAX_CLAIM_FILE + 1) if stream is not None else sys.stdin.read(MAX_CLAIM_FILE + 1).encode()
        path = Path("stdin")
    else:
        path = Path(name)
        if not path.is_file():
            raise MedcalcError(f"{name}: no such file")
        with open(path, "rb") as handle:
            data = handle.read(MAX_CLAIM_FILE + 1)
    if len(data) > MAX_CLAIM_FILE:  # read no further: a claim or a year's history is a few kilobytes
        raise MedcalcError(
            f"{name}: over {MAX_CLAIM_FILE >> 20} MiB, more than a claim or a history holds; "
            "score a file of many claims with `medcalc score`"
        )
    text = decode_text(data, name, encoding)
    if path.suffix == ".toml":
        try:
            parsed = tomllib.loads(text, parse_float=Decimal)
        except tomllib.TOMLDecodeError as exc:
            raise MedcalcError(f"{name}: not valid TOML: {exc}") from None
        except RecursionError:
            raise MedcalcError(f"{name}: not valid TOML: nested too deeply") from None
        return parsed.get("claims", parsed)
    try:
        return parse_json(text)
    except ValueError as exc:  # JSONDecodeError, NaN or Infinity
        raise MedcalcError(f"{name}: not valid JSON: {exc}") from None


def _claim_from_args(args: argparse.Namespace) -> tuple[Claim, dict[str, str]]:
    """The claim of the --claim file and the flags (a flag wins over the file's field, however the
    file names it), and how each field was written: the file's key (setl_time, 结算日期) or the flag
    (--total), so that an error names what the user wrote rather than medcalc's name for it."""
    from ..claims import FIELD_ALIASES

    fields: dict[str, object] = {}
    spelled: dict[str, str] = {}
    if args.claim:
        data = _read_data_file(args.claim, args.encoding)
        if not isinstance(data, dict):
            raise MedcalcError(f"{args.claim}: a claim must be a JSON object or TOML table")
        fields.update(data)
        spelled.update((FIELD_ALIASES.get(str(key), str(key)), str(key)) for key in data)

    def given(name: str, value: object, flag: str) -> None:
        for key in [k for k in fields if FIELD_ALIASES.get(str(k), str(k)) == name]:
            del fields[key]
        fields[name] = value
        spelled[name] = flag

    for flag, name in _CLAIM_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            given(name, value, "--" + flag.replace("_", "-"))
    if args.retired:
        given("retired", True, "--retired")
    if "settled_on" not in spelled and args.on:
        given("settled_on", args.on, "--on")
    if "person_id" not in spelled:
        fields["person_id"] = "person"
    try:
        return Claim.from_mapping(fields), spelled
    except ClaimError as exc:
        raise _as_spelled(exc, spelled) from None


def _as_spelled(exc: ClaimError, spelled: dict[str, str]) -> ClaimError:
    """The same error naming the field as the user wrote it (a flag, a claim file's key)."""
    return ClaimError(spelled.get(exc.field, exc.field), exc.found, exc.reason, exc.row)


def _history(args: argparse.Namespace, person: str) -> list[Claim]:
    if not args.history:
        return []
    data = _read_data_file(args.history, args.encoding)
    if not isinstance(data, list):
        raise MedcalcError(f"{args.history}: history must be an array of claims")
    claims = []
    for i, row in enumerate(data, 1):
        if not isinstance(row, dict):
            raise MedcalcError(f"{args.history}: claim {i}: must be a JSON object or TOML table (got {row!r})")
        row = dict(row)
        row.setdefault("person_id", person)
        try:
            claims.append(Claim.from_mapping(row))
        except ClaimError as exc:
            raise MedcalcError(f"{args.history}: claim {i}: {exc}") from None
    return claims

"""The ``medcalc`` command line: quote one claim; list and check policies.

Exit codes: 0 ok, 2 bad input or policy, 1 internal error. Errors are one line on
stderr naming what was wrong and what is allowed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path
from typing import Sequence

from rich.console import Console

from . import __version__
from .api import settle
from .claims import Claim
from .errors import MedcalcError
from .policy.model import CATEGORIES, PLACES, REFERRALS
from .policy.registry import list_policies, load_policy

__all__ = ["main"]

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2

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
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 on usage errors; keep it one line
        self.exit(EXIT_BAD_INPUT, f"medcalc: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="medcalc", description="What China's basic medical insurance pays on a claim, exact to the fen.")
    parser.add_argument("--version", action="version", version=f"medcalc {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    quote = sub.add_parser("quote", help="settle one claim and show the breakdown",
                           description="Settle one claim on a policy and show what each layer pays and why.")
    quote.add_argument("--policy", required=True, help="policy id (see `medcalc policy list`) or path to a policy TOML file")
    quote.add_argument("--claim", metavar="FILE", help="the claim as a JSON or TOML file ('-' for JSON on stdin); flags override its fields")
    quote.add_argument("--history", metavar="FILE", help="the person's earlier claims this year: a JSON array (or TOML [[claims]])")
    quote.add_argument("--person", help="person id (default: 'person')")
    quote.add_argument("--claim-id", dest="claim_id")
    quote.add_argument("--date", help="settlement (discharge) date, e.g. 2025-03-01")
    quote.add_argument("--admitted", help="admission date")
    quote.add_argument("--total", help="total bill 医疗费总额 in yuan: 12000, 1.2万, 12000元")
    quote.add_argument("--self-funded", dest="self_funded", help="全自费: outside the catalogue")
    quote.add_argument("--over-limit", dest="over_limit", help="超限价自费: above price limits")
    quote.add_argument("--pre-self-pay", dest="pre_self_pay", help="乙类先行自付: class-B co-pay")
    quote.add_argument("--in-scope", dest="in_scope", help="政策范围内费用, if known directly")
    quote.add_argument("--level", help="hospital level code of the policy (see `medcalc policy list`)")
    quote.add_argument("--place", help="one of " + ", ".join(PLACES))
    quote.add_argument("--referral", help="one of " + ", ".join(REFERRALS))
    quote.add_argument("--category", help="person category: one of " + ", ".join(CATEGORIES))
    quote.add_argument("--age", help="age in years")
    quote.add_argument("--retired", action="store_true", default=None, help="the person is retired (employees)")
    quote.add_argument("--explain", action="store_true", help="show every step with the policy sentence behind it")
    quote.add_argument("--json", action="store_true", help="print the settlement as JSON")
    quote.add_argument("--width", type=int, default=None, help="render at this many columns")

    policy = sub.add_parser("policy", help="policy tools")
    psub = policy.add_subparsers(dest="policy_command", required=True, parser_class=_Parser)
    plist = psub.add_parser("list", help="list the shipped policies")
    plist.add_argument("--json", action="store_true")
    plist.add_argument("--width", type=int, default=None)
    pcheck = psub.add_parser("check", help="load a policy file strictly and report what it covers")
    pcheck.add_argument("file", help="path to a policy TOML file, or a policy id")
    pcheck.add_argument("--json", action="store_true")
    return parser


def _read_claim_file(name: str) -> object:
    if name == "-":
        text = sys.stdin.read()
        return json.loads(text)
    path = Path(name)
    if not path.is_file():
        raise MedcalcError(f"{name}: no such file")
    if path.suffix == ".toml":
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
        return data.get("claims", data)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MedcalcError(f"{name}: not valid JSON: {exc}") from None


def _claim_from_args(args: argparse.Namespace) -> Claim:
    fields: dict[str, object] = {}
    if args.claim:
        data = _read_claim_file(args.claim)
        if not isinstance(data, dict):
            raise MedcalcError(f"{args.claim}: a claim must be a JSON object or TOML table")
        fields.update(data)
    for flag, name in _CLAIM_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            fields[name] = value
    if args.retired:
        fields["retired"] = True
    fields.setdefault("person_id", "person")
    return Claim.from_mapping(fields)


def _history(args: argparse.Namespace, person: str) -> list[Claim]:
    if not args.history:
        return []
    data = _read_claim_file(args.history)
    if not isinstance(data, list):
        raise MedcalcError(f"{args.history}: history must be an array of claims")
    claims = []
    for i, row in enumerate(data):
        row = dict(row)
        row.setdefault("person_id", person)
        try:
            claims.append(Claim.from_mapping(row))
        except MedcalcError as exc:
            raise MedcalcError(f"{args.history}: claim {i}: {exc}") from None
    return claims


def _console(args: argparse.Namespace) -> Console:
    return Console(width=args.width, highlight=False, soft_wrap=False)


def _quote(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy)
    claim = _claim_from_args(args)
    history = _history(args, claim.person_id)
    result = settle(policy, claim, history=history)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return EXIT_OK
    from .render import print_settlement

    print_settlement(_console(args), result, explain=args.explain)
    return EXIT_OK


def _policy_list(args: argparse.Namespace) -> int:
    policies = list_policies()
    rows = []
    for p in policies:
        spans = p.coverage(("inpatient.deductible", "inpatient.ratio"))
        rows.append({
            "id": p.id, "region": p.region, "scheme": p.scheme, "tier": p.tier,
            "extends": p.chain[1] if len(p.chain) > 1 else None,
            "covers": [[a.isoformat(), b.isoformat() if b else None] for a, b in spans],
            "levels": dict(p.levels), "file": p.file,
        })
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    from rich.table import Table

    table = Table(title="shipped policies", header_style="bold")
    for col in ("id", "region", "scheme", "covers (inpatient)", "levels"):
        table.add_column(col)
    for r in rows:
        covers = ", ".join(f"{a}…{b or ''}" for a, b in r["covers"]) or "— (no inpatient rules)"
        scheme = r["scheme"] + (f" {r['tier']}" if r["tier"] else "")
        table.add_row(r["id"], r["region"], scheme, covers, ", ".join(r["levels"]))
    _console(args).print(table)
    return EXIT_OK


def _policy_check(args: argparse.Namespace) -> int:
    policy = load_policy(args.file)
    versions = [v for t in policy.timelines.values() for layer in t.layers for v in layer if not v.disabled]
    unverified = sum(1 for v in versions if not v.citation.verified)
    spans = policy.coverage(("inpatient.deductible", "inpatient.ratio"))
    report = {
        "id": policy.id, "region": policy.region, "scheme": policy.scheme, "file": policy.file,
        "chain": list(policy.chain), "rule_versions": len(versions), "unverified": unverified,
        "covers": [[a.isoformat(), b.isoformat() if b else None] for a, b in spans],
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return EXIT_OK
    covers = ", ".join(f"{a} to {b or 'open'}" for a, b in report["covers"]) or "no day (no inpatient deductible and ratio in force)"
    print(f"ok: {policy.id} ({policy.region}, {policy.scheme}) from {policy.file}")
    print(f"  extends: {' -> '.join(policy.chain[1:]) or 'nothing'}")
    print(f"  rule versions: {len(versions)}, of which unverified: {unverified}")
    print(f"  settles inpatient claims dated: {covers}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "quote":
            return _quote(args)
        if args.policy_command == "check":
            return _policy_check(args)
        return _policy_list(args)
    except MedcalcError as exc:
        print(f"medcalc: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # an internal error: still one line, but a distinct exit code
        print(f"medcalc: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``medcalc policy list|show|check|diff``: the policy tools.

Listing the policies found (shipped and the user's), a policy's rules on a day with their
sources, a strict load and lint of a policy file, and the differences between two policies
(or one on two days), with what they change on a claims file.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from ..api import settle_many
from ..money import format_yuan
from ..policy.describe import coverage, policy_row, rules_on
from ..policy.model import ADMISSION_RULES, Policy
from ..policy.registry import list_policies, load_policy, search_folders
from ..report.terminal import markup, printable
from .options import EXIT_OK, _console, _day, _Parser, _print_json, encoding_option, policies_option


def add_commands(sub, output: argparse.ArgumentParser) -> None:
    """Register ``policy`` and its subcommands on the CLI's subparsers."""
    policy = sub.add_parser("policy", help="policy tools: list, show, check, diff")
    psub = policy.add_subparsers(dest="policy_command", required=True, parser_class=_Parser)
    listing = psub.add_parser("list", parents=[output], help="list the shipped policies (and those of --policies)")
    policies_option(listing)
    show = psub.add_parser("show", parents=[output], help="show a policy's rules on a date, each with its source")
    policies_option(show)
    show.add_argument("policy", help="policy id or path")
    show.add_argument("--on", help="the date (default: the first day the policy settles claims)")
    check = psub.add_parser("check", parents=[output], help="load a policy file strictly and lint it")
    policies_option(check)
    check.add_argument("file", help="path to a policy TOML file, or a policy id")
    diff = psub.add_parser("diff", parents=[output], help="compare two policies, or one policy on two dates")
    policies_option(diff)
    diff.add_argument("a", help="policy id or path")
    diff.add_argument("b", nargs="?", help="second policy (default: the same policy)")
    diff.add_argument("--on", required=True, help="the date for A (and for B unless --on-b)")
    diff.add_argument("--on-b", dest="on_b", help="the date for B")
    diff.add_argument("--claims", help="a claims file to settle under both: how many change, and by how much")
    encoding_option(diff, "--claims")
    listing.set_defaults(run=_policy_list)
    show.set_defaults(run=_policy_show)
    check.set_defaults(run=_policy_check)
    diff.set_defaults(run=_policy_diff)


def _policy_list(args: argparse.Namespace) -> int:
    rows = [policy_row(p) for p in list_policies()]
    if args.json:
        _print_json(rows)
        return EXIT_OK
    from rich.table import Table

    own = search_folders()[:-1]
    title = f"policies of {', '.join(map(str, own))} and shipped" if own else "shipped policies"
    table = Table(title=markup(title), header_style="bold")
    for col in ("id", "region", "scheme", "covers (inpatient)", "levels"):
        table.add_column(col, overflow="fold")
    for r in rows:
        covers = ", ".join(f"{a}…{b or ''}" for a, b in r["covers"]) or "— (no inpatient rules)"
        scheme = r["scheme"] + (f" {r['tier']}" if r["tier"] else "")
        table.add_row(*(markup(v) for v in (r["id"], r["region"], scheme, covers, ", ".join(r["levels"]))))
    _console(args).print(table)
    return EXIT_OK


def _policy_show(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy)
    spans = policy.coverage(ADMISSION_RULES)
    day = (
        _day(args.on, "--on")
        if args.on
        else (spans[0][0] if spans else min(policy.change_days(), default=dt.date.today()))
    )
    rules = rules_on(policy, day)
    if args.json:
        _print_json(
            {
                "id": policy.id,
                "region": policy.region,
                "scheme": policy.scheme,
                "tier": policy.tier,
                "on": day.isoformat(),
                "chain": list(policy.chain),
                "levels": dict(policy.levels),
                "covers": coverage(policy),
                "notes": policy.notes,
                "rules": rules,
            }
        )
        return EXIT_OK
    from rich.tree import Tree

    escape = markup  # every piece of policy text: control characters escaped, then rich markup

    tree = Tree(
        f"[bold]{escape(policy.id)}[/bold] · {escape(policy.region)} · {policy.scheme}"
        f"{' ' + escape(policy.tier) if policy.tier else ''} · on {day} · extends "
        f"{escape(' → '.join(policy.chain[1:]) or 'nothing')}"
    )
    levels = tree.add("levels")
    for code, name in policy.levels.items():
        levels.add(escape(f"{code}: {name}"))
    for r in rules:
        until = f" to {r['until']}" if r["until"] else ""
        node = tree.add(f"[bold]{escape(r['rule'])}[/bold]  " + escape(f"(from {r['since']}{until}; {r['file']})"))
        for name, value in r["values"].items():
            node.add(escape(f"{name}: {value}"))
        s = r["source"]
        flag = "" if s["verified"] else " [yellow]\\[unverified 未核实][/yellow]"
        node.add(
            f"[italic]{escape('“' + s['quote'] + '”')}[/italic] — {escape(s['title'])}"
            f"{escape(' ' + s['document']) if s['document'] else ''}{flag}"
            + (escape(f"\nnote: {s['note']}") if s["note"] else "")
        )
    if not rules:
        tree.add("no rule is in force on this day")
    if policy.notes.strip():
        tree.add("[bold]notes[/bold] (what the sources leave open)").add(escape(policy.notes.strip()))
    _console(args).print(tree)
    return EXIT_OK


def _policy_check(args: argparse.Namespace) -> int:
    from ..policy.lint import lint, services_covered

    policy = load_policy(args.file)
    versions = [v for t in policy.timelines.values() for layer in t.layers for v in layer if not v.disabled]
    services = {
        name: [[a.isoformat(), b.isoformat() if b else None] for a, b in spans]
        for name, spans in services_covered(policy).items()
    }
    report: dict[str, Any] = {
        "id": policy.id,
        "region": policy.region,
        "scheme": policy.scheme,
        "file": policy.file,
        "chain": list(policy.chain),
        "rule_versions": len(versions),
        "unverified": sum(1 for v in versions if v.citation is not None and not v.citation.verified),
        "covers": coverage(policy),
        "services": services,
        "warnings": lint(policy),
    }
    if args.json:
        _print_json(report)
        return EXIT_OK
    covers = ", ".join(f"{a} to {b or 'open'}" for a, b in report["covers"]) or (
        "no day (no inpatient deductible and ratio in force)"
        if policy.levels
        else "none (an outpatient-only policy: no hospital level in [levels])"
    )
    print(printable(f"ok: {policy.id} ({policy.region}, {policy.scheme}) from {policy.file}"))
    print(f"  extends: {' -> '.join(policy.chain[1:]) or 'nothing'}")
    print(f"  rule versions: {len(versions)}, of which unverified: {report['unverified']}")
    print(f"  settles inpatient claims dated: {covers}")
    for name, spans in report["services"].items():
        print(
            printable(
                f"  outpatient service {name}: " + (", ".join(f"{a} to {b or 'open'}" for a, b in spans) or "no day")
            )
        )
    for warning in report["warnings"]:
        print(printable(f"  warning: {warning}"))
    return EXIT_OK


def _policy_diff(args: argparse.Namespace) -> int:
    a = load_policy(args.a)
    b = load_policy(args.b) if args.b else a
    day_a = _day(args.on, "--on")
    day_b = _day(args.on_b, "--on-b") if args.on_b else day_a
    rules_a = {r["rule"]: r for r in rules_on(a, day_a)}
    rules_b = {r["rule"]: r for r in rules_on(b, day_b)}
    changes = []
    for key in sorted(set(rules_a) | set(rules_b)):
        ra, rb = rules_a.get(key), rules_b.get(key)
        for name in sorted(set(ra["values"] if ra else {}) | set(rb["values"] if rb else {})):
            va = ra["values"].get(name) if ra else None
            vb = rb["values"].get(name) if rb else None
            if va != vb:
                changes.append(
                    {
                        "rule": key,
                        "value": name,
                        "a": va,
                        "b": vb,
                        "source_a": ra["source"]["title"] if ra else None,
                        "source_b": rb["source"]["title"] if rb else None,
                    }
                )
    report: dict[str, Any] = {"a": f"{a.id} on {day_a}", "b": f"{b.id} on {day_b}", "changes": changes}
    if args.claims:
        report["claims"] = _diff_claims(args.claims, a, b, args.encoding)
    if args.json:
        _print_json(report)
        return EXIT_OK
    from rich.table import Table

    console = _console(args)
    table = Table(title=f"{report['a']}  →  {report['b']}", header_style="bold")
    for col in ("rule", "value", "A", "B", "sources (A → B)"):
        table.add_column(col, overflow="fold")
    for c in changes:
        table.add_row(
            *(
                markup(v)
                for v in (
                    c["rule"],
                    c["value"],
                    c["a"] or "—",
                    c["b"] or "—",
                    f"{c['source_a'] or '—'} → {c['source_b'] or '—'}",
                )
            )
        )
    if not changes:
        table.add_row("(no differences)", "", "", "", "")
    console.print(table)
    if "claims" in report:
        r = report["claims"]
        from ..report.display import grouped_text
        from ..report.layout import Paragraph

        console.print(
            Paragraph(
                grouped_text(
                    f"claims settled under both: {r['settled_both']:,}; changed: {r['changed']:,}; "
                    f"funds A {r['funds_a']} → B {r['funds_b']} (difference {r['difference']}); "
                    f"largest change {r['largest_change']} on row {r['largest_row']} (rows counted from 1)"
                )
            )
        )
    return EXIT_OK


def _diff_claims(path: str, a: Policy, b: Policy, encoding: str | None = None) -> dict[str, Any]:
    from ..batch.files import read_claims

    read = read_claims(path, encoding=encoding)
    settled_a = {s.row: s for s in settle_many(a, read.claims, explain=False).settlements}
    settled_b = {s.row: s for s in settle_many(b, read.claims, explain=False).settlements}
    both = sorted(set(settled_a) & set(settled_b))
    deltas = {i: settled_b[i].funds - settled_a[i].funds for i in both}
    largest = max(both, key=lambda i: abs(deltas[i]), default=None)
    return {
        "rows": read.count,
        "settled_both": len(both),
        "changed": sum(1 for d in deltas.values() if d),
        "funds_a": format_yuan(sum(settled_a[i].funds for i in both)),
        "funds_b": format_yuan(sum(settled_b[i].funds for i in both)),
        "difference": format_yuan(sum(deltas.values())),
        "largest_change": format_yuan(deltas[largest]) if largest is not None else "0.00",
        "largest_row": read.rows[largest] if largest is not None else None,
    }

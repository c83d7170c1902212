"""``GET /policies``, ``/policies/{id}``, ``/policies/{id}/on/{date}``, ``/regions/{region}/on/{date}``.

What a policy declares, as JSON: the list (as ``medcalc policy list --json``), one policy with
every rule version, its levels, services, sources and quotes, and the rules in force on a day
(as ``medcalc policy show --json``) with what a claim may choose that day — the levels, the
outpatient services in force with their levels and diseases, and the policy-free words
(places, referrals, categories, visits, schemes) with their Chinese labels — which the quote
page fills its choices from.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..policy.describe import coverage, describe_rule, policy_row, rules_on  # as the CLI reports them
from ..policy.model import ADMISSION_RULES, CATEGORIES, PLACES, REFERRALS, SCHEMES, Policy, RuleVersion
from ..policy.registry import list_policies
from ..vocabulary import LABELS, SERVICE_LABELS
from .lookup import choose_policy, day_of, policy_by_id

__all__ = ["index", "detail", "on_day", "region_on", "choices"]

_SERVICE = "outpatient.service."


def index() -> list[dict[str, Any]]:
    """Every policy of the configured folders: the rows of ``medcalc policy list --json``."""
    return [policy_row(p) for p in list_policies()]


def _source(policy: Policy, source_id: str) -> dict[str, Any]:
    s = policy.sources[source_id]
    return {
        "id": s.id,
        "title": s.title,
        "official": s.official,
        "document": s.document,
        "date": s.date.isoformat() if s.date else None,
        "address": s.address,
    }


def _version(v: RuleVersion) -> dict[str, Any]:
    c = v.citation  # None for a disabled version that names no source (it needs none)
    return {
        "since": v.since.isoformat(),
        "until": v.until.isoformat() if v.until else None,
        "disabled": v.disabled,
        "values": {} if v.disabled else describe_rule(v),
        "file": v.file,
        "source": None if c is None else c.source.id,
        "quote": None if c is None else c.quote,
        "verified": None if c is None else c.verified,
        "note": None if c is None else c.note,
    }


def _service_label(code: str) -> str:
    return SERVICE_LABELS.get(code, (code,))[0]


def detail(policy_id: str) -> dict[str, Any]:
    """One policy: its rules with every version (own first, then inherited), levels, services, sources."""
    p = policy_by_id(policy_id)
    services = sorted(k[len(_SERVICE) :] for k in p.timelines if k.startswith(_SERVICE))
    return {
        "id": p.id,
        "region": p.region,
        "aliases": list(p.aliases),
        "scheme": p.scheme,
        "tier": p.tier,
        "chain": list(p.chain),
        "file": p.file,
        "covers": coverage(p),
        "change_days": [d.isoformat() for d in p.change_days()],
        "levels": dict(p.levels),
        "institutions": dict(p.institutions),
        "services": {code: _service_label(code) for code in services},
        "notes": p.notes,
        "sources": {sid: _source(p, sid) for sid in p.sources},
        "rules": {
            key: [_version(v) for layer in timeline.layers for v in layer]
            for key, timeline in sorted(p.timelines.items())
        },
    }


def choices() -> dict[str, list[dict[str, str]]]:
    """The words of the fields that do not depend on the policy, with their Chinese labels."""
    codes = {
        "place": PLACES,
        "referral": REFERRALS,
        "category": CATEGORIES,
        "visit": ("inpatient", "outpatient"),
        "scheme": SCHEMES,
    }
    return {field: [{"code": c, "label": LABELS[field][c]} for c in values] for field, values in codes.items()}


def _in_force(p: Policy, day: dt.date) -> dict[str, Any]:
    """The rules in force on ``day`` (as ``medcalc policy show --json``) and what a claim may choose then."""
    resolved = p.at(day)
    names = {**p.institutions, **p.levels}
    services = []
    for key in sorted(resolved.rules):
        if key.startswith(_SERVICE):
            rule = resolved.rules[key]
            code = key[len(_SERVICE) :]
            diseases = list(dict.fromkeys([*(rule.get("disease_caps") or ()), *(rule.get("diseases") or ())]))
            services.append(
                {
                    "code": code,
                    "label": _service_label(code),
                    "levels": [{"code": lv, "label": names.get(lv, lv)} for lv in sorted(rule["levels"])],
                    "diseases": diseases,
                }
            )
    settles = all(resolved.rule(k) is not None for k in ADMISSION_RULES)
    return {
        "id": p.id,
        "region": p.region,
        "scheme": p.scheme,
        "tier": p.tier,
        "on": day.isoformat(),
        "chain": list(p.chain),
        "levels": dict(p.levels),
        "covers": coverage(p),
        "notes": p.notes,
        "rules": rules_on(p, day),
        "inpatient": settles,
        "services": services,
        "choices": choices(),
    }


def on_day(policy_id: str, day: str) -> dict[str, Any]:
    """``GET /policies/{id}/on/{date}``."""
    return _in_force(policy_by_id(policy_id), day_of(day, "date"))


def region_on(region: str, day: str, scheme: str | None = None, tier: str | None = None) -> dict[str, Any]:
    """``GET /regions/{region}/on/{date}``: the policy of a region in force that day, as ``on_day``."""
    on = day_of(day, "date")
    return _in_force(choose_policy({"region": region, "on": on.isoformat(), "scheme": scheme, "tier": tier}, on), on)

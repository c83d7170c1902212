"""Reforms as data: an overlay file that changes some values of a policy from a date.

A reform is a TOML file like a policy, with a ``[reform]`` table instead of ``[policy]``:

    [reform]
    id = "huaibei-level1-95"
    base = "huaibei-2025"              # the policy it changes: an id, or a path next to this file
    title = "一级医疗机构住院报销比例提高5个百分点"
    author = "市医保局待遇保障科"
    date = 2026-11-30                  # when it was proposed
    since = 2025-01-01                 # from when it applies (each change may give its own)

    [[adjust]]                         # a relative change of one rule in force on `since`
    rule = "inpatient.ratio"
    levels = ["level1"]                # optional: only these levels (default: all)
    points = "+5"                      # on ratios (every band's, for banded rules)

    [[adjust]]
    rule = "critical.threshold"
    scale = "50%"                      # on amounts (deductibles, thresholds, caps), half up to the fen

    [[critical.modifier.dibao]]        # or whole rule versions, written as in a policy file
    since = 2025-01-01
    when = { category = ["dibao"] }
    threshold_fraction = "50%"

Every value of a reform cites the proposal (a source ``proposal`` built from title, author
and date, unofficial: ``verified = false``); a rule may still cite a source of the base
policy with a verbatim quote. The result is an ordinary ``Policy`` whose id is the reform's:
the reform's versions come first in each rule's timeline, the base's stay underneath, so
claims before ``since`` settle exactly as on the base. It is validated like any policy, and
every error names the file, the key path, the value found and what is allowed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import attrs

from ..errors import NOTHING, PolicyError, PolicyNotFound
from ..money import RATIO_ONE, round_half_up
from .files import confined, read_toml
from .loader import _FAMILIES, _ID, _check_layers, _File, _header, _read_family, _read_toml, check_deductible_fractions
from .loader import _read_sources as _read_policy_sources
from .model import Band, ByLevel, Citation, PeriodCap, Policy, RuleVersion, Source, Timeline, WageAmount
from .schema import Invalid, ParseContext, _points, _ratio, parse_date
from .wage import derive

__all__ = [
    "is_reform_file",
    "is_reform",
    "load_reform",
    "one_line_reform",
    "parse_adjustment",
    "RATIO_FIELDS",
    "AMOUNT_FIELDS",
]

_REFORM_KEYS = {"id", "base", "title", "author", "date", "since", "notes"}
_ADJUST_KEYS = {"rule", "levels", "points", "scale", "since", "until", "note"}
#: Fields ``points`` changes (ratios, in every level and band), and fields ``scale`` changes (fen).
RATIO_FIELDS: tuple[str, ...] = ("ratio", "bands", "floor")
AMOUNT_FIELDS: tuple[str, ...] = (
    "amount",
    "by_admission",
    "deductible",
    "fixed",
    "cap",
    "fund",
    "cost",
    "yearly",
    "visit_cap",
    "ceiling",
    "disease_caps",
    "period_cost_cap",
)


def is_reform_file(path: Path) -> bool:
    """Whether a TOML file is a reform rather than a policy (see ``is_reform``); an unreadable
    file is not a reform (loading it as a policy says why)."""
    try:
        return is_reform(read_toml(Path(path), str(path)))
    except PolicyError:
        return False


def is_reform(data: dict) -> bool:
    """Whether parsed TOML is a reform: a top-level ``reform`` table, however it was written
    (a comment after the header, quoted, dotted keys). Decided on the TOML, not on the text."""
    return "reform" in data and "policy" not in data


def load_reform(
    path: Path,
    load_base: Callable[[str | Path], Policy],
    shown: str | None = None,
    roots: tuple[Path, ...] | None = None,
    data: dict | None = None,
) -> Policy:
    """Load a reform file onto its base policy.

    ``load_base`` loads the base from an id, or from a path this function has checked lies
    inside ``roots`` (the policy root; default the reform's folder). Whatever goes wrong with
    the base is an error at ``reform.base`` of this file.
    """
    file = _File(Path(path), shown or str(path), roots)
    return _reform(file, _read_toml(file) if data is None else data, _checked_base(file, load_base))


def _checked_base(file: _File, load_base: Callable[[str | Path], Policy]) -> Callable[[str, Path], Policy]:
    def load(base: str, folder: Path) -> Policy:
        allowed = "the id of the policy it changes, or a path to its .toml file inside the policy root"
        if base.endswith(".toml"):
            target: str | Path = confined(file.shown, "reform.base", base, folder, file.roots, "the base policy")
        elif _ID.match(base):
            target = base
        else:
            raise file.error("reform.base", base, allowed)
        try:
            return load_base(target)
        except PolicyNotFound as exc:
            raise file.error("reform.base", base, f"{allowed} ({exc})") from None
        except PolicyError as exc:
            raise file.error("reform.base", base, f"a base policy that loads ({exc})") from None

    return load


def one_line_reform(
    base: Policy,
    adjustments: list[str],
    *,
    since: dt.date | str | None = None,
    id: str = "adjusted",
    author: str = "medcalc user",
) -> Policy:
    """A reform of a loaded policy given as one-line adjustments, e.g. ``"inpatient.ratio[level1] +5"``.

    Each line is ``RULE[LEVEL,...] +N`` / ``-N`` (points on ratios) or ``RULE *N%`` (scale on
    amounts), as the ``[[adjust]]`` table of a reform file. ``since`` defaults to the day the
    base's newest rules took effect. Validated like a reform file (errors name ``adjust[i]``).
    ``medcalc.policy.adjusted_policy`` takes the base by id or path too (this module loads no
    policy: the registry, which loads reform files, is above it).
    """
    if since is None:
        days = [d for d in base.change_days() if base.at(d).rules]
        since = days[-1] if days else None
    adjust = [parse_adjustment(line) for line in adjustments]
    data = {
        "reform": {
            "id": id,
            "base": base.id,
            "title": "; ".join(adjustments) or "no change",
            "author": author,
            "date": dt.date.today(),
            **({"since": since} if since else {}),
        },
        "adjust": adjust,
    }
    file = _File(Path("."), f"adjustments {adjustments!r}")
    return _reform(file, data, lambda name, folder: base)


def parse_adjustment(line: str) -> dict:
    """``"inpatient.ratio[level1,level2] +5"`` -> an [[adjust]] table (rule, levels, points or scale)."""
    import re

    match = re.fullmatch(
        r"\s*([a-z_.]+[a-z_])\s*(?:\[([a-z0-9_,\s]+)\])?\s+([+-]\s*\d+(?:\.\d+)?|[*×]\s*\d+(?:\.\d+)?%)\s*", line
    )
    if not match:
        raise PolicyError(
            f"adjustment {line!r}",
            "",
            line,
            'RULE[LEVELS] +POINTS or RULE *PERCENT, e.g. "inpatient.ratio[level1] +5" or "critical.threshold *50%"',
        )
    rule, levels, change = match.groups()
    out: dict = {"rule": rule}
    if levels:
        out["levels"] = [lv.strip() for lv in levels.split(",") if lv.strip()]
    change = change.replace(" ", "")
    if change[0] in "*×":
        out["scale"] = change[1:]
    else:
        out["points"] = change
    return out


def _reform(file: _File, data: dict, load_base: Callable[[str, Path], Policy]) -> Policy:
    for key in data:
        if key not in ("reform", "adjust", "sources") and key not in _FAMILIES:
            raise file.error(key, key, "an allowed top-level table: reform, adjust, sources, " + ", ".join(_FAMILIES))
    meta = _read_meta(file, data.get("reform"))
    base = load_base(meta["base"], file.path.parent)
    proposal = Source(
        id="proposal",
        title=meta["title"],
        official=False,
        document=f"proposal by {meta['author']}",
        date=meta["date"],
        defined_in=file.shown,
    )
    sources = dict(base.sources)
    sources.update(_read_sources(file, data.get("sources", {})))
    sources["proposal"] = proposal
    ctx = ParseContext(frozenset(base.levels) | frozenset(base.institutions), frozenset(base.levels))

    own: dict[str, tuple[RuleVersion, ...]] = {}
    for family in _FAMILIES:
        table = _cite_proposal(data.get(family), meta)
        own.update(_read_family(file, family, table, ctx, sources))
    adjusts = data.get("adjust", [])
    if not isinstance(adjusts, list):
        raise file.error("adjust", adjusts, "an array of changes written as [[adjust]]")
    citation = Citation(source=proposal, quote=meta["title"], verified=False)
    for i, body in enumerate(adjusts):
        version = _adjusted(file, f"adjust[{i}]", body, base, meta, citation, ctx, i)
        if version.key in own:
            raise file.error(
                f"adjust[{i}].rule",
                version.key,
                "a rule the reform neither adjusts twice nor also writes as a whole version",
            )
        own[version.key] = (version,)

    timelines = {}
    for key in sorted(set(own) | set(base.timelines)):
        inherited = base.timelines[key].layers if key in base.timelines else ()
        timelines[key] = Timeline(key, ((own[key],) if key in own else ()) + inherited)
    notes = (
        f"Reform {meta['id']!r} of {base.id}: {meta['title']} (proposal by {meta['author']}, {meta['date']}). "
        + meta["notes"]
    ).strip()
    policy = Policy(
        id=meta["id"],
        region=base.region,
        scheme=base.scheme,
        tier=base.tier,
        aliases=(),
        notes=notes,
        levels=base.levels,
        institutions=base.institutions,
        sources=sources,
        timelines=timelines,
        file=file.shown,
        chain=(meta["id"],) + base.chain,
    )
    _check_layers(file, policy)
    check_deductible_fractions(file, policy)
    return derive(policy)


def _read_meta(file: _File, table: object) -> dict:
    table = _header(file, "reform", table, _REFORM_KEYS, ("id", "base", "title", "author", "date"))
    for key in ("base", "title", "author"):
        if not isinstance(table[key], str) or not table[key].strip():
            raise file.error(
                f"reform.{key}",
                table[key],
                {
                    "base": "the id or path of the policy it changes",
                    "title": "what the proposal changes, in a sentence",
                    "author": "who proposes it",
                }[key],
            )
    meta = dict(table)
    for key in ("date", "since"):  # since may be missing: each change then gives its own
        meta[key] = _date(file, f"reform.{key}", table.get(key))
    notes = table.get("notes", "")
    if not isinstance(notes, str):
        raise file.error("reform.notes", notes, "a string")
    meta["notes"] = notes
    return meta


def _read_sources(file: _File, table: object) -> dict[str, Source]:
    if isinstance(table, dict) and "proposal" in table:
        raise file.error("sources.proposal", "proposal", "another id: 'proposal' is the reform itself")
    return _read_policy_sources(file, table)


def _cite_proposal(table: object, meta: dict) -> object:
    """Rule versions without a citation cite the proposal (unverified); ``since`` defaults to the reform's."""
    if not isinstance(table, dict):
        return table

    def cite(body: object) -> object:
        if not isinstance(body, dict):
            return body
        body = dict(body)
        if "source" not in body:
            body.update(source="proposal", quote=meta["title"])
            body.setdefault("verified", False)
        if "since" not in body and meta["since"] is not None:
            body["since"] = meta["since"]
        return body

    out: dict[str, object] = {}
    for rule, body in table.items():
        if isinstance(body, list):
            out[rule] = [cite(b) for b in body]
        elif isinstance(body, dict):  # named rules: name -> versions
            out[rule] = {name: [cite(b) for b in v] if isinstance(v, list) else v for name, v in body.items()}
        else:
            out[rule] = body
    return out


def _adjusted(
    file: _File, where: str, body: object, base: Policy, meta: dict, citation: Citation, ctx: ParseContext, index: int
) -> RuleVersion:
    """A new version of one rule: the base's version in force on ``since``, changed."""
    if not isinstance(body, dict):
        raise file.error(where, body, "a table with rule and points or scale")
    for key in body:
        if key not in _ADJUST_KEYS:
            raise file.error(f"{where}.{key}", key, "one of the keys " + ", ".join(sorted(_ADJUST_KEYS)))
    key = body.get("rule", NOTHING)
    if not isinstance(key, str) or key not in base.timelines:
        raise file.error(f"{where}.rule", key, "a rule of the base policy: " + ", ".join(sorted(base.timelines)))
    since = _date(file, f"{where}.since", body.get("since", meta["since"]))
    if since is None:
        raise file.error(f"{where}.since", NOTHING, "a date such as 2025-01-01 (here or in [reform])")
    until = _date(file, f"{where}.until", body.get("until"))
    if until is not None and until < since:
        raise file.error(f"{where}.until", until.isoformat(), f"a last day on or after since ({since})")
    current = base.timelines[key].at(since)
    if current is None:
        raise file.error(f"{where}.since", since.isoformat(), f"a day on which the base policy has rule {key} in force")
    changes = [k for k in ("points", "scale") if k in body]
    if len(changes) != 1:
        raise file.error(where, changes or NOTHING, "exactly one of points, scale")
    levels = body.get("levels")
    if levels is not None:
        if (
            not isinstance(levels, list)
            or not levels
            or any(not isinstance(lv, str) or lv not in base.levels for lv in levels)
        ):
            raise file.error(f"{where}.levels", levels, "an array of the base's levels: " + ", ".join(base.levels))
        levels = frozenset(levels)
    try:
        if "points" in body:
            change = _points(body["points"], ctx)
            fields, apply = RATIO_FIELDS, lambda v: _add_points(v, change)
        else:
            factor = _ratio(body["scale"], ctx)
            fields, apply = AMOUNT_FIELDS, lambda v: round_half_up(v * factor, RATIO_ONE)
    except Invalid as exc:
        raise file.error(f"{where}.{changes[0]}", exc.found, exc.allowed) from None
    touched = [f for f in fields if current.get(f) is not None]
    if not touched:
        present = sorted(k for k, v in current.params.items() if v is not None)
        raise file.error(
            f"{where}.{changes[0]}",
            body[changes[0]],
            f"a change for the values of {key}; its fields are {', '.join(present)}, and "
            f"{changes[0]} changes only {', '.join(fields)}",
        )
    params = dict(current.params)
    try:
        for name in touched:
            params[name] = _change(params[name], apply, levels)
    except Invalid as exc:
        raise file.error(f"{where}.{changes[0]}", body[changes[0]], exc.allowed) from None
    what = f"{changes[0]} {body[changes[0]]}" + (f" on {', '.join(sorted(levels))}" if levels else "")
    note = body.get("note")
    described = f"{what}, applied to {key} of {current.file or base.id}"
    return RuleVersion(
        key=key,
        since=since,
        until=until,
        citation=attrs.evolve(citation, note=f"{described}. {note}" if note else described),
        params=params,
        file=file.shown,
        index=index,
    )


def _date(file: _File, where: str, value: object) -> dt.date | None:
    if value is None:
        return None
    try:
        return parse_date(value)
    except Invalid as exc:
        raise file.error(where, value, exc.allowed) from None


def _add_points(ratio: int, points: int) -> int:
    changed = ratio + points
    if not 0 <= changed <= RATIO_ONE:
        raise Invalid(f"a change that keeps every ratio within 0%..100% (one would become {changed / 100:g}%)", points)
    return changed


def _change(value, apply, levels: frozenset[str] | None):
    """Apply a change to one parameter value: a number, a per-level table, bands, or a tuple of them."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return apply(value)
    if isinstance(value, ByLevel):
        if levels is None:
            return ByLevel(
                {k: _change(v, apply, None) for k, v in value.values.items()},
                None if value.default is None else _change(value.default, apply, None),
            )
        # a default-valued table becomes explicit where only some levels change
        values = {lv: value.get(lv) for lv in (levels | value.levels()) if value.get(lv) is not None}
        return ByLevel({k: _change(v, apply, None) if k in levels else v for k, v in values.items()}, value.default)
    if isinstance(value, Band):
        return Band(value.upper, _change(value.ratio, apply, levels))
    if isinstance(value, PeriodCap):  # the amount a month / quarter counts
        return PeriodCap(apply(value.amount), value.per)
    if isinstance(value, tuple):
        return tuple(_change(v, apply, levels) for v in value)
    if isinstance(value, WageAmount):
        raise Invalid(
            "a change of amounts written in yuan: this one is a share or multiple of the reference wage "
            "(write a whole version with the new wage_share or wage_multiple, or adjust reference.wage)",
            value.written,
        )
    if isinstance(value, dict):  # disease caps
        return {k: apply(v) for k, v in value.items()}
    raise Invalid(f"a value that can be changed (this one is {type(value).__name__})", value)

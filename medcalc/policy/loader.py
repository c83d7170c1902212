"""Strict loading of policy files: TOML -> validated rules -> merged with ``extends``.

Every problem is a PolicyError naming the file, the key path, the value found and
what is allowed. Quotes are checked against their source text at load time, so a
policy whose citation does not match its source cannot be used at all.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

from ..errors import NOTHING, PolicyError
from .files import confined, read_text, read_toml
from .model import SCHEMES, Citation, Policy, RuleVersion, Source, Timeline
from .schema import LAYER_REQUIRED, RULES, VERSION_FIELDS, Invalid, ParseContext, parse_date
from .wage import derive

__all__ = ["load_file", "normalise_quote_text", "misquote_hint"]

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_LEVEL = re.compile(r"^[a-z][a-z0-9_]*$")
_TOP = ("policy", "levels", "institutions", "sources")
_POLICY_KEYS = {"id", "region", "scheme", "tier", "extends", "aliases", "notes", "not_encoded"}
_SOURCE_KEYS = {"title", "official", "file", "document", "date", "address"}
_FAMILIES = sorted({key.split(".")[0] for key in RULES})


def normalise_quote_text(text: str) -> str:
    """Whitespace removed: quotes are compared to sources without it."""
    return re.sub(r"\s+", "", text)


class _File:
    """One policy file being read; knows how to phrase its errors and where it may read.

    ``roots`` are the folders its source texts may lie in (after resolving symlinks): the
    policy root it was loaded from and the shipped policies; by default its own folder.
    """

    def __init__(self, path: Path, shown: str, roots: tuple[Path, ...] | None = None) -> None:
        self.path = path
        self.shown = shown
        self.roots = roots if roots is not None else (Path(path).resolve().parent,)

    def error(self, key_path: str, found: object, allowed: str) -> PolicyError:
        return PolicyError(self.shown, key_path, found, allowed)


def _read_toml(file: _File) -> dict:
    return read_toml(file.path, file.shown)


def load_file(
    path: Path,
    find_parent: Callable[[str], Path | None],
    shown: str | None = None,
    roots: tuple[Path, ...] | None = None,
    data: dict | None = None,
    *,
    searched: str = "",
    roots_of: Callable[[Path], tuple[Path, ...]] | None = None,
) -> Policy:
    """Load one policy file and, recursively, the policies it extends.

    ``roots``: the folders it may read source texts from (default: its own folder);
    ``data``: the file's TOML when the caller has parsed it already; ``searched``: where
    ``find_parent`` looks, named when it finds nothing; ``roots_of``: the folders a parent
    found there may read (default: the same ``roots``).
    """
    return _load(Path(path), find_parent, shown or str(path), (), roots, data, searched, roots_of)


def _load(
    path: Path,
    find_parent: Callable[[str], Path | None],
    shown: str,
    seen: tuple[str, ...],
    roots: tuple[Path, ...] | None = None,
    data: dict | None = None,
    searched: str = "",
    roots_of: Callable[[Path], tuple[Path, ...]] | None = None,
) -> Policy:
    file = _File(path, shown, roots)
    data = _read_toml(file) if data is None else data
    for key in data:
        if key not in _TOP and key not in _FAMILIES:
            raise file.error(key, key, "an allowed top-level table: " + ", ".join(list(_TOP) + _FAMILIES))
    meta = _read_meta(file, data.get("policy"))
    if meta["id"] in seen:
        raise file.error(
            "policy.extends", meta["extends"], "an extends chain without cycles: " + " -> ".join(seen + (meta["id"],))
        )

    parent: Policy | None = None
    if meta["extends"] is not None:
        parent_path = find_parent(meta["extends"])
        if parent_path is None:
            raise file.error(
                "policy.extends",
                meta["extends"],
                "the id of a policy that exists" + (f" in {searched}" if searched else ""),
            )
        parent = _load(
            parent_path,
            find_parent,
            _shown_near(parent_path, path, shown),
            seen + (meta["id"],),
            roots_of(parent_path) if roots_of else roots,
            searched=searched,
            roots_of=roots_of,
        )
        if parent.scheme != meta["scheme"]:
            raise file.error(
                "policy.scheme", meta["scheme"], f"the scheme of the extended policy {parent.id!r} ({parent.scheme!r})"
            )

    levels = dict(parent.levels) if parent else {}
    levels.update(_read_levels(file, data.get("levels", {})))
    institutions = dict(parent.institutions) if parent else {}
    institutions.update(_read_levels(file, data.get("institutions", {}), "institutions"))
    if not levels and not institutions:  # an outpatient-only policy declares its institutions alone
        raise file.error(
            "levels",
            NOTHING,
            "a [levels] table declaring at least one hospital level, or an [institutions] "
            "table for an outpatient-only policy (or an extended policy that has one)",
        )
    sources = dict(parent.sources) if parent else {}
    sources.update(_read_sources(file, data.get("sources", {})))

    clash = sorted(set(institutions) & set(levels))
    if clash:
        raise file.error(f"institutions.{clash[0]}", clash[0], "a code not also declared in [levels]")
    ctx = ParseContext(frozenset(levels) | frozenset(institutions), frozenset(levels))
    own: dict[str, tuple[RuleVersion, ...]] = {}
    for family in _FAMILIES:
        own.update(_read_family(file, family, data.get(family), ctx, sources))

    timelines: dict[str, Timeline] = {}
    for key in sorted(set(own) | set(parent.timelines if parent else ())):
        inherited = parent.timelines[key].layers if parent and key in parent.timelines else ()
        mine = (own[key],) if key in own else ()
        timelines[key] = Timeline(key, mine + inherited)

    policy = Policy(
        id=meta["id"],
        region=meta["region"],
        scheme=meta["scheme"],
        tier=meta["tier"] if meta["tier"] is not None else (parent.tier if parent else None),
        aliases=tuple(meta["aliases"]),
        notes=meta["notes"],
        levels=levels,
        institutions=institutions,
        sources=sources,
        timelines=timelines,
        file=shown,
        chain=(meta["id"],) + (parent.chain if parent else ()),
        not_encoded=tuple(meta["not_encoded"]),
    )
    _check_layers(file, policy)
    check_deductible_fractions(file, policy)
    _check_not_encoded(file, policy, meta["not_encoded"])
    return derive(policy)


_NOT_ENCODED_HELP = (
    'an array of the rules the notes say are not encoded: a rule family ("critical"), a rule '
    '("critical.threshold", "assistance.category") or a named rule '
    '("outpatient.service.chronic"); families: ' + ", ".join(_FAMILIES)
)


def _known_rule_path(item: str) -> bool:
    if item in _FAMILIES or item in RULES:
        return True
    rule, _, name = item.rpartition(".")
    return rule in RULES and RULES[rule].named and bool(_LEVEL.match(name))


def _check_not_encoded(file: _File, policy: Policy, not_encoded: list[str]) -> None:
    """What the notes list as not encoded must really be absent: no version of it, own or inherited."""
    for i, item in enumerate(not_encoded):
        defined = sorted(k for k in policy.timelines if k == item or k.startswith(item + "."))
        if defined:
            version = policy.timelines[defined[0]].layers[0][0]
            raise file.error(
                f"policy.not_encoded[{i}]",
                item,
                f"a rule this policy does not define; it defines {', '.join(defined)} ({defined[0]} in "
                f"{version.file}): correct the notes and this list",
            )


#: Bounds on the deductible fraction a claim can get (a place rule's multiple times every
#: modifier's fraction, reduced): the kernel computes deductible x num x later fraction and
#: rounds by den x RATIO_ONE, so with a deductible <= MAX_AMOUNT = 10^9 fen and a later
#: fraction <= 10^4, 2 x 10^9 x 4*10^5 x 10^4 + 10^12 x 10^4 = 8.00001 x 10^18 < 2^63.
MAX_FRACTION_NUM, MAX_FRACTION_DEN = 4 * 10**5, 10**12


def check_deductible_fractions(file: _File, policy: Policy) -> None:
    """On no day may the deductible fractions in force combine beyond the engine's int64 range."""
    from fractions import Fraction

    keys = [k for k in policy.timelines if k.startswith(("inpatient.place.", "inpatient.modifier."))]
    days = sorted(set().union(*(policy.timelines[k].change_days() for k in keys)))
    for day in days:
        num = den = 1
        place_num = place_den = 1
        last = None
        for key in keys:
            rule = policy.timelines[key].at(day)
            value = (
                None if rule is None else rule.get("deductible_multiple" if ".place." in key else "deductible_fraction")
            )
            if rule is None or value is None:
                continue
            fraction = Fraction(value, 10000)
            if ".place." in key:  # one place rule applies to a claim: the largest terms bound them all
                place_num, place_den = max(place_num, fraction.numerator), max(place_den, fraction.denominator)
            else:
                num, den = num * fraction.numerator, den * fraction.denominator
            last = rule
            if num * place_num > MAX_FRACTION_NUM or den * place_den > MAX_FRACTION_DEN:
                raise file.error(
                    f"{last.key}[{last.index}]",
                    f"{num * place_num}/{den * place_den}",
                    f"deductible fractions and multiples in force together on {day} whose product, reduced term by "
                    f"term, has a numerator of at most {MAX_FRACTION_NUM} and a denominator of at most "
                    f"{MAX_FRACTION_DEN} (the engine's exact int64 range)",
                )


def _check_layers(file: _File, policy: Policy) -> None:
    """A layer runs on a day only if all its required rules are in force then: all or none.

    Only the days on which one of the layer's own rules changes are checked (the set in force
    changes on no other day), each by bisection: linear in the versions, not quadratic."""
    for layer, keys in LAYER_REQUIRED.items():
        timelines = [policy.timelines.get(k) for k in keys]
        days = sorted(set().union(*(t.change_days() for t in timelines if t is not None)))
        for day in days:
            present = [k for k, t in zip(keys, timelines) if t is not None and t.at(day) is not None]
            if present and len(present) != len(keys):
                missing = [k for k in keys if k not in present]
                raise file.error(layer, NOTHING, _layer_sentence(keys, present, missing, day))


def _words(items: list[str] | tuple[str, ...]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _layer_sentence(keys: tuple[str, ...], present: list[str], missing: list[str], day: dt.date) -> str:
    """Why a layer cannot run on a day, as a sentence."""
    return (
        f"the layer runs only with {_words(keys)} all in force on the same days, but on {day} "
        f"{_words(present)} {'is' if len(present) == 1 else 'are'} in force and {_words(missing)} "
        f"{'is' if len(missing) == 1 else 'are'} not: give {'it' if len(missing) == 1 else 'them'} "
        f"a version for that day, or end {_words(present)} before it"
    )


def _shown_near(target: Path, origin: Path, origin_shown: str) -> str:
    """Show a parent file the way the child was shown (relative where possible)."""
    try:
        base = Path(origin_shown).parent
        return str(base / target.relative_to(origin.parent))
    except ValueError:
        return str(target)


def _header(
    file: _File, section: str, table: object, keys: frozenset[str] | set[str], required: tuple[str, ...]
) -> dict:
    """A file's header table ([policy] or [reform]): a table of known keys, the required ones
    present (``id`` first), and a valid id."""
    if not isinstance(table, dict):
        raise file.error(section, NOTHING, f"a [{section}] table with {', '.join(required[:-1])} and {required[-1]}")
    for key in table:
        if key not in keys:
            raise file.error(f"{section}.{key}", key, "one of the keys " + ", ".join(sorted(keys)))
    for key in required:
        if key not in table:
            raise file.error(f"{section}.{key}", NOTHING, "a value (required)")
    if not isinstance(table["id"], str) or not _ID.match(table["id"]):
        raise file.error(f"{section}.id", table["id"], "an id of lowercase letters, digits, '.', '_' and '-'")
    return table


def _read_meta(file: _File, table: object) -> dict:
    table = _header(file, "policy", table, _POLICY_KEYS, ("id", "region", "scheme"))
    if not isinstance(table["region"], str) or not table["region"].strip():
        raise file.error("policy.region", table["region"], "the region's Chinese name")
    if table["scheme"] not in SCHEMES:
        raise file.error("policy.scheme", table["scheme"], "one of " + ", ".join(repr(s) for s in SCHEMES))
    tier = table.get("tier")
    if tier is not None and (not isinstance(tier, str) or not tier.strip()):
        raise file.error("policy.tier", tier, 'a contribution tier name such as "一档"')
    extends = table.get("extends")
    if extends is not None and (not isinstance(extends, str) or not _ID.match(extends)):
        raise file.error("policy.extends", extends, "the id of the policy this one builds on")
    aliases = table.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise file.error("policy.aliases", aliases, "an array of names (Chinese, pinyin) the region is known by")
    notes = table.get("notes", "")
    if not isinstance(notes, str):
        raise file.error("policy.notes", notes, "a string")
    not_encoded = table.get("not_encoded", [])
    if not isinstance(not_encoded, list):
        raise file.error("policy.not_encoded", not_encoded, _NOT_ENCODED_HELP)
    for i, item in enumerate(not_encoded):
        if not isinstance(item, str) or not _known_rule_path(item):
            raise file.error(f"policy.not_encoded[{i}]", item, _NOT_ENCODED_HELP)
    return {
        "not_encoded": not_encoded,
        "id": table["id"],
        "region": table["region"],
        "scheme": table["scheme"],
        "tier": tier,
        "extends": extends,
        "aliases": aliases,
        "notes": notes,
    }


def _read_levels(file: _File, table: object, key: str = "levels") -> dict[str, str]:
    if not isinstance(table, dict):
        raise file.error(key, table, 'a table of level code = "Chinese name"')
    for code, name in table.items():
        if not _LEVEL.match(code):
            raise file.error(f"{key}.{code}", code, "a level code of lowercase letters, digits and '_'")
        if not isinstance(name, str) or not name.strip():
            raise file.error(f"{key}.{code}", name, "the level's Chinese name")
    return dict(table)


def _read_sources(file: _File, table: object) -> dict[str, Source]:
    if not isinstance(table, dict):
        raise file.error("sources", table, "a table of [sources.<id>] tables")
    out = {}
    for sid, entry in table.items():
        where = f"sources.{sid}"
        if not isinstance(entry, dict):
            raise file.error(where, entry, "a table with title, official and file")
        for key in entry:
            if key not in _SOURCE_KEYS:
                raise file.error(f"{where}.{key}", key, "one of the keys " + ", ".join(sorted(_SOURCE_KEYS)))
        if not isinstance(entry.get("title"), str) or not entry["title"].strip():
            raise file.error(f"{where}.title", entry.get("title", NOTHING), "the document's title")
        if not isinstance(entry.get("official"), bool):
            raise file.error(
                f"{where}.official",
                entry.get("official", NOTHING),
                "true (a government or hospital document) or false (an unofficial page: its values are unverified)",
            )
        text_file = entry.get("file")
        text_path = None
        if text_file is not None:
            text_path = confined(
                file.shown,
                f"{where}.file",
                text_file,
                file.path.parent,
                file.roots,
                "the source's text, relative to this policy file",
            )
            _load_source_text(file, f"{where}.file", text_file, text_path)
        date = entry.get("date")
        if date is not None:
            try:
                date = parse_date(date)
            except Invalid as exc:
                raise file.error(f"{where}.date", date, exc.allowed) from None
        for key in ("document", "address"):
            if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
                raise file.error(f"{where}.{key}", entry[key], "a non-empty string")
        out[sid] = Source(
            id=sid,
            title=entry["title"],
            official=entry["official"],
            file=str(text_path) if text_path is not None else None,
            document=entry.get("document"),
            date=date,
            address=entry.get("address"),
            defined_in=file.shown,
        )
    return out


_SOURCE_TEXT_CACHE: dict[str, str] = {}


def _load_source_text(file: _File, key: str, value: str, path: Path) -> None:
    """Read a source's text once, when it is declared, so a bad one is an error at its ``file`` key."""
    if str(path) not in _SOURCE_TEXT_CACHE:
        _SOURCE_TEXT_CACHE[str(path)] = normalise_quote_text(read_text(path, file.shown, key, value))


def _source_text(source: Source) -> str | None:
    return None if source.file is None else _SOURCE_TEXT_CACHE.get(source.file)


def _read_family(file: _File, family: str, table: object, ctx: ParseContext, sources: dict[str, Source]) -> dict:
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise file.error(family, table, f"a table of rules ([[{family}.<rule>]])")
    out = {}
    for rule, body in table.items():
        key = f"{family}.{rule}"
        spec = RULES.get(key)
        if spec is None:
            allowed = sorted(k.split(".", 1)[1] for k in RULES if k.startswith(family + "."))
            raise file.error(key, rule, f"a known {family} rule: " + ", ".join(allowed))
        if spec.named:
            if not isinstance(body, dict):
                raise file.error(key, body, f"named rules written as [[{key}.<name>]]")
            for name, versions in body.items():
                out[f"{key}.{name}"] = _read_versions(file, f"{key}.{name}", spec, versions, ctx, sources)
        else:
            out[key] = _read_versions(file, key, spec, body, ctx, sources)
    return out


def _read_versions(file, key, spec, versions, ctx, sources) -> tuple[RuleVersion, ...]:
    if not isinstance(versions, list):
        raise file.error(key, versions, f"an array of dated versions written as [[{key}]]")
    parsed = [_read_version(file, f"{key}[{i}]", key, spec, body, ctx, sources, i) for i, body in enumerate(versions)]
    for i in range(1, len(parsed)):
        before, this = parsed[i - 1], parsed[i]
        if before.until is None or this.since <= before.until or this.since <= before.since:
            ran = "open-ended" if before.until is None else f"running to {before.until}"
            raise file.error(
                f"{key}[{i}].since",
                this.since.isoformat(),
                f"versions in date order without overlap (version [{i - 1}] from {before.since} is {ran})",
            )
    return tuple(parsed)


def _read_version(file, where, key, spec, body, ctx, sources, index) -> RuleVersion:
    if not isinstance(body, dict):
        raise file.error(where, body, "a table")
    for name in body:
        if name not in VERSION_FIELDS and name not in spec.fields:
            raise file.error(
                f"{where}.{name}", name, "one of the keys " + ", ".join(list(VERSION_FIELDS) + list(spec.fields))
            )

    def dated(name: str) -> dt.date | None:
        if name not in body:
            return None
        try:
            return parse_date(body[name])
        except Invalid as exc:
            raise file.error(f"{where}.{name}", body[name], exc.allowed) from None

    since = dated("since")
    if since is None:
        raise file.error(f"{where}.since", NOTHING, "a date such as 2019-07-01 (required)")
    until = dated("until")
    if until is not None and until < since:
        raise file.error(f"{where}.until", until.isoformat(), f"a last day on or after since ({since})")
    disabled = body.get("disabled", False)
    if not isinstance(disabled, bool):
        raise file.error(f"{where}.disabled", disabled, "true or false")

    citation = _read_citation(file, where, body, sources, required=not disabled)
    params: dict[str, object] = {}
    if disabled:
        extra = [n for n in body if n in spec.fields]
        if extra:
            raise file.error(f"{where}.{extra[0]}", extra[0], "no mechanism values in a disabled version")
    else:
        for name, (parser, required) in spec.fields.items():
            if name not in body:
                if required:
                    raise file.error(f"{where}.{name}", NOTHING, "a value (required)")
                params[name] = None
                continue
            try:
                params[name] = parser(body[name], ctx)
            except Invalid as exc:
                raise file.error(_join(f"{where}.{name}", exc.path), exc.found, exc.allowed) from None
        for group in spec.one_of:
            present = [n for n in group if params.get(n) is not None]
            if len(present) != 1:
                raise file.error(where, present or NOTHING, "exactly one of " + ", ".join(group))
        for group in spec.at_most_one:
            present = [n for n in group if params.get(n) is not None]
            if len(present) > 1:
                raise file.error(where, present, "at most one of " + ", ".join(group))
        for name in spec.full_levels:
            _check_full_levels(file, f"{where}.{name}", params.get(name), ctx)
        if spec.check is not None:
            try:
                spec.check(params, body)
            except Invalid as exc:
                raise file.error(_join(where, exc.path), exc.found, exc.allowed) from None
    return RuleVersion(
        key=key,
        since=since,
        until=until,
        citation=citation,
        params=params,
        disabled=disabled,
        file=file.shown,
        index=index,
    )


def _join(base: str, sub: str) -> str:
    if not sub:
        return base
    return base + sub if sub.startswith("[") else f"{base}.{sub}"


def _check_full_levels(file, where, value, ctx) -> None:
    tables = value if isinstance(value, tuple) else (value,)
    for i, table in enumerate(tables):
        if table is None or table.default is not None:
            continue
        missing = sorted(ctx.required - table.levels())
        if missing:
            sub = f"{where}[{i}]" if isinstance(value, tuple) else where
            raise file.error(
                sub, sorted(table.levels()), "a value for every declared level; missing " + ", ".join(missing)
            )


def _read_citation(file, where, body, sources, required: bool) -> Citation | None:
    if not required and "source" not in body:
        return None
    if "source" not in body:
        raise file.error(f"{where}.source", NOTHING, "the id of a source declared in [sources] (every value cites one)")
    sid = body["source"]
    source = sources.get(sid) if isinstance(sid, str) else None
    if source is None:
        raise file.error(
            f"{where}.source", sid, "the id of a source declared in [sources]: " + ", ".join(sorted(sources))
        )
    quote = body.get("quote")
    quotes = _read_quotes(file, f"{where}.quote", quote)
    text = _source_text(source)
    if text is not None:
        for i, passage in enumerate(quotes):
            if normalise_quote_text(passage) not in text:
                key = f"{where}.quote" if isinstance(quote, str) else f"{where}.quote[{i}]"
                raise file.error(
                    key, passage, f"a verbatim quote of the text of source {sid!r}{misquote_hint(passage, text)}"
                )
    verified = body.get("verified", True)
    if not isinstance(verified, bool):
        raise file.error(f"{where}.verified", verified, "true or false")
    if not source.official and verified:
        raise file.error(
            f"{where}.verified",
            body.get("verified", NOTHING),
            f"must be false: source {sid!r} is an unofficial page (official = false), so its values are unverified",
        )
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or not note.strip()):
        raise file.error(f"{where}.note", note, "a non-empty string")
    return Citation(source=source, quote=" … ".join(quotes), verified=verified, note=note, quotes=quotes)


_QUOTE_HELP = (
    "the sentence of the source this value comes from, verbatim: one contiguous passage, or an array "
    "of passages (each verbatim) when the value is taken from several sentences"
)


def _read_quotes(file: _File, key: str, quote: object) -> tuple[str, ...]:
    """A quote is one passage (a string) or a non-empty array of passages."""
    if isinstance(quote, str) and quote.strip():
        return (quote,)
    if isinstance(quote, list) and quote:
        for i, passage in enumerate(quote):
            if not isinstance(passage, str) or not passage.strip():
                raise file.error(f"{key}[{i}]", passage, _QUOTE_HELP)
        return tuple(quote)
    raise file.error(key, quote if quote is not None else NOTHING, _QUOTE_HELP)


def misquote_hint(quote: str, text: str) -> str:
    """Where a quote and its (whitespace-free) source text first part: the longest start of the
    quote found in the text, the character after it on both sides, and a snippet of the source
    there; and whether the difference is only one of full-width versus half-width characters."""
    wanted = normalise_quote_text(quote)
    low, high = 0, len(wanted)  # the longest prefix of the quote that occurs in the text
    while low < high:
        mid = (low + high + 1) // 2
        if wanted[:mid] in text:
            low = mid
        else:
            high = mid - 1
    width = ""
    if unicodedata.normalize("NFKC", wanted) in unicodedata.normalize("NFKC", text):
        width = (
            "; the quote matches if full-width and half-width characters are read alike: copy them "
            "as the source text writes them"
        )
    if low == 0:
        return f"; its first character {wanted[:1]!r} is nowhere in the source text{width}"
    at = text.index(wanted[:low]) + low
    ours, theirs = wanted[low], text[at] if at < len(text) else ""
    if theirs and ours != theirs and unicodedata.normalize("NFKC", ours) == unicodedata.normalize("NFKC", theirs):
        kind = "full-width" if unicodedata.east_asian_width(ours) in "FW" else "half-width"
        other = "half-width" if kind == "full-width" else "full-width"
        difference = f"the {kind} {ours!r} where the source has the {other} {theirs!r}"
    elif theirs:
        difference = f"{ours!r} where the source has {theirs!r}"
    else:
        difference = f"{ours!r} where the source text ends"
    before = wanted[max(0, low - 12) : low]
    snippet = ("…" if at > 12 else "") + text[max(0, at - 12) : at + 12] + ("…" if at + 12 < len(text) else "")
    return (
        f"; they first differ at character {low + 1} of the quote (whitespace ignored): after "
        f"'{'…' if low > 12 else ''}{before}' it has {difference} (source there: '{snippet}'){width}"
    )

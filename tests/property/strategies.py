"""Hypothesis strategies for random policies (rendered as TOML) and random claim sets."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from medcalc import Claim, Fen

LEVELS = ("level1", "level2", "level3")

HEADER = """
[policy]
id = "random"
region = "测试市"
scheme = "residents"

[levels]
level1 = "一级"
level2 = "二级"
level3 = "三级"

[sources.fixture]
title = "generated test policy"
official = true
"""

CITE = 'source = "fixture"\nquote = "generated"\n'


def _pct(units: int) -> str:
    return f'"{units // 100}.{units % 100:02d}%"'


def _amount(fen: int) -> str:
    return f'"{fen // 100}.{fen % 100:02d}"'


def _levels(values, render) -> str:
    return "{ " + ", ".join(f"{lv} = {render(v)}" for lv, v in zip(LEVELS, values)) + " }"


ratios = st.integers(0, 10000)
small_amounts = st.integers(0, 300_000)  # up to 3000 yuan


@st.composite
def policies(draw) -> str:
    """TOML text of a random but valid policy using every inpatient mechanism."""
    parts = [HEADER]
    if draw(st.booleans()):
        parts.append(f"[[inpatient.deductible]]\nsince = 2020-01-01\namount = {_levels(draw(st.lists(small_amounts, min_size=3, max_size=3)), _amount)}\n{CITE}")
    else:
        rows = draw(st.lists(st.lists(small_amounts, min_size=3, max_size=3), min_size=1, max_size=4))
        table = ", ".join(_levels(r, _amount) for r in rows)
        parts.append(f"[[inpatient.deductible]]\nsince = 2020-01-01\nby_admission = [{table}]\n{CITE}")
    if draw(st.booleans()):
        parts.append(f"[[inpatient.deductible_later]]\nsince = 2020-01-01\nfrom_admission = {draw(st.integers(2, 4))}\nfraction = {_pct(draw(ratios))}\n{CITE}")
    if draw(st.booleans()):
        parts.append(f"[[inpatient.deductible_cap]]\nsince = 2020-01-01\nyearly = {_amount(draw(st.integers(0, 500_000)))}\n{CITE}")
    if draw(st.booleans()):
        parts.append(f"[[inpatient.ratio]]\nsince = 2020-01-01\nratio = {_levels(draw(st.lists(ratios, min_size=3, max_size=3)), _pct)}\n{CITE}")
    else:
        uppers = sorted(set(draw(st.lists(st.integers(1, 5_000_000), min_size=1, max_size=4))))
        bands = []
        for upper in uppers:
            bands.append(f"{{ below = {_amount(upper)}, ratio = {_levels(draw(st.lists(ratios, min_size=3, max_size=3)), _pct)} }}")
        bands.append(f"{{ ratio = {_pct(draw(ratios))} }}")
        mode = draw(st.sampled_from(["marginal", "step"]))
        basis = draw(st.sampled_from(["in_scope", "above_deductible"]))
        parts.append(f"[[inpatient.ratio]]\nsince = 2020-01-01\nsegments = \"{mode}\"\nbasis = \"{basis}\"\nbands = [{', '.join(bands)}]\n{CITE}")
    cap = draw(st.sampled_from(["none", "fund", "cost"]))
    if cap != "none":
        parts.append(f"[[inpatient.cap]]\nsince = 2020-01-01\n{cap} = {_amount(draw(st.integers(0, 10_000_000)))}\n{CITE}")
    if draw(st.booleans()):
        effect = draw(st.sampled_from([
            f"deductible = {_amount(draw(small_amounts))}",
            f'deductible_multiple = "{draw(st.integers(0, 30)) / 10}"',
            f"deductible_share = {{ share = {_pct(draw(ratios))}, floor = {_amount(draw(small_amounts))}, ceiling = \"1万\" }}",
        ]))
        ratio = draw(st.sampled_from([f"ratio = {_pct(draw(ratios))}", f'ratio_points = "{draw(st.integers(-30, 30))}"', ""]))
        floor = f"floor = {_pct(draw(ratios))}" if draw(st.booleans()) else ""
        parts.append(f"[[inpatient.place.away]]\nsince = 2020-01-01\nwhen = {{ place = [\"in_province\", \"out_of_province\"] }}\n{effect}\n{ratio}\n{floor}\n{CITE}")
    if draw(st.booleans()):
        parts.append(f"[[inpatient.modifier.poor]]\nsince = 2020-01-01\nwhen = {{ category = [\"poverty\", \"dibao\"] }}\nratio_points = \"{draw(st.integers(-20, 40))}\"\ndeductible_fraction = {_pct(draw(ratios))}\n{CITE}")
    if draw(st.booleans()):
        parts.append(f"[[inpatient.modifier.minor]]\nsince = 2020-01-01\nwhen = {{ age_under = 18 }}\nratio_points = \"+5\"\n{CITE}")
    for name in SERVICES:
        if draw(st.booleans()):
            parts.append(draw(services(name)))
    if draw(st.booleans()):
        parts.append(draw(critical_layers()))
    if draw(st.booleans()):
        parts.append(draw(assistance_layers()))
    if draw(st.booleans()):
        parts.append(draw(backstop_layers()))
    return "\n".join(parts)


SERVICES = ("general", "two", "large")
DISEASES = ("高血压", "糖尿病", "冠心病")


@st.composite
def services(draw, name: str) -> str:
    """A random outpatient service: levels, places, deductible, ratio or fixed, caps of every kind."""
    levels = draw(st.lists(st.sampled_from(LEVELS), min_size=1, max_size=3, unique=True))
    lines = [f"levels = {_list(levels)}"]
    if draw(st.booleans()):
        lines.append(f'places = {_list(draw(st.lists(st.sampled_from(["local", "in_province", "out_of_province"]), min_size=1, max_size=3, unique=True)))}')
    if draw(st.booleans()):
        lines.append(f"fixed = {_levels(draw(st.lists(st.integers(0, 5000), min_size=3, max_size=3)), _amount)}")
    else:
        lines.append(f"ratio = {_levels(draw(st.lists(ratios, min_size=3, max_size=3)), _pct)}")
        if draw(st.booleans()):
            lines.append(f"deductible = {_amount(draw(st.integers(0, 20_000)))}")
        elif draw(st.booleans()):
            lines.append(f"deductible = {_levels(draw(st.lists(st.integers(0, 20_000), min_size=3, max_size=3)), _amount)}")
        if draw(st.booleans()):
            lines.append('halve = ["bed", "nursing"]')
    if draw(st.booleans()):
        lines.append(f"cap = {_amount(draw(st.integers(0, 100_000)))}")
    if draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(DISEASES), min_size=1, max_size=3, unique=True))
        caps = ", ".join(f'"{d}" = {_amount(draw(st.integers(0, 50_000)))}' for d in chosen)
        lines.append(f"disease_caps = {{ {caps} }}")
        if draw(st.booleans()):
            lines.append(f"ceiling = {_amount(draw(st.integers(0, 80_000)))}")
        if draw(st.booleans()):
            lines.append("highest_only = true")
    if draw(st.booleans()):
        lines.append(f"visit_cap = {_amount(draw(st.integers(0, 20_000)))}")
    if draw(st.booleans()):
        lines.append(f"excluded_if_certified = {_list(draw(st.lists(st.sampled_from(DISEASES), min_size=1, max_size=2, unique=True)))}")
    body = "\n".join(lines)
    return f"[[outpatient.service.{name}]]\nsince = 2020-01-01\n{body}\n{CITE}"


def _list(items) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def _flag() -> st.SearchStrategy[str]:
    return st.sampled_from(["true", "false"])


@st.composite
def critical_layers(draw) -> str:
    """A random second layer: base choice, threshold, bands in either convention, cap, place, tilt."""
    base = "\n".join(f"{k} = {draw(_flag())}" for k in ("deductible", "coinsurance", "above_cap", "pre_self_pay"))
    out = [f"[[critical.base]]\nsince = 2020-01-01\n{base}\n{CITE}",
           f"[[critical.threshold]]\nsince = 2020-01-01\namount = {_amount(draw(st.integers(0, 3_000_000)))}\n{CITE}"]
    uppers = sorted(set(draw(st.lists(st.integers(1, 30_000_000), min_size=0, max_size=3))))
    bands = []
    for upper in uppers:
        rate = draw(st.one_of(ratios.map(_pct), st.lists(ratios, min_size=3, max_size=3).map(lambda r: _levels(r, _pct))))
        bands.append(f"{{ below = {_amount(upper)}, ratio = {rate} }}")
    bands.append(f"{{ ratio = {_pct(draw(ratios))} }}")
    convention = draw(st.sampled_from(["cumulative", "above_threshold"]))
    out.append(f"[[critical.bands]]\nsince = 2020-01-01\nconvention = \"{convention}\"\nbands = [{', '.join(bands)}]\n{CITE}")
    if draw(st.booleans()):
        out.append(f"[[critical.cap]]\nsince = 2020-01-01\namount = {_amount(draw(st.integers(0, 10_000_000)))}\n{CITE}")
    if draw(st.booleans()):
        effect = draw(st.sampled_from([f"ratio = {_pct(draw(ratios))}", f'ratio_points = "{draw(st.integers(-30, 30))}"']))
        out.append(f"[[critical.place.away]]\nsince = 2020-01-01\nwhen = {{ referral = [\"not_referred\"] }}\n{effect}\n{CITE}")
    if draw(st.booleans()):
        out.append(f"[[critical.modifier.poor]]\nsince = 2020-01-01\nwhen = {{ category = [\"poverty\", \"dibao\"] }}\n"
                   f"threshold_fraction = {_pct(draw(ratios))}\nratio_points = \"{draw(st.integers(0, 20))}\"\n"
                   f"uncapped = {draw(_flag())}\n{CITE}")
    return "\n".join(out)


@st.composite
def assistance_layers(draw) -> str:
    """Assistance by category; optionally apart for outpatient visits, in the same or another cap group."""
    out = []
    split = draw(st.booleans())
    visits = [("", "")] if not split else [("", ', visit = ["inpatient"]'), ("_outpatient", ', visit = ["outpatient"]')]
    for name, cats in (("dibao", '["dibao"]'), ("poverty", '["poverty"]')):
        for suffix, visit in visits:
            if draw(st.booleans()):
                cap = f"cap = {_amount(draw(st.integers(0, 3_000_000)))}" if draw(st.booleans()) else ""
                group = draw(st.sampled_from(["", 'cap_group = "inpatient"', 'cap_group = "outpatient"']))
                out.append(f"[[assistance.category.{name}{suffix}]]\nsince = 2020-01-01\nwhen = {{ category = {cats}{visit} }}\n"
                           f"deductible = {_amount(draw(st.integers(0, 3_000_000)))}\nratio = {_pct(draw(ratios))}\n"
                           f"{cap}\n{group}\n{CITE}")
    return "\n".join(out)


@st.composite
def backstop_layers(draw) -> str:
    out = []
    if draw(st.booleans()):
        caps = _levels(draw(st.lists(st.integers(0, 2_000_000), min_size=3, max_size=3)), _amount)
        out.append(f"[[backstop.burden_cap.poor]]\nsince = 2020-01-01\nwhen = {{ category = [\"poverty\", \"dibao\"] }}\n"
                   f"cap = {caps}\n{CITE}")
    if draw(st.booleans()):
        out.append(f"[[backstop.pay_again.poor]]\nsince = 2020-01-01\nwhen = {{ category = [\"poverty\"] }}\n"
                   f"ratio = {_pct(draw(ratios))}\n{CITE}")
    return "\n".join(out)


@st.composite
def claims(draw, *, people: int = 3, max_claims: int = 12, levels=LEVELS, start: dt.date = dt.date(2020, 1, 1),
           days: int = 800, outpatient: bool = True) -> list[Claim]:
    """Random claims of a few people over about two years, with date ties; a quarter outpatient visits."""
    n = draw(st.integers(1, max_claims))
    out = []
    for i in range(n):
        total = draw(st.one_of(st.integers(0, 2_000_000), st.integers(0, 100_000_000)))
        parts = draw(st.lists(st.integers(0, max(0, total // 3)), min_size=3, max_size=3))
        place = draw(st.sampled_from(["local", "local", "in_province", "out_of_province"]))
        outpatient = {}
        if outpatient and draw(st.integers(0, 3)) == 0:  # a quarter of the claims are outpatient visits
            in_scope = total - sum(parts)
            fees = draw(st.lists(st.integers(0, max(0, in_scope // 2)), min_size=2, max_size=2))
            outpatient = dict(
                visit="outpatient", service=draw(st.sampled_from(SERVICES)),
                diseases=draw(st.lists(st.sampled_from(DISEASES), max_size=3, unique=True)),
                certified=draw(st.lists(st.sampled_from(DISEASES), max_size=1)),
                bed_fees=Fen(fees[0]), nursing_fees=Fen(fees[1]),
            )
        out.append(Claim(
            **outpatient,
            person_id=f"p{draw(st.integers(0, people - 1))}",
            claim_id=draw(st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))),
            settled_on=start + dt.timedelta(days=draw(st.integers(0, days))),
            level=draw(st.sampled_from(levels)),
            total=Fen(total),
            self_funded=Fen(parts[0]), over_limit=Fen(parts[1]), pre_self_pay=Fen(parts[2]),
            place=place,
            referral="none" if place == "local" else draw(st.sampled_from(["referred", "not_referred"])),
            category=draw(st.sampled_from(["ordinary", "ordinary", "poverty", "dibao"])),
            age=draw(st.one_of(st.none(), st.integers(0, 90))),
        ))
    return out

"""Charts: the effective reimbursement rate against total cost, and the patient burden.

Data and drawing are separate. ``rate_curve_data`` and ``burden_distribution_data`` settle
claims (on the table path, ``medcalc.settle_table``) and return exact figures: money in
integer fen, rates as ``Fraction``. ``plot_rate_curve`` and ``plot_burden`` draw them with
matplotlib, an optional extra (``pip install "medcalc[charts]"``); floats appear only as
plotting coordinates. Tests check the data, not pixels.

A *scenario* is a policy (a ``medcalc.Policy``, an id or a path to a TOML file): the first
is the baseline, the rest are reforms (a reform is a policy too). Every scenario settles the
same claims, each on its own, so their curves and distributions compare like with like.

Drawing uses matplotlib's object API (``matplotlib.figure.Figure`` on the Agg canvas), never
pyplot, so nothing is shown on a screen and no state leaks from one call to the next. Labels are
Chinese (实际报销比例, 医疗费总额, 个人负担; amounts in 万 and 亿) when matplotlib's font manager
finds a CJK font (``cjk_font``); otherwise English, with one ``NoCJKFontWarning`` a process, so no
glyph is ever drawn as a box. Legends sit outside the axes, and a reform curve equal to the
baseline's is drawn on top of it so that it stays visible.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import MedcalcError
from ..money import Fen, format_yuan, parse_amount
from ..policy.model import ADMISSION_RULES, Policy
from ..policy.registry import load_policy

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType  # the rc names matplotlib knows (only for the checker)

__all__ = [
    "RateCurve",
    "RateCurveData",
    "BurdenDistribution",
    "BurdenData",
    "rate_curve_data",
    "burden_distribution_data",
    "plot_rate_curve",
    "plot_burden",
    "require_matplotlib",
    "cjk_font",
    "NoCJKFontWarning",
    "FORMATS",
]

#: File formats a chart is saved in, chosen by the path's extension.
FORMATS = ("png", "svg")

#: The synthetic sweep's totals: 100 to 1,000,000 yuan (in fen).
SWEEP_LOW, SWEEP_HIGH = 100 * 100, 1_000_000 * 100

#: Rules a day needs in force for an inpatient claim to settle (as ``medcalc policy list`` counts coverage).

#: Font families with Chinese glyphs, in order of preference: an entry names a family or, followed by a
#: space, its variants ("Noto Sans CJK" is also "Noto Sans CJK JP"; each Noto CJK face has all the hanzi).
#: Sans before serif, Simplified-Chinese faces before the others; Linux, then macOS and Windows names.
_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Noto Sans CJK",
    "Source Han Sans",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "WenQuanYi",
    "Sarasa Gothic SC",
    "Noto Serif CJK SC",
    "Noto Serif SC",
    "Source Han Serif SC",
    "Source Han Serif CN",
    "Noto Serif CJK",
    "Source Han Serif",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "Microsoft YaHei",
    "SimHei",
    "AR PL UMing CN",
    "Droid Sans Fallback",
)

_QUANTILES = (("median", Fraction(1, 2)), ("p90", Fraction(9, 10)), ("p99", Fraction(99, 100)))


# ---------------------------------------------------------------- data


@attrs.frozen
class RateCurve:
    """One scenario's effective rate at one hospital level, point by point (all money in fen).

    Sweep points: one claim each, ``low == high == total``. Claims points: one log-scale bin of
    total cost each, ``[low, high)`` (the last bin includes ``high``), with the bin's sums.
    """

    scenario: str  # policy id
    level: str  # level code
    level_name: str  # the policy's Chinese name of the level
    low: tuple[int, ...]  # bin's lower edge of total cost
    high: tuple[int, ...]  # bin's upper edge
    total: tuple[int, ...]  # Σ total of the claims in the point
    funds: tuple[int, ...]  # Σ funds (basic + 大病 + 救助 + 兜底)
    claims: tuple[int, ...]  # number of claims in the point

    @property
    def rate(self) -> tuple[Fraction, ...]:
        """实际报销比例 of each point: Σfunds / Σtotal, exact."""
        return tuple(Fraction(f, t) for f, t in zip(self.funds, self.total))

    @property
    def mean_total(self) -> tuple[Fraction, ...]:
        """Each point's mean total cost in fen (the x coordinate), exact."""
        return tuple(Fraction(t, n) for t, n in zip(self.total, self.claims))


@attrs.frozen
class RateCurveData:
    """Rate curves of every scenario and level. ``mode``: "sweep" (synthetic claims) or "claims"."""

    mode: str
    scenarios: tuple[str, ...]  # policy ids, the baseline first
    curves: tuple[RateCurve, ...]
    on: dict[str, dt.date | None]  # the day each scenario's sweep was settled on (None for claims)
    rejected: dict[str, int]  # claims each scenario could not settle

    def curve(self, scenario: str, level: str) -> RateCurve:
        for c in self.curves:
            if c.scenario == scenario and c.level == level:
                return c
        raise KeyError(f"no curve for scenario {scenario!r} at level {level!r}")


@attrs.frozen
class BurdenDistribution:
    """One scenario's patient burden (个人负担): histogram counts over the shared bins, quantiles in fen."""

    scenario: str
    counts: tuple[int, ...]  # one per bin of BurdenData.lows
    units: int  # claims or person-years counted (= sum of counts)
    patient: int  # Σ patient burden, fen
    quantiles: dict[str, int]  # "median", "p90", "p99": nearest-rank, an observed burden in fen
    rejected: int  # claims the scenario could not settle (not counted)


@attrs.frozen
class BurdenData:
    """Burden distributions of every scenario over shared bins.

    Bin ``i`` holds burdens ``lows[i] <= b < lows[i + 1]``; the last bin is open (``b >= lows[-1]``).
    ``per``: "claim" (each settled claim) or "person" (each person-year, burdens summed).
    """

    per: str
    lows: tuple[int, ...]  # fen; lows[0] == 0
    scenarios: tuple[BurdenDistribution, ...]

    def scenario(self, name: str) -> BurdenDistribution:
        for s in self.scenarios:
            if s.scenario == name:
                return s
        raise KeyError(f"no scenario {name!r}")


def _scenarios(policies: Any) -> list[Policy]:
    """The policies of the scenarios, the baseline first; one policy alone is accepted too."""
    if isinstance(policies, (Policy, str, Path)):
        policies = [policies]
    loaded = [p if isinstance(p, Policy) else load_policy(p) for p in policies]
    if not loaded:
        raise MedcalcError("no policy given: name the baseline (and any reforms)")
    ids = [p.id for p in loaded]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise MedcalcError(f"scenario {twice[0]!r} is given twice: each scenario must be a different policy")
    return loaded


def _claims_table(claims: Any, amounts: str | None, encoding: str | None = None):
    """(Arrow table, amounts convention): a table as given, or a file read as ``medcalc score`` reads it
    (``encoding``: a text file's, detected when not given). ``amounts``: as for ``settle_table``."""
    from ..batch.tables import check_amounts, to_arrow

    check_amounts(amounts)
    if isinstance(claims, (str, Path)):
        import pyarrow as pa

        from ..batch.files import read_batches

        parts = [
            pa.Table.from_batches([b]) if isinstance(b, pa.RecordBatch) else b
            for b in read_batches(claims, encoding=encoding)
        ]
        if not parts:
            raise MedcalcError(f"{claims}: no claims in the file")
        table = pa.concat_tables(parts, promote_options="permissive") if len(parts) > 1 else parts[0]
        from ..batch.tables import split_row_numbers

        table = split_row_numbers(table)[0]  # (a chart counts claims by position; no row is reported)
        return table, amounts  # a file's integers as `medcalc score` reads them (text and decimals: yuan)
    return to_arrow(claims), amounts


def _level_column(table):
    """The input's level column as text (by medcalc's or the national interface's name)."""
    import pyarrow as pa

    from ..batch.tables import canonical_names

    for name, field in canonical_names(table.column_names).items():
        if field == "level":
            column = table.column(name)
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            return column.cast(pa.string())
    raise MedcalcError("the claims have no 'level' column: a rate curve is drawn per hospital level")


def _newest_day(policy: Policy) -> dt.date:
    """The first day of the newest rule set under which the policy settles inpatient claims."""
    spans = policy.coverage(ADMISSION_RULES)
    if not spans:
        raise MedcalcError(
            f"policy {policy.id!r} settles no inpatient claim on any day (no inpatient deductible and ratio in force)"
        )

    def covered(day: dt.date) -> bool:
        return any(a <= day and (b is None or day <= b) for a, b in spans)

    return max(d for d in policy.change_days() if covered(d))


def _sweep_totals(points: int) -> list[int]:
    """Log-spaced totals from 100 to 1,000,000 yuan, whole yuan, as integer fen."""
    if points < 2:
        raise MedcalcError("points must be at least 2")
    # floats only choose where the points lie; each total is then an exact whole-yuan amount
    yuan = [round(10 ** (2 + 4 * i / (points - 1))) for i in range(points)]
    return [y * 100 for y in dict.fromkeys(yuan)]


def _levels(scenarios: list[Policy], levels: Iterable[str] | None) -> list[str]:
    """The levels to draw: those asked for, or every level a scenario declares (the baseline's first)."""
    declared = list(dict.fromkeys(code for p in scenarios for code in p.levels))
    if levels is None:
        return declared
    levels = [levels] if isinstance(levels, str) else list(dict.fromkeys(levels))
    unknown = [lv for lv in levels if lv not in declared]
    if unknown:
        raise MedcalcError(f"level {unknown[0]!r} is not declared by any scenario; declared: {', '.join(declared)}")
    return levels


def rate_curve_data(
    claims: Any,
    policies: Any,
    *,
    amounts: str | None = None,
    levels: Iterable[str] | None = None,
    points: int = 60,
    on: Any = None,
    encoding: str | None = None,
) -> RateCurveData:
    """The effective reimbursement rate (funds / total) against total cost, per scenario and level.

    ``claims=None``: a synthetic sweep. At each level, one fresh person's single ordinary local
    inpatient claim (nothing self-funded) for ``points`` totals log-spaced from 100 to 1,000,000
    yuan, each claim its own person so no accumulator carries over. Settled on ``on`` (a date,
    for every scenario) or, by default, on each scenario's newest rule set (the latest day its
    rules change while it settles inpatient claims). A level a scenario does not declare has
    no curve for that scenario.

    ``claims`` a table (Arrow, pandas, polars, dict of columns; integer amounts under medcalc's names
    in the unit ``amounts`` states, as for ``settle_table``)
    or a claims file (CSV, JSON lines, Parquet, read as ``medcalc score`` reads it): every
    scenario settles all of them; claims are binned by total on a log scale (``points`` bins
    between the smallest and largest total) and each bin's rate is Σfunds / Σtotal per level.
    Empty bins are left out; claims a scenario rejects are counted in ``rejected``.

    ``policies``: the baseline, or a sequence of scenarios, the baseline first.
    """
    import pyarrow as pa

    from ..batch.tables import settle_table

    scenarios = _scenarios(policies)
    chosen = _levels(scenarios, levels)
    curves: list[RateCurve] = []
    rejected: dict[str, int] = {}
    days: dict[str, dt.date | None] = {}
    if claims is None:
        from ..claims import parse_day

        totals = _sweep_totals(points)
        try:
            fixed = parse_day(on) if on is not None else None
        except ValueError:
            raise MedcalcError(f"on: must be a date such as 2025-03-01 (got {on!r})") from None
        for policy in scenarios:
            day = fixed or _newest_day(policy)
            days[policy.id] = day
            mine = [lv for lv in chosen if lv in policy.levels]
            level = [lv for lv in mine for _ in totals]
            table = pa.table(
                {
                    "person_id": [f"{lv}#{i}" for lv in mine for i in range(len(totals))],  # one person a claim
                    "settled_on": pa.array([day] * len(level), pa.date32()),
                    "level": level,
                    "total": pa.array(totals * len(mine), pa.int64()),
                    "self_funded": pa.array([0] * len(level), pa.int64()),
                }
            )
            scored = settle_table(table, policy, amounts="fen")
            if scored.rejects.num_rows:  # a fresh ordinary claim on a covered day must settle
                first = scored.rejects.to_pylist()[0]
                raise MedcalcError(
                    f"{policy.id} on {day}: the sweep's claims do not settle: {first['field']}: {first['reason']}"
                )
            rejected[policy.id] = 0
            rows = scored.results.column("row").to_pylist()
            funds = scored.results.column("funds").to_pylist()
            for lv in mine:
                part = [i for i, r in enumerate(rows) if level[r] == lv]
                t = tuple(totals)
                curves.append(
                    RateCurve(policy.id, lv, policy.levels[lv], t, t, t, tuple(funds[i] for i in part), (1,) * len(t))
                )
        return RateCurveData("sweep", tuple(p.id for p in scenarios), tuple(curves), days, rejected)

    if on is not None:
        raise MedcalcError("on is for the synthetic sweep (claims=None): claims are settled on their own dates")
    if points < 1:
        raise MedcalcError("points must be at least 1")
    import numpy as np

    table, amounts = _claims_table(claims, amounts, encoding)
    level_of_row = _level_column(table)
    settled = {}
    for policy in scenarios:
        scored = _settle_all(table, policy, amounts)
        settled[policy.id] = scored.results
        rejected[policy.id] = scored.rejects.num_rows
        days[policy.id] = None
    # shared bins: log-spaced integer edges over every scenario's settled totals (total 0 has no rate)
    all_totals = np.concatenate([r.column("total").to_numpy() for r in settled.values()]) if settled else np.zeros(0)
    positive = all_totals[all_totals > 0]
    if not len(positive):
        raise MedcalcError("no claim with a positive total settled under any scenario: nothing to draw")
    lo, hi = int(positive.min()), int(positive.max())
    edges = sorted({lo, hi, *(round(lo * (hi / lo) ** (i / points)) for i in range(1, points))})
    edges_arr = np.array(edges, np.int64)
    for policy in scenarios:
        results = settled[policy.id]
        total = results.column("total").to_numpy()
        funds = results.column("funds").to_numpy()
        row_levels = np.array(level_of_row.take(results.column("row")).to_pylist(), dtype=object)
        keep = total > 0
        # bin i: edges[i] <= total < edges[i+1]; the largest total joins the last bin
        which = np.clip(np.searchsorted(edges_arr, total, side="right") - 1, 0, max(len(edges) - 2, 0))
        for lv in chosen:
            if lv not in policy.levels:
                continue
            mask = keep & (row_levels == lv)
            if not mask.any():
                continue
            n = np.bincount(which[mask], minlength=max(len(edges) - 1, 1))
            sums_t = _int_bincount(which[mask], total[mask], len(n))
            sums_f = _int_bincount(which[mask], funds[mask], len(n))
            used = [i for i in range(len(n)) if n[i]]
            hi_edge = edges[1:] if len(edges) > 1 else edges
            curves.append(
                RateCurve(
                    policy.id,
                    lv,
                    policy.levels[lv],
                    tuple(edges[i] for i in used),
                    tuple(hi_edge[i] for i in used),
                    tuple(sums_t[i] for i in used),
                    tuple(sums_f[i] for i in used),
                    tuple(int(n[i]) for i in used),
                )
            )
    return RateCurveData("claims", tuple(p.id for p in scenarios), tuple(curves), days, rejected)


def _settle_all(table, policy: Policy, amounts: str | None):
    """settle_table on one scenario; a scenario that settles none of the claims is an error, not an empty chart."""
    from ..batch.tables import settle_table

    scored = settle_table(table, policy, amounts=amounts)
    if table.num_rows and not scored.results.num_rows:
        first = scored.rejects.to_pylist()[0]
        raise MedcalcError(
            f"{policy.id} settles none of the {table.num_rows} claims; the first is refused on "
            f"{first['field']}: {first['reason']}"
        )
    return scored


def _int_bincount(which, values, size: int) -> list[int]:
    """Per-bin sums of int64 fen, exactly (np.bincount would sum in float64)."""
    import numpy as np

    out = np.zeros(size, np.int64)
    np.add.at(out, which, values.astype(np.int64))
    return [int(v) for v in out]


def _burden_lows(bins: Any, largest: int) -> list[int]:
    """Lower bounds of the burden bins in fen, the first 0."""
    if bins is None:  # 0, 100, 200, 500, 1000 … yuan (1-2-5), up to the largest burden
        lows, step = [0], 100 * 100
        while step <= max(largest, 1):
            lows += [v for v in (step, 2 * step, 5 * step) if v <= largest or v == step]
            step *= 10
        return sorted(set(lows))
    if isinstance(bins, int) and not isinstance(bins, bool):
        if bins < 1:
            raise MedcalcError("bins must be at least 1")
        width = max(1, -(-(largest + 1) // bins))
        width = -(-width // 100) * 100  # whole yuan
        return [i * width for i in range(bins)]
    try:
        lows = [int(parse_amount(b)) for b in bins]
    except (TypeError, ValueError) as exc:
        raise MedcalcError(f'bins: lower bounds in yuan such as 0, 500, "1万" ({exc})') from None
    if not lows or lows[0] != 0 or any(a >= b for a, b in zip(lows, lows[1:])):
        raise MedcalcError("bins: lower bounds must rise from 0 (every burden is counted; the last bin is open)")
    return lows


def burden_distribution_data(
    claims: Any,
    policies: Any,
    *,
    amounts: str | None = None,
    bins: Any = None,
    per: str = "claim",
    encoding: str | None = None,
) -> BurdenData:
    """The distribution of patient burden (个人负担) under each scenario, over shared bins.

    ``claims``: a table or a claims file, as for ``rate_curve_data``. ``per="claim"`` counts each
    settled claim's patient share; ``per="person"`` each person-year's (the person's settled
    claims of one calendar year, summed). ``bins``: None for 0, 100, 200, 500, 1000 … yuan up to
    the largest burden; an int for that many equal bins of whole yuan; or the bins' lower
    bounds in yuan (``[0, 500, "1万"]``), rising from 0; the last bin is always open above.
    Quantiles are nearest-rank: each is a burden some claim (or person-year) actually bears.
    """
    import numpy as np

    from ..batch.cells import day_column

    if per not in ("claim", "person"):
        raise MedcalcError(f"per must be 'claim' or 'person' (got {per!r})")
    scenarios = _scenarios(policies)
    table, amounts = _claims_table(claims, amounts, encoding)
    burdens: dict[str, np.ndarray] = {}
    rejected: dict[str, int] = {}
    for policy in scenarios:
        scored = _settle_all(table, policy, amounts)
        results = scored.results
        rejected[policy.id] = scored.rejects.num_rows
        patient = results.column("patient").to_numpy().astype(np.int64)
        if per == "person" and len(patient):
            from ..batch.arrays import factorize

            year = day_column(results.column("settled_on")).astype("datetime64[Y]").astype(np.int64)
            _, person = factorize(results.column("person_id"))
            keys, group = np.unique(np.stack([np.asarray(person, np.int64), year]), axis=1, return_inverse=True)
            summed = np.zeros(keys.shape[1], np.int64)
            np.add.at(summed, group.ravel(), patient)
            patient = summed
        burdens[policy.id] = np.sort(patient)
    largest = max((int(b[-1]) for b in burdens.values() if len(b)), default=0)
    lows = _burden_lows(bins, largest)
    lows_arr = np.array(lows, np.int64)
    out = []
    for policy in scenarios:
        b = burdens[policy.id]
        which = np.searchsorted(lows_arr, b, side="right") - 1
        counts = np.bincount(which, minlength=len(lows)) if len(b) else np.zeros(len(lows), np.int64)
        quantiles = {name: int(b[max(math.ceil(q * len(b)) - 1, 0)]) for name, q in _QUANTILES} if len(b) else {}
        out.append(
            BurdenDistribution(
                policy.id, tuple(int(c) for c in counts), int(len(b)), int(b.sum()), quantiles, rejected[policy.id]
            )
        )
    return BurdenData(per, tuple(lows), tuple(out))


# ---------------------------------------------------------------- drawing


class NoCJKFontWarning(UserWarning):
    """No installed font has Chinese glyphs: the chart is labelled in English instead."""


#: Whether the missing-font warning was given (once a process: a batch of charts warns once, not per chart).
_warned = False

#: The font lookup's answer, looked up once a process (the font manager scan is not free).
_found: dict[str, str | None] = {}

#: Characters a font must have for the Chinese labels: a font that lacks any would draw boxes.
_NEEDED = "实际报销比例医疗费总额个人负担基线改革方案相同元万亿对数刻度中位数分箱结算笔数人年拒付每"


def require_matplotlib() -> None:
    """Raise MedcalcError (not ImportError) when the charts extra is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise MedcalcError('charts need matplotlib: pip install "medcalc[charts]"') from None


def _rank(name: str) -> int | None:
    """The place of a font family in _CJK_FONTS (by exact name or as a family prefix), None if not a CJK font."""
    for i, wanted in enumerate(_CJK_FONTS):
        if name == wanted or name.startswith(wanted + " "):
            return i
    return None


def _has_glyphs(path: str) -> bool:
    try:
        from matplotlib.ft2font import FT2Font

        return set(map(ord, _NEEDED)) <= set(FT2Font(path).get_charmap())
    except (OSError, RuntimeError, ValueError):  # unreadable font file: not one to draw with
        return False


def _best_cjk(entries) -> str | None:
    """The preferred CJK family among font-manager entries that really has the labels' glyphs."""
    ranked = sorted((r, e.name, e.fname) for e in entries if (r := _rank(e.name)) is not None)
    return next((name for _, name, path in ranked if _has_glyphs(path)), None)


def _lookup_cjk_font() -> str | None:
    """Ask matplotlib's font manager for a CJK family (Noto Sans/Serif CJK, Source Han, WenQuanYi …).

    matplotlib caches its font list the first time it runs, so a font installed since (``apt-get
    install fonts-noto-cjk`` after matplotlib was first imported) is not in it: when the cached list
    has none, the system's font files it does not know yet are added to the manager and looked at.
    """
    from matplotlib import font_manager

    manager = font_manager.fontManager
    found = _best_cjk(manager.ttflist)
    if found is not None:
        return found
    known = {e.fname for e in manager.ttflist}
    for path in font_manager.findSystemFonts():
        if path not in known:
            try:
                manager.addfont(path)
            except (OSError, RuntimeError, ValueError):  # a broken font file is skipped, not fatal
                continue
    return _best_cjk(e for e in manager.ttflist if e.fname not in known)


def cjk_font() -> str | None:
    """The family name of an installed font with Chinese glyphs (via matplotlib's font manager), or None."""
    require_matplotlib()
    if "font" not in _found:
        _found["font"] = _lookup_cjk_font()
    return _found["font"]


def _format_of(path: str | Path) -> str:
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise MedcalcError(f"{path}: charts are saved as .png or .svg (got {Path(path).suffix or 'no extension'!r})")
    return fmt


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)  # a canvas without a screen: no pyplot, no global figure list
    return figure


def _rc(chinese: bool | None) -> tuple[dict[RcKeyType, Any], bool]:
    """rc settings for one drawing (applied in a context, then restored) and whether the labels are Chinese.

    ``chinese`` None: Chinese when a CJK font is found, else English with one warning a process;
    False: English, no warning (asked for); True: Chinese or an error.
    """
    global _warned
    font = cjk_font() if chinese is not False else None
    if chinese and font is None:
        raise MedcalcError("no font with Chinese glyphs is installed (e.g. Noto Sans CJK SC): drop chinese=True")
    if chinese is None and font is None and not _warned:
        _warned = True
        warnings.warn(
            "no font with Chinese glyphs found (install one, e.g. Debian's fonts-noto-cjk): "
            "charts are labelled in English",
            NoCJKFontWarning,
            stacklevel=3,
        )
    rc: dict[RcKeyType, Any] = {"svg.hashsalt": "medcalc", "font.size": 10}  # stable SVG ids
    if font is not None:
        # the CJK font first (its Latin glyphs are fine too); DejaVu Sans for anything it lacks
        rc["font.family"] = [font, "DejaVu Sans"]
        rc["axes.unicode_minus"] = False  # CJK fonts may lack U+2212 MINUS; "-" they all have
    return rc, font is not None


def _save(figure, path: str | Path | None) -> None:
    if path is None:
        return
    fmt = _format_of(path)
    metadata = {"Date": None} if fmt == "svg" else {}  # no timestamp: the same chart writes the same file
    figure.savefig(path, format=fmt, metadata=metadata)


def _significant(x: float, digits: int) -> str:
    """``x`` to ``digits`` significant digits in plain notation (never 1e+03), trailing zeros dropped."""
    if x == 0:
        return "0"
    decimals = max(digits - 1 - math.floor(math.log10(abs(x))), 0)
    text = f"{x:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _yuan_label(fen: int | Fraction) -> str:
    """Short ASCII yuan: 950, 1.2k, 35k, 1.5M."""
    yuan = float(fen) / 100
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(yuan) >= size:
            return f"{_significant(yuan / size, 3)}{suffix}"
    return _significant(yuan, 3)


def _wan_label(fen: int | Fraction, digits: int = 3) -> str:
    """Short yuan the Chinese way: 950, 9500, 1.5万, 35万, 1.2亿 (large amounts in 万 and 亿, not thousands)."""
    yuan = float(fen) / 100
    for size, suffix in ((1e8, "亿"), (1e4, "万")):
        if abs(yuan) >= size:
            return f"{_significant(yuan / size, digits)}{suffix}"
    return _significant(yuan, max(digits, 4))  # under 1万 the whole yuan: 9500, not 9.5千


def _amount(fen: int, zh: bool) -> str:
    """A legend's amount: to the fen below 1万 yuan; above, 1.532万元 (Chinese) or the exact yuan (English)."""
    if zh:
        return f"{_wan_label(fen, 4)}元" if abs(fen) >= 1_000_000 else f"{format_yuan(Fen(fen))}元"
    return f"{format_yuan(Fen(fen))} yuan"


def _equal_curves(data: RateCurveData) -> set[tuple[str, str]]:
    """(scenario, level) of each reform curve that is point for point the baseline's at that level."""
    baseline = {c.level: c for c in data.curves if c.scenario == data.scenarios[0]}
    return {
        (c.scenario, c.level)
        for c in data.curves
        if c.scenario != data.scenarios[0]
        and c.level in baseline
        and (c.total, c.funds, c.claims) == (baseline[c.level].total, baseline[c.level].funds, baseline[c.level].claims)
    }


def _legend_below(figure, axes, columns: int) -> None:
    """The legend under the axes, outside them: it never covers a bar or a curve, however the data lies."""
    handles, labels = axes.get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, loc="outside lower center", ncols=columns, fontsize=8, frameon=False)


def plot_rate_curve(data: RateCurveData, path: str | Path | None = None, *, chinese: bool | None = None):
    """Draw the rate curves (one colour per level, one line style per scenario); save if ``path``.

    Saved as PNG or SVG by the path's extension. Returns the matplotlib Figure; each curve is the
    Line2D whose gid is ``"scenario/level"``. ``chinese``: None for Chinese labels (amounts in 万)
    when a CJK font is installed, English with one warning otherwise; False for English.
    A reform curve equal to the baseline's is drawn dashed on top of it and its legend says so.
    """
    require_matplotlib()
    if path is not None:
        _format_of(path)  # refuse a bad extension before drawing
    import matplotlib
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    rc, zh = _rc(chinese)
    styles = ("-", "--", ":", "-.")
    equal = _equal_curves(data)
    with matplotlib.rc_context(rc):
        figure = _figure(8, 5.6)
        axes = figure.add_subplot()
        levels = list(dict.fromkeys(c.level for c in data.curves))
        colours = {lv: f"C{i % 10}" for i, lv in enumerate(levels)}
        hidden = {c.level for c in data.curves if (c.scenario, c.level) in equal}  # baselines a reform would hide
        for c in data.curves:
            s = data.scenarios.index(c.scenario)
            x = [float(m) / 100 for m in c.mean_total]  # floats: plotting coordinates only
            y = [float(r) for r in c.rate]
            style: dict[str, Any] = {"linestyle": styles[s % len(styles)], "linewidth": 1.8, "zorder": 2 + s}
            if s == 0 and c.level in hidden:
                style["linewidth"] = 4.5  # wide, so the equal reform drawn on it leaves its edges showing
            if (c.scenario, c.level) in equal:
                # dashes of the same colour on a line of that colour vanish: white gaps make them show
                style.update(linestyle=(0, (4, 3)), gapcolor="white", linewidth=1.6, zorder=10 + s)
            if zh:
                role = "基线" if s == 0 else ("改革方案，与基线相同" if (c.scenario, c.level) in equal else "改革方案")
                label = f"{c.level_name} · {c.scenario}（{role}）"
            else:
                role = (
                    "baseline"
                    if s == 0
                    else ("reform, same as baseline" if (c.scenario, c.level) in equal else "reform")
                )
                label = f"{c.level} · {c.scenario} ({role})"
            (line,) = axes.plot(
                x,
                y,
                color=colours[c.level],
                marker="o" if data.mode == "claims" else None,
                markersize=3,
                label=label,
                **style,
            )
            line.set_gid(f"{c.scenario}/{c.level}")
        axes.set_xscale("log")
        spans = [v for c in data.curves for v in c.mean_total]
        if spans and max(spans) < 1000 * min(spans):  # under three decades: label 1-2-5, not just powers of ten
            from matplotlib.ticker import LogLocator

            axes.xaxis.set_major_locator(LogLocator(10, subs=(1, 2, 5)))
        money = _wan_label if zh else _yuan_label
        axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: money(round(v * 100))))
        axes.yaxis.set_major_formatter(PercentFormatter(1.0))
        axes.set_ylim(0, 1.02)  # a rate of 100 % stays inside the frame
        axes.grid(True, which="major", alpha=0.3)
        days = [(k, v) for k, v in data.on.items() if v is not None]
        if zh:
            what = "每点为一位新参保人的单次住院" if data.mode == "sweep" else "理赔按医疗费总额分箱（对数刻度）"
            when = "；".join(f"{k} 按 {v} 的政策" for k, v in days)
            figure.suptitle("实际报销比例（基金支付 ÷ 医疗费总额）", fontsize=12)
            axes.set_xlabel("医疗费总额（元，对数刻度）")
            axes.set_ylabel("实际报销比例")
        else:
            what = "one fresh person's single claim" if data.mode == "sweep" else "claims binned by total cost"
            when = ", ".join(f"{k} on {v}" for k, v in days)
            figure.suptitle("Effective reimbursement rate (funds / total)", fontsize=12)
            axes.set_xlabel("Total cost, yuan (log scale)")
            axes.set_ylabel("Funds / total")
        axes.set_title(f"{what}{('；' if zh else '; ') + when if when else ''}", fontsize=8, color="0.35")
        _legend_below(figure, axes, 2 if len(data.curves) > 3 else 1)
        _save(figure, path)
    return figure


def plot_burden(data: BurdenData, path: str | Path | None = None, *, chinese: bool | None = None):
    """Draw the burden histograms (grouped bars, one colour per scenario); save if ``path``.

    Saved as PNG or SVG by the path's extension. Returns the matplotlib Figure; each scenario's
    bars are the BarContainer labelled in the legend (its patches' gid ``"scenario"``).
    The legend, under the bars, gives each scenario's count, median and p90. ``chinese`` as for
    ``plot_rate_curve``.
    """
    require_matplotlib()
    if path is not None:
        _format_of(path)
    import matplotlib

    rc, zh = _rc(chinese)
    base = data.scenarios[0] if data.scenarios else None
    with matplotlib.rc_context(rc):
        figure = _figure(max(6.5, 0.55 * len(data.lows) + 2), 5.6)
        axes = figure.add_subplot()
        k = max(len(data.scenarios), 1)
        width = 0.8 / k
        for s, dist in enumerate(data.scenarios):
            x = [i - 0.4 + width * (s + 0.5) for i in range(len(data.lows))]
            q = dist.quantiles
            same = s > 0 and base is not None and (dist.counts, dist.quantiles) == (base.counts, base.quantiles)
            if zh:
                summary = f"中位数 {_amount(q['median'], zh)}，P90 {_amount(q['p90'], zh)}" if q else "无结算"
                role = "基线" if s == 0 else ("改革方案，与基线相同" if same else "改革方案")
                refused = f"；拒付 {dist.rejected} 笔" if dist.rejected else ""
                label = f"{dist.scenario}（{role}）：n={dist.units}；{summary}{refused}"
            else:
                summary = f"median {_amount(q['median'], zh)}, p90 {_amount(q['p90'], zh)}" if q else "nothing settled"
                role = "baseline" if s == 0 else ("reform, same as baseline" if same else "reform")
                refused = f"; {dist.rejected} claims refused" if dist.rejected else ""
                label = f"{dist.scenario} ({role}): n={dist.units}; {summary}{refused}"
            bars = axes.bar(x, dist.counts, width=width, color=f"C{s % 10}", label=label)
            for patch in bars:
                patch.set_gid(dist.scenario)
        money = _wan_label if zh else _yuan_label
        dash = "–" if zh else "-"
        labels = [f"{money(a)}{dash}{money(b)}" for a, b in zip(data.lows, data.lows[1:])]
        labels.append(f"≥{money(data.lows[-1])}" if zh else f">={money(data.lows[-1])}")
        axes.set_xticks(range(len(data.lows)), labels, rotation=45, ha="right", fontsize=8)
        ids = ", ".join(s.scenario for s in data.scenarios)
        if zh:
            figure.suptitle(f"个人负担分布（{'每笔结算' if data.per == 'claim' else '每人每年合计'}）", fontsize=12)
            axes.set_title(f"{ids}；分箱单位：元，末箱不设上限", fontsize=8, color="0.35")
            axes.set_xlabel("个人负担（元）")
            axes.set_ylabel("结算笔数" if data.per == "claim" else "人年数")
        else:
            figure.suptitle(f"Patient burden per {'claim' if data.per == 'claim' else 'person-year'}", fontsize=12)
            axes.set_title(f"{ids}; bins in yuan, the last open above", fontsize=8, color="0.35")
            axes.set_xlabel("Patient burden, yuan")
            axes.set_ylabel(f"Number of {'claims' if data.per == 'claim' else 'person-years'}")
        axes.grid(True, axis="y", alpha=0.3)
        _legend_below(figure, axes, 1)
        _save(figure, path)
    return figure

"""Charts: the figures behind the rate curve and the burden histogram, and the files drawn from them.

The data is checked exactly (fen, Fractions, counts); the drawings for being real PNG / SVG files, for
plotting those figures (read back from the matplotlib artists), for their labels (Chinese with a CJK
font, English with one warning without) and for keeping every curve and bar in sight.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import subprocess
import sys
import warnings
from fractions import Fraction

import pytest

pytest.importorskip("matplotlib")

import pyarrow as pa  # noqa: E402

import medcalc  # noqa: E402
from medcalc.analysis import charts  # noqa: E402
from medcalc.cli import main  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"

# A reform written as a policy: huaibei-2025 with the level-1 ratio raised from 90 % to 95 %.
REFORM = """
[policy]
id = "huaibei-test-reform"
region = "淮北市"
scheme = "residents"
extends = "huaibei-2025"
notes = "Test reform: level-1 inpatient ratio 95 %."

[sources.test-reform]
title = "test reform (not a real policy)"
official = false

[[inpatient.ratio]]
since = 2025-01-01
ratio = { level1 = "95%", level3_province = "70%" }
source = "test-reform"
quote = "一级95%"
verified = false
"""


@pytest.fixture(scope="module")
def reform(tmp_path_factory):
    path = tmp_path_factory.mktemp("reform") / "huaibei-test-reform.toml"
    path.write_text(REFORM, encoding="utf-8")
    return medcalc.load_policy(path)


@pytest.fixture(scope="module")
def sweep(reform):
    return charts.rate_curve_data(
        None, ["huaibei-2025", reform], points=9, amounts="fen"
    )  # 100, 316, 1000, … 1,000,000 yuan


def claims_table(n=300, seed=7):
    rng = random.Random(seed)
    return pa.table(
        {
            "claim_id": [f"c{i}" for i in range(n)],
            "person_id": [f"p{rng.randrange(n // 3)}" for _ in range(n)],
            "settled_on": pa.array(
                [dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(365)) for _ in range(n)], pa.date32()
            ),
            "level": [rng.choice(["level1", "level3_province"]) for _ in range(n)],
            "total": pa.array([rng.randrange(200, 400_000) * 100 for _ in range(n)], pa.int64()),
        }
    )


def test_import_medcalc_does_not_import_matplotlib():
    code = "import sys, medcalc, medcalc.cli; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_sweep_figures_at_chosen_points_match_settle(sweep):
    curve = sweep.curve("huaibei-2025", "level1")
    assert sweep.mode == "sweep" and sweep.on["huaibei-2025"] == dt.date(2025, 1, 1)
    assert curve.total == (10000, 31600, 100000, 316200, 1000000, 3162300, 10000000, 31622800, 100000000)
    # 10 000 yuan at level 1: deductible 200, basic 90 % of 9 800 = 8 820; self-pay 1 180 < 1.5万: no 大病
    at = curve.total.index(1_000_000)
    assert curve.funds[at] == 882000 and curve.rate[at] == Fraction(441, 500)
    assert curve.rate[0] == 0  # 100 yuan: under the deductible
    for level in ("level1", "level3_province"):
        c = sweep.curve("huaibei-2025", level)
        for total, funds in zip(c.total, c.funds):
            claim = medcalc.Claim(person_id="p", settled_on="2025-01-01", level=level, total=medcalc.Fen(total))
            assert medcalc.settle("huaibei-2025", claim).funds == funds


def test_rates_lie_in_0_1_and_the_reform_is_never_below_the_baseline(sweep):
    assert sweep.scenarios == ("huaibei-2025", "huaibei-test-reform")
    for c in sweep.curves:
        assert all(0 <= r <= 1 for r in c.rate)
    base, new = sweep.curve("huaibei-2025", "level1"), sweep.curve("huaibei-test-reform", "level1")
    assert all(b <= n for b, n in zip(base.rate, new.rate))
    at = base.total.index(1_000_000)
    assert new.funds[at] == 931000  # 95 % of 9 800
    # the reform leaves level 3 alone
    assert (
        sweep.curve("huaibei-2025", "level3_province").funds
        == sweep.curve("huaibei-test-reform", "level3_province").funds
    )


def test_sweep_levels_dates_and_policies_that_differ():
    data = charts.rate_curve_data(
        None, ["anhui-2019", "anhui-2025"], points=5, levels=["level1", "level2"], amounts="fen"
    )
    assert [(c.scenario, c.level) for c in data.curves] == [
        ("anhui-2019", "level1"),
        ("anhui-2019", "level2"),
        ("anhui-2025", "level1"),
    ]  # 2025 declares no level2
    assert data.on == {"anhui-2019": dt.date(2022, 1, 1), "anhui-2025": dt.date(2025, 1, 1)}
    with pytest.raises(medcalc.MedcalcError, match="level 'level9' is not declared"):
        charts.rate_curve_data(None, "anhui-2025", levels=["level9"], amounts="fen")
    with pytest.raises(medcalc.MedcalcError, match="inpatient.deductible"):
        charts.rate_curve_data(None, "anhui-2025", on="2020-01-01", points=3, amounts="fen")


def test_claims_mode_bins_sum_to_the_settled_claims():
    table = claims_table()
    data = charts.rate_curve_data(table, ["huaibei-2025"], points=10, amounts="fen")
    assert data.mode == "claims" and data.rejected == {"huaibei-2025": 0}
    scored = medcalc.settle_table(table, "huaibei-2025", amounts="fen")
    by_level = {}
    for row in scored.results.to_pylist():
        level = table.column("level")[row["row"]].as_py()
        by_level.setdefault(level, [0, 0, 0])
        by_level[level][0] += 1
        by_level[level][1] += row["total"]
        by_level[level][2] += row["funds"]
    for c in data.curves:
        assert [sum(c.claims), sum(c.total), sum(c.funds)] == by_level[c.level]
        assert all(lo <= Fraction(t, n) <= hi for lo, hi, t, n in zip(c.low, c.high, c.total, c.claims))
        assert all(0 <= r <= 1 for r in c.rate)
    with pytest.raises(medcalc.MedcalcError, match="anhui-2019 settles none of the 300 claims"):
        charts.rate_curve_data(table, ["anhui-2019", "huaibei-2025"], amounts="fen")


def test_burden_counts_sum_to_claims_and_person_years(reform):
    table = claims_table()
    per_claim = charts.burden_distribution_data(table, ["huaibei-2025", reform], amounts="fen")
    per_person = charts.burden_distribution_data(table, ["huaibei-2025", reform], per="person", amounts="fen")
    persons = len(set(table.column("person_id").to_pylist()))
    assert per_claim.lows[:5] == (0, 10000, 20000, 50000, 100000)
    for dist in per_claim.scenarios:
        assert sum(dist.counts) == dist.units == 300
    for dist in per_person.scenarios:
        assert sum(dist.counts) == dist.units == persons  # all claims are of 2025: one year a person
    patient = sorted(medcalc.settle_table(table, "huaibei-2025", amounts="fen").results.column("patient").to_pylist())
    base = per_claim.scenario("huaibei-2025")
    assert base.patient == sum(patient) == per_person.scenario("huaibei-2025").patient
    assert base.quantiles == {"median": patient[149], "p90": patient[269], "p99": patient[296]}  # nearest rank
    assert per_claim.scenario("huaibei-test-reform").patient < base.patient
    equal = charts.burden_distribution_data(table, "huaibei-2025", bins=4, amounts="fen")
    assert len(equal.lows) == 4 and sum(equal.scenarios[0].counts) == 300
    given = charts.burden_distribution_data(table, "huaibei-2025", bins=[0, 1000, "1万"], amounts="fen")
    assert given.lows == (0, 100000, 1000000) and sum(given.scenarios[0].counts) == 300
    with pytest.raises(medcalc.MedcalcError, match="rise from 0"):
        charts.burden_distribution_data(table, "huaibei-2025", bins=[100, 50], amounts="fen")


def test_plots_write_png_and_svg(sweep, tmp_path):
    figure = charts.plot_rate_curve(sweep, tmp_path / "rates.png")
    assert figure.axes and (tmp_path / "rates.png").read_bytes().startswith(PNG)
    charts.plot_rate_curve(sweep, tmp_path / "rates.svg", chinese=False)
    svg = (tmp_path / "rates.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    burden = charts.burden_distribution_data(claims_table(60), "huaibei-2025", per="person", amounts="fen")
    charts.plot_burden(burden, tmp_path / "burden.SVG")
    assert (tmp_path / "burden.SVG").stat().st_size > 1000
    assert charts.plot_burden(burden, None).axes  # drawn, not saved
    with pytest.raises(medcalc.MedcalcError, match=r"\.png or \.svg"):
        charts.plot_burden(burden, tmp_path / "burden.pdf")


def test_cli_plot_rates_and_burden(tmp_path, capsys, reform):
    claims = tmp_path / "claims.csv"
    claims.write_text(
        "person_id,settled_on,level,total\np1,2025-03-01,level1,10000\np1,2025-05-01,level1,2万\n"
        "p2,2025-04-01,level3_province,50000\np3,2025-04-01,level9,100\n",
        encoding="utf-8",
    )
    out = tmp_path / "rates.png"
    assert (
        main(["plot", "rates", "--policy", "huaibei-2025", "--reform", reform.file, "--points", "12", "-o", str(out)])
        == 0
    )
    assert out.read_bytes().startswith(PNG) and "huaibei-test-reform; 4 curves" in capsys.readouterr().out
    out = tmp_path / "burden.svg"
    assert (
        main(["plot", "burden", "--policy", "huaibei-2025", "--claims", str(claims), "--per", "person", "-o", str(out)])
        == 0
    )
    assert "<svg" in out.read_text(encoding="utf-8")
    assert "huaibei-2025 refused 1 claims" in capsys.readouterr().out
    assert (
        main(["plot", "rates", "--policy", "huaibei-2025", "--claims", str(claims), "-o", str(tmp_path / "c.png")]) == 0
    )
    assert main(["plot", "rates", "--policy", "huaibei-2025", "-o", str(tmp_path / "x.jpg")]) == 2
    assert ".png or .svg" in capsys.readouterr().err


def test_cli_plot_on_policies_of_ones_own(tmp_path, capsys):
    from tests.cli.test_cli import own_policies

    folder = own_policies(tmp_path / "mine")
    claims = tmp_path / "claims.csv"
    claims.write_text("person_id,settled_on,level,total\np1,2021-07-01,level1,10200\n", encoding="utf-8")
    out = tmp_path / "burden.svg"
    assert (
        main(
            [
                "plot",
                "burden",
                "--policies",
                str(folder),
                "--policy",
                "test-city",
                "--reform",
                "test-province",
                "--claims",
                str(claims),
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith(f"wrote {out} (test-city, test-province; ")
    assert "<svg" in out.read_text(encoding="utf-8")


def test_cli_without_matplotlib_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    assert main(["plot", "rates", "--policy", "huaibei-2025", "-o", str(tmp_path / "r.png")]) == 2
    assert 'pip install "medcalc[charts]"' in capsys.readouterr().err


def test_a_gb18030_claims_file_is_read_with_or_without_encoding(tmp_path):
    text = "person_id,settled_on,level,total\n张三,2025-03-01,level1,1000\n李四,2025-03-02,level1,2000\n"
    path = tmp_path / "gb.csv"
    path.write_bytes(text.encode("gb18030"))
    expected = (
        medcalc.settle_table(
            pa.table(
                {
                    "person_id": ["张三", "李四"],
                    "settled_on": ["2025-03-01", "2025-03-02"],
                    "level": ["level1", "level1"],
                    "total": ["1000", "2000"],
                }
            ),
            "huaibei-2025",
            amounts="fen",
        )
        .results.column("patient")
        .to_pylist()
    )
    for encoding in (None, "gb18030"):
        data = charts.burden_distribution_data(str(path), "huaibei-2025", encoding=encoding, amounts="fen")
        assert data.scenarios[0].patient == sum(expected) and data.scenarios[0].units == 2
    with pytest.raises(medcalc.MedcalcError, match="not a known text encoding"):
        charts.burden_distribution_data(str(path), "huaibei-2025", encoding="nope", amounts="fen")


# ---------------------------------------------------------------- labels, fonts and what is drawn

CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")  # hanzi and CJK punctuation: what would be a box without a font


def needs_cjk_font():
    if charts.cjk_font() is None:
        pytest.skip("no CJK font found by matplotlib's font manager (install e.g. Debian's fonts-noto-cjk)")


def texts(figure):
    """Every piece of text the figure draws (tick labels are settled by drawing it)."""
    figure.canvas.draw()
    return [
        t.get_text()
        for t in figure.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontproperties"))
        if t.get_text()
    ]


def drawn_without_missing_glyphs(figure):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font(s)" for a box
        figure.savefig(io.BytesIO(), format="png")


@pytest.fixture
def no_cjk_font(monkeypatch):
    """The font lookup finds nothing, and the once-a-process warning has not been given yet."""
    monkeypatch.setattr(charts, "_lookup_cjk_font", lambda: None)
    monkeypatch.setattr(charts, "_found", {})
    monkeypatch.setattr(charts, "_warned", False)


def test_a_chinese_rate_chart_plots_the_settled_amounts(sweep, reform):
    needs_cjk_font()
    figure = charts.plot_rate_curve(sweep, None, chinese=True)
    lines = {line.get_gid(): line for line in figure.axes[0].get_lines()}
    assert set(lines) == {f"{c.scenario}/{c.level}" for c in sweep.curves}
    for c in sweep.curves:
        x, y = lines[f"{c.scenario}/{c.level}"].get_data()
        assert [round(v * 100) for v in x] == list(c.total)  # each point at its total, to the fen
        assert [round(r * t) for r, t in zip(y, c.total)] == list(c.funds)  # rate × total: the funds, to the fen
        for total, funds in zip(c.total, c.funds):  # and those are what medcalc.settle pays
            policy = "huaibei-2025" if c.scenario == "huaibei-2025" else reform
            claim = medcalc.Claim(person_id="p", settled_on="2025-01-01", level=c.level, total=medcalc.Fen(total))
            assert medcalc.settle(policy, claim).funds == funds
    drawn_without_missing_glyphs(figure)


def test_a_chinese_burden_chart_plots_the_counts_and_quantiles(reform):
    needs_cjk_font()
    table = claims_table()
    data = charts.burden_distribution_data(table, ["huaibei-2025", reform], amounts="fen")
    figure = charts.plot_burden(data, None, chinese=True)
    axes = figure.axes[0]
    for s, dist in enumerate(data.scenarios):
        heights = [p.get_height() for p in axes.patches if p.get_gid() == dist.scenario]
        assert heights == list(dist.counts) and sum(heights) == 300
        label = figure.legends[0].get_texts()[s].get_text()
        median = medcalc.Fen(dist.quantiles["median"])  # the legend's median, read back, to the yuan
        shown = re.search(r"中位数 ([\d.,]+)(万?)元", label)
        value = float(shown.group(1).replace(",", "")) * (10_000 if shown.group(2) else 1)
        assert abs(value - median / 100) < (5 if shown.group(2) else 0.005)
    patient = medcalc.settle_table(table, "huaibei-2025", amounts="fen").results.column("patient").to_pylist()
    assert data.scenario("huaibei-2025").patient == sum(patient)
    drawn_without_missing_glyphs(figure)


def test_chinese_labels_and_amounts_in_wan_when_a_cjk_font_exists(sweep, reform):
    needs_cjk_font()
    font = charts.cjk_font()
    rates = texts(charts.plot_rate_curve(sweep, None))  # chinese=None: Chinese because the font is there
    assert "实际报销比例（基金支付 ÷ 医疗费总额）" in rates and "医疗费总额（元，对数刻度）" in rates
    assert {"1万", "10万", "100万"} <= set(rates)  # large amounts in 万, not 10k / 1M
    assert any("一级及以下医疗机构 · huaibei-2025（基线）" == t for t in rates)
    burden = texts(
        charts.plot_burden(
            charts.burden_distribution_data(claims_table(), ["huaibei-2025", reform], amounts="fen"), None
        )
    )
    assert "个人负担（元）" in burden and "结算笔数" in burden and "1万–2万" in burden and "≥20万" in burden
    assert any("中位数" in t and "万元" in t for t in burden)
    figure = charts.plot_rate_curve(sweep, None)
    from matplotlib import font_manager

    title = next(t for t in figure.texts if t.get_text() == figure.get_suptitle())
    assert font_manager.FontProperties(fname=font_manager.findfont(title.get_fontproperties())).get_name() == font
    assert charts._rank(font) is not None  # one of the CJK families looked for


def test_without_a_cjk_font_english_labels_and_one_warning(sweep, no_cjk_font, tmp_path, capsys):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rates = charts.plot_rate_curve(sweep, tmp_path / "r.png")
        burden = charts.plot_burden(
            charts.burden_distribution_data(claims_table(60), "huaibei-2025", amounts="fen"), None
        )
    told = [w for w in caught if issubclass(w.category, charts.NoCJKFontWarning)]
    assert len(told) == 1 and "fonts-noto-cjk" in str(told[0].message)  # once, not once a chart
    for figure in (rates, burden):
        shown = texts(figure)
        assert shown and not any(CJK.search(t) for t in shown)  # no hanzi: nothing drawn as a box
    assert "Effective reimbursement rate (funds / total)" in texts(rates) and "10k" in texts(rates)
    with pytest.raises(medcalc.MedcalcError, match="no font with Chinese glyphs"):
        charts.plot_rate_curve(sweep, None, chinese=True)


def test_cli_warns_once_without_a_cjk_font_and_not_with_ascii(tmp_path, capsys, no_cjk_font):
    assert main(["plot", "rates", "--policy", "huaibei-2025", "--points", "5", "-o", str(tmp_path / "r.svg")]) == 0
    err = capsys.readouterr().err
    assert err.count("medcalc: warning: no font with Chinese glyphs found") == 1 and err.count("\n") == 1
    assert not CJK.search((tmp_path / "r.svg").read_text(encoding="utf-8").split("<svg", 1)[1].replace("\u2212", ""))
    charts._warned = False
    assert (
        main(["plot", "rates", "--policy", "huaibei-2025", "--points", "5", "--ascii", "-o", str(tmp_path / "a.svg")])
        == 0
    )
    assert capsys.readouterr().err == ""  # English was asked for: nothing to warn about


def test_a_reform_equal_to_the_baseline_stays_visible(sweep, reform):
    for chinese in (False, None):
        if chinese is None and charts.cjk_font() is None:
            continue
        figure = charts.plot_rate_curve(sweep, None, chinese=chinese)
        lines = {line.get_gid(): line for line in figure.axes[0].get_lines()}
        base, same = lines["huaibei-2025/level3_province"], lines["huaibei-test-reform/level3_province"]
        # the reform leaves level 3 alone: its curve lies on the baseline's, so it is drawn on top, dashed with
        # white gaps, narrower than the widened baseline whose edges show beside it
        assert same.get_zorder() > base.get_zorder() and same.get_linestyle() == "--" and same.get_gapcolor() == "white"
        assert base.get_linewidth() > same.get_linewidth() + 2
        assert list(same.get_ydata()) == list(base.get_ydata())
        label = same.get_label()
        assert ("与基线相同" in label) if chinese is None else label.endswith("(reform, same as baseline)")
        differs = lines["huaibei-test-reform/level1"]
        assert "same" not in differs.get_label() and "相同" not in differs.get_label()
        assert lines["huaibei-2025/level1"].get_linewidth() == differs.get_linewidth()  # nothing hidden: as usual
    level3 = claims_table().filter(pa.compute.equal(claims_table().column("level"), "level3_province"))
    burden = charts.burden_distribution_data(level3, ["huaibei-2025", reform], amounts="fen")
    legend = [t.get_text() for t in charts.plot_burden(burden, None, chinese=False).legends[0].get_texts()]
    assert legend[1].startswith("huaibei-test-reform (reform, same as baseline): ")


def test_the_legend_is_outside_the_axes(sweep, reform):
    data = charts.burden_distribution_data(claims_table(), ["huaibei-2025", reform], amounts="fen")
    for figure in (charts.plot_rate_curve(sweep, None, chinese=False), charts.plot_burden(data, None, chinese=False)):
        figure.canvas.draw()
        legend, axes = figure.legends[0].get_window_extent(), figure.axes[0].get_window_extent()
        assert not figure.axes[0].get_legend() and legend.y1 < axes.y0  # below the plotting area: covers nothing
        assert legend.x0 >= 0 and legend.x1 <= figure.bbox.x1  # and inside the picture


def test_amounts_in_wan():
    assert [
        charts._wan_label(y * 100) for y in (0, 100, 950, 9500, 10_000, 15_000, 123_456, 10_000_000, 10**8, 150_000_000)
    ] == ["0", "100", "950", "9500", "1万", "1.5万", "12.3万", "1000万", "1亿", "1.5亿"]
    assert charts._amount(2_792_397, True) == "2.792万元" and charts._amount(266_050, True) == "2660.50元"
    assert charts._yuan_label(100_000_000) == "1M" and charts._yuan_label(1_000_000_000) == "10M"
    assert charts._rank("Noto Sans CJK JP") is not None and charts._rank("WenQuanYi Zen Hei") is not None
    assert charts._rank("Noto Sans CJK SC") < charts._rank("Noto Sans CJK JP") < charts._rank("Noto Serif CJK SC")
    assert charts._rank("DejaVu Sans") is None and charts._rank("Noto Sans") is None

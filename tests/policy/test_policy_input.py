"""Bad policy input (issue 15): bounded amounts, reads confined to the policy root, broken
neighbours skipped, reform headers and bases, control characters, linear loading, exit 2."""

from __future__ import annotations

import datetime as dt
import os
import warnings
from pathlib import Path

import pytest

import medcalc
from medcalc import Claim, PolicyError
from medcalc.claims import MAX_TOTAL
from medcalc.cli import main
from medcalc.policy import model
from medcalc.policy.registry import PolicyWarning, clear_caches
from medcalc.policy.schema import MAX_AMOUNT
from medcalc.report.terminal import printable

SOURCE = "一级医疗机构起付线200元,报销比例90%;二级医疗机构起付线500元,报销比例80%\n"


def _policy(
    deductible: str = "200",
    *,
    pid: str = "t-city",
    region: str = "测试市",
    source_file: str = "source.txt",
    quote: str = "一级医疗机构起付线200元",
    extra: str = "",
) -> str:
    return f"""[policy]
id = "{pid}"
region = "{region}"
scheme = "residents"

[levels]
level1 = "一级"
level2 = "二级"

[sources.fixture]
title = "测试文件"
official = true
file = "{source_file}"

[[inpatient.deductible]]
since = 2020-01-01
amount = {{ level1 = {deductible}, level2 = 500 }}
source = "fixture"
quote = "{quote}"

[[inpatient.ratio]]
since = 2020-01-01
ratio = {{ level1 = "90%", level2 = "80%" }}
source = "fixture"
quote = "报销比例90%"
{extra}"""


@pytest.fixture
def folder(tmp_path):
    clear_caches()
    (tmp_path / "source.txt").write_text(SOURCE, encoding="utf-8")
    yield tmp_path
    clear_caches()


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _refused(path: Path, **kw) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        medcalc.load_policy(path, **kw)
    return info.value


# ------------------------------------------------------------------ amounts bounded at load


def test_policy_amounts_are_bounded_at_load_with_file_key_value_and_range(folder):
    err = _refused(_write(folder, "big.toml", _policy("9223372036854")))
    assert err.file.endswith("big.toml")
    assert err.path == "inpatient.deductible[0].amount.level1"
    assert err.found == 9223372036854
    assert "between 0 and 10000000 yuan" in err.allowed


def test_the_largest_policy_amount_is_the_largest_claim_total(folder):
    # One bound for both sides: every amount x ratio the engine forms is then <= 10^13.
    assert MAX_AMOUNT == MAX_TOTAL == 10**9
    policy = medcalc.load_policy(_write(folder, "edge.toml", _policy('"1000万"')))
    settled = medcalc.settle(policy, Claim(person_id="p", settled_on=dt.date(2024, 1, 1), level="level1", total="1000"))
    assert (settled.deductible, settled.basic) == (medcalc.Fen(100000), medcalc.Fen(0))
    err = _refused(_write(folder, "edge2.toml", _policy('"10000000.01"')))  # one fen more
    assert (err.path, err.found) == ("inpatient.deductible[0].amount.level1", "10000000.01")
    assert "between 0 and 10000000 yuan" in err.allowed


def test_dates_past_the_year_2999_are_refused(folder):
    extra = '\n[[inpatient.cap]]\nsince = 2020-01-01\nuntil = 9999-12-31\nfund = 100000\nsource = "fixture"\nquote = "报销比例90%"\n'
    err = _refused(_write(folder, "late.toml", _policy(extra=extra)))
    assert (err.path, err.found) == ("inpatient.cap[0].until", dt.date(9999, 12, 31))
    assert "2999-12-31" in err.allowed


def test_deductible_fractions_that_would_leave_int64_are_refused(folder):
    extra = "".join(
        f'\n[[inpatient.modifier.m{i}]]\nsince = 2020-01-01\nwhen = {{ category = ["dibao"] }}\n'
        f'deductible_fraction = "33.33%"\nsource = "fixture"\nquote = "报销比例90%"\n'
        for i in range(2)
    )
    err = _refused(_write(folder, "fractions.toml", _policy(extra=extra)))
    assert err.path == "inpatient.modifier.m1[0]"
    assert err.found == "11108889/100000000"


# ------------------------------------------------------------------ reads inside the policy root


@pytest.mark.parametrize("cited", ["/etc/hostname", "../outside.txt", "link.txt", "sub/../../outside.txt"])
def test_source_files_outside_the_policy_root_are_not_read(tmp_path, cited, monkeypatch):
    clear_caches()
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside.txt").write_text(SOURCE, encoding="utf-8")
    (root / "link.txt").symlink_to(tmp_path / "outside.txt")
    opened: list[str] = []
    real_open = open

    def spy(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    path = _write(root, "p.toml", _policy(source_file=cited))
    err = _refused(path)
    assert err.path == "sources.fixture.file"
    assert err.found == cited
    assert "inside the policy root" in err.allowed
    secret = (tmp_path / "outside.txt").resolve()
    assert opened == [str(path.resolve())] * len(opened) and opened  # the policy file only
    assert secret not in {Path(f).resolve() for f in opened}


def test_a_source_inside_the_root_through_a_symlink_is_read(folder):
    (folder / "texts").mkdir()
    (folder / "texts" / "real.txt").write_text(SOURCE, encoding="utf-8")
    (folder / "alias.txt").symlink_to(folder / "texts" / "real.txt")
    policy = medcalc.load_policy(_write(folder, "p.toml", _policy(source_file="alias.txt")))
    assert policy.sources["fixture"].file == str((folder / "texts" / "real.txt").resolve())


def test_source_text_that_is_not_utf8_names_the_key(folder):
    (folder / "latin.txt").write_bytes(b"\xff\xfe not utf-8")
    err = _refused(_write(folder, "p.toml", _policy(source_file="latin.txt")))
    assert (err.path, err.found) == ("sources.fixture.file", "latin.txt")
    assert "UTF-8" in err.allowed and "0xff" in err.allowed


@pytest.mark.parametrize("base", ["/etc/passwd.toml", "../outside.toml", "link.toml"])
def test_reform_bases_outside_the_policy_root_are_not_read(tmp_path, base):
    clear_caches()
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside.toml").write_text('secret_key = "hunter2"\n', encoding="utf-8")
    (root / "link.toml").symlink_to(tmp_path / "outside.toml")
    path = _write(root, "r.toml", _reform(base))
    err = _refused(path)
    assert (err.file, err.path, err.found) == (str(path), "reform.base", base)
    assert "secret_key" not in str(err) and "hunter2" not in str(err)


# ------------------------------------------------------------------ reforms


def _reform(base: str, header: str = "[reform]", rid: str = "r-test") -> str:
    return (
        f'{header}\nid = "{rid}"\nbase = "{base}"\ntitle = "测试"\nauthor = "me"\ndate = 2026-12-01\n'
        'since = 2025-01-01\n\n[[adjust]]\nrule = "inpatient.ratio"\npoints = "+5"\n'
    )


def test_a_reform_header_with_a_comment_is_a_reform(folder):
    path = _write(folder, "r.toml", _reform("huaibei-2025", header="[reform]  # a comment"))
    reform = medcalc.load_policy(path)
    assert reform.chain[:2] == ("r-test", "huaibei-2025")


@pytest.mark.parametrize("base", ["no-such-policy", "missing.toml", "Not An Id"])
def test_a_bad_reform_base_names_the_reform_file_and_reform_base(folder, base):
    path = _write(folder, "r.toml", _reform(base))
    err = _refused(path)
    assert (err.file, err.path, err.found) == (str(path), "reform.base", base)


def test_a_reform_based_on_itself_is_a_cycle_not_a_recursion(folder):
    for base in ("r-test", "r.toml"):
        clear_caches()
        path = _write(folder, "r.toml", _reform(base))
        err = _refused(path, search=[folder])
        assert (err.path, err.found) == ("reform.base", base)
        assert "cycle: r.toml -> r.toml" in err.allowed


def test_adjust_levels_of_tables_are_refused(folder):
    text = _reform("huaibei-2025").replace('points = "+5"', 'levels = [{}]\npoints = "+5"')
    err = _refused(_write(folder, "r.toml", text))
    assert (err.path, err.found) == ("adjust[0].levels", [{}])


# ------------------------------------------------------------------ the scan by id


def test_a_broken_neighbour_is_skipped_with_a_warning_naming_it(folder):
    _write(folder, "base.toml", _policy(pid="t-base"))
    (folder / "broken.toml").write_bytes(b'[policy]\nid = "x\xff"\n')
    _write(folder, "deep.toml", "x = " + "[" * 2000 + "]" * 2000 + "\n")
    child = _write(
        folder, "child.toml", '[policy]\nid = "t-child"\nregion = "测试市"\nscheme = "residents"\nextends = "t-base"\n'
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        policy = medcalc.load_policy(child)
    assert policy.chain == ("t-child", "t-base")
    skipped = sorted(str(w.message).split(":")[0] for w in caught if issubclass(w.category, PolicyWarning))
    assert skipped == [f"skipped {folder / 'broken.toml'}", f"skipped {folder / 'deep.toml'}"]


def test_the_scan_by_id_reads_headers_and_parses_only_what_is_not_plain(folder):
    from medcalc.policy.files import read_header
    from medcalc.policy.registry import _ids_under

    plain = _write(folder, "plain.toml", _policy(pid="t-plain"))
    assert read_header(plain, "plain.toml") == {"policy": {"id": "t-plain"}}
    # an id written another way (a literal string) is parsed from the header table alone
    literal = _write(folder, "literal.toml", _policy(pid="t-literal").replace('"t-literal"', "'t-literal'"))
    assert read_header(literal, "literal.toml")["policy"]["id"] == "t-literal"
    # a table header quoted inside a multi-line string before [policy]: the cut fails, the whole file is read
    tricky = _write(folder, "tricky.toml", 'note = """\n[policy]\nid = "wrong"\n"""\n' + _policy(pid="t-tricky"))
    assert read_header(tricky, "tricky.toml")["policy"]["id"] == "t-tricky"
    # a line like an id inside a multi-line string of the table itself is not taken for it
    noted = _write(
        folder, "noted.toml", _policy(pid="t-noted").replace('"t-noted"', '\'t-noted\'\nnote = """\nid = "wrong"\n"""')
    )
    assert read_header(noted, "noted.toml")["policy"]["id"] == "t-noted"
    # a file whose header is fine but whose body is not is found by id, and loading it says what is wrong
    _write(folder, "body.toml", _policy(pid="t-body") + "\n[[[not toml\n")
    assert {"t-plain", "t-literal", "t-tricky", "t-noted", "t-body"} <= {i for i, _, _ in _ids_under(folder.resolve())}
    with pytest.raises(PolicyError, match="not valid TOML"):
        medcalc.load_policy("t-body", search=[folder])


def test_the_scan_by_id_stays_inside_the_policy_root_and_its_depth(folder):
    from medcalc.policy.registry import SCAN_DEPTH, _ids_under

    deep = folder.joinpath(*["d"] * (SCAN_DEPTH + 1))
    deep.mkdir(parents=True)
    _write(deep, "far.toml", _policy(pid="t-far"))
    _write(folder / "d", "near.toml", _policy(pid="t-near"))
    outside = folder.parent / f"{folder.name}-out"
    outside.mkdir()
    _write(outside, "o.toml", _policy(pid="t-outside"))
    (folder / "linked").symlink_to(outside, target_is_directory=True)
    ids = {i for i, _, _ in _ids_under(folder.resolve())}
    assert ids == {"t-near"}


# ------------------------------------------------------------------ control characters


def test_printable_escapes_controls_but_keeps_text():
    assert (
        printable("怀北\x1b]0;x\x07\x1b[2J\r\x9b\u202e市\n二行\t")
        == "怀北\\x1b]0;x\\x07\\x1b[2J\\x0d\\x9b\\u202e市\n二行\t"
    )


def test_control_characters_are_escaped_in_policy_show_and_quote_explain(folder, capsys):
    region = "测试\\u001b]0;pwned\\u0007\\u001b[2J市"
    path = _write(folder, "ctl.toml", _policy(region=region, quote="一级医疗机构起付线200元\\u001b[31m"))
    (folder / "source.txt").write_text(SOURCE.replace("200元", "200元\x1b[31m"), encoding="utf-8")
    assert main(["policy", "show", str(path), "--on", "2024-01-01"]) == 0
    shown = capsys.readouterr().out
    assert (
        main(
            [
                "quote",
                "--policy",
                str(path),
                "--date",
                "2024-01-01",
                "--level",
                "level1",
                "--total",
                "5000",
                "--explain",
                "--width",
                "200",
            ]
        )
        == 0
    )
    explained = capsys.readouterr().out
    for out in (shown, explained):
        assert "\x1b" not in out and "\x07" not in out
    assert "测试\\x1b]0;pwned\\x07\\x1b[2J市" in shown
    assert "\\x1b[31m" in explained


# ------------------------------------------------------------------ exit codes


@pytest.mark.parametrize("text", [b"\xff[policy]", b"x = " + b"[" * 3000 + b"]" * 3000, None])
def test_bad_policy_input_at_the_cli_exits_2(folder, text, capsys):
    path = folder / "bad.toml"
    if text is None:
        path.write_text(_policy("9223372036854"), encoding="utf-8")
    else:
        path.write_bytes(text)
    assert main(["policy", "check", str(path)]) == 2
    assert main(["policy", "show", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("medcalc: error: ") == 2 and "internal error" not in err


def test_a_very_long_file_name_at_the_cli_exits_2(capsys):
    assert main(["policy", "check", "p" * 300 + ".toml"]) == 2


# ------------------------------------------------------------------ loading is linear


def test_a_days_version_is_found_by_bisection_not_by_a_scan(monkeypatch):
    # Timeline.at must not test every version: count in_force calls on a 4000-version timeline.
    fixture = model.Citation(source=model.Source("s", "t", False), quote="q", verified=False)
    start = dt.date(2000, 1, 1)
    versions = tuple(
        model.RuleVersion(
            key="k",
            since=start + dt.timedelta(days=2 * i),
            until=start + dt.timedelta(days=2 * i),
            citation=fixture,
            params={},
        )
        for i in range(4000)
    )
    timeline = model.Timeline("k", (versions,))
    calls = 0
    real = model.RuleVersion.in_force

    def counting(self, day):
        nonlocal calls
        calls += 1
        return real(self, day)

    monkeypatch.setattr(model.RuleVersion, "in_force", counting)
    for i in range(4000):
        assert timeline.at(start + dt.timedelta(days=2 * i)) is versions[i]
        assert timeline.at(start + dt.timedelta(days=2 * i + 1)) is None
    assert calls == 8000  # one candidate per lookup


def test_many_versions_load_and_the_last_one_is_found(folder):
    body = "".join(
        f"\n[[inpatient.cap]]\nsince = {dt.date(2020, 1, 1) + dt.timedelta(days=i)}\n"
        f"until = {dt.date(2020, 1, 1) + dt.timedelta(days=i)}\nfund = {1000 + i}\n"
        'source = "fixture"\nquote = "报销比例90%"\n'
        for i in range(2000)
    )
    policy = medcalc.load_policy(_write(folder, "many.toml", _policy(extra=body)))
    last = policy.at(dt.date(2020, 1, 1) + dt.timedelta(days=1999)).rule("inpatient.cap")
    assert last["fund"] == (1000 + 1999) * 100


def test_a_file_under_a_symlinked_root_loads(folder):
    # resolving symlinks applies to the root too: a root reached through a link is still the root
    link = folder.parent / f"{folder.name}-link"
    os.symlink(folder, link, target_is_directory=True)
    _write(folder, "p.toml", _policy())
    assert medcalc.load_policy(link / "p.toml").id == "t-city"

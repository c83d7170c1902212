"""The documentation site: every page's examples run as written, the generated references cover the code, and
the site builds strictly.

- Each page's ```python blocks run in order in one namespace (in a folder of their own); some pages' figures are
  then checked (``FIGURES``).
- Every ``medcalc …`` line of a ```sh block (README's too) parses with the command line's own parser, and runs, in
  a folder holding the example files the pages name (``examples``), unless it needs a server, a cluster or the
  network: exit 0 (``reconcile`` 3: rows differ). A block with ``title="NAME"`` is written to NAME first.
- ``mkdocs build --strict`` succeeds (skipped, saying so, where mkdocs is not installed).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.parts)
_FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```", re.S | re.M)
_TITLE = re.compile(r'title="([^"]+)"')


def _hook():
    spec = importlib.util.spec_from_file_location("medcalc_docs", DOCS / "hooks" / "medcalc_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def blocks(page: Path, language: str) -> list[str]:
    return [code for lang, _, code in _FENCE.findall(page.read_text(encoding="utf-8")) if lang == language]


def titled_files(page: Path) -> dict[str, str]:
    """The blocks of ``page`` that show a file (``title="NAME"``): NAME -> its text."""
    found = {}
    for _, info, code in _FENCE.findall(page.read_text(encoding="utf-8")):
        title = _TITLE.search(info)
        if title:
            found[title.group(1)] = code
    return found


def command_lines(page: Path) -> list[str]:
    """The ``medcalc …`` lines of the page's sh blocks, continuations joined, trailing comments cut."""
    lines = []
    for code in blocks(page, "sh"):
        for line in code.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            for part in line.split(" && "):
                if part.startswith("medcalc "):
                    lines.append(re.sub(r"\s+#\s.*$", "", part).strip())
    return lines


def _argv(line: str, home: Path | None = None) -> list[str]:
    words = shlex.split(line)[1:]
    return [str(home / w[2:]) if home is not None and w.startswith("~/") else w for w in words]


def _runnable(argv: list[str]) -> bool:
    """Not a server (runs until stopped), a Dask cluster or the network: those are tested elsewhere."""
    return argv[0] != "serve" and "--dask" not in argv and not any("://" in a for a in argv)


def test_pages_are_found_and_each_is_in_the_site_nav():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert len(PAGES) >= 20
    for page in PAGES:
        assert page.relative_to(DOCS).as_posix() in nav, f"{_name(page)} is in no section of mkdocs.yml's nav"


# --- the Python examples ---------------------------------------------------------------------------------------


def _python_api(ns):
    batch = ns["batch"]
    assert [r.field for r in batch.rejects] == ["level"]
    scored = ns["scored"]
    assert scored.results.column("basic").to_pylist() == [1448000, 564000]  # 18100 × 80 %; 9400 × 60 %
    assert scored.rejects.column("row").to_pylist() == [2]
    assert scored.rejects.column("field").to_pylist() == ["level"]
    assert [s.amount for s in scored.traces[0] if s.mechanism == "patient"] == [552000]
    assert ns["result"].columns["basic"].tolist() == [1448000, 768000]


def _dask(ns):
    results, rejects = ns["results"], ns["rejects"]
    assert results["basic"].tolist() == [1448000, 564000] and rejects["row"].tolist() == [2]


def _reforms(ns):
    row = ns["row"]  # a seeded population: the same figures on every run
    assert (row["scenario"], row["rate"], row["change_funds"], row["persons_affected"]) == (
        "huaibei-level1-plus5",
        "76.27%",
        "455057.23",
        333,
    )
    assert ns["curve"].funds[4] == 882000


#: Figures the examples state in comments, checked after a page's blocks ran.
FIGURES = {
    "docs/reference/python-api.md": _python_api,
    "docs/how-to/dask.md": _dask,
    "docs/how-to/reforms.md": _reforms,
}

PYTHON_PAGES = [p for p in PAGES if blocks(p, "python")]


def test_the_pages_with_figures_have_python_examples():
    assert set(FIGURES) <= {_name(p) for p in PYTHON_PAGES}


@pytest.mark.slow
@pytest.mark.parametrize("page", PYTHON_PAGES, ids=_name)
def test_a_pages_python_examples_run_in_order(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "docs_example"}
    for code in blocks(page, "python"):
        exec(compile(code, _name(page), "exec"), namespace)
    if _name(page) in FIGURES:
        FIGURES[_name(page)](namespace)


# --- the command lines -----------------------------------------------------------------------------------------

ALL_LINES = [(page, line) for page in [ROOT / "README.md", *PAGES] for line in command_lines(page)]


def test_the_pages_show_every_command():
    shown = " ".join(line for _, line in ALL_LINES)
    for command, _ in _hook().command_helps():
        assert command + " " in shown + " " or command == "medcalc", f"no page shows {command}"


def test_every_command_line_shown_parses(capsys):
    from medcalc.cli import _parser

    assert len(ALL_LINES) > 30
    for page, line in ALL_LINES:
        try:
            _parser().parse_args(_argv(line, Path.home()))
        except SystemExit as exc:  # --version and --help exit 0; a usage error exits 2
            assert exc.code == 0, f"{_name(page)}: {line}\n{capsys.readouterr().err}"


@pytest.fixture(scope="module")
def examples(tmp_path_factory) -> Path:
    """A folder holding the files the pages' commands name, and a home with a folder of one's own policies."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    folder = tmp_path_factory.mktemp("examples")
    (folder / "claims.csv").write_text(
        "claim_id,person_id,settled_on,region,level,total,self_funded,w\n"
        "c1,p1,2025-03-01,淮北,level1,12000,500,1\n"
        "c2,p1,2025-06-01,淮北,level1,3万,0,2\n"
        "c3,p2,2025-04-01,淮北,level3_province,8万,2000,1.5\n"
        "c4,p3,2025-05-01,淮北,level1,600,0,1\n"
        "j1,p4,2020-06-01,九江,level2,2万,1500,1\n",
        encoding="utf-8",
    )
    table = pcsv.read_csv(folder / "claims.csv", convert_options=pcsv.ConvertOptions(column_types={"w": pa.string()}))
    pq.write_table(
        table.cast(pa.schema([pa.field(n, pa.string()) for n in table.column_names])), folder / "claims.parquet"
    )
    (folder / "extract.csv").write_text(
        "setl_id,psn_no,setl_time,level,medfee_sumamt,fulamt_ownpay_amt,hifp_pay\n"
        "a,p1,2025-03-01,level1,12000,500,10170.00\na,p2,2025-04-01,level3_province,8万,2000,1.00\n",
        encoding="utf-8",
    )
    (folder / "claim.json").write_text(
        json.dumps({"person_id": "p1", "settled_on": "2025-06-01", "level": "level1", "total": "2万"}), encoding="utf-8"
    )
    (folder / "earlier.json").write_text(
        json.dumps([{"person_id": "p1", "settled_on": "2025-03-01", "level": "level1", "total": 12000}]),
        encoding="utf-8",
    )
    guide = (ROOT / "policies" / "README.md").read_text(encoding="utf-8")
    text = re.search(r"```toml\n(\[policy\].*?)```", guide, re.S).group(1)
    text = text.replace('file = "../sources/', f'file = "{(ROOT / "policies" / "sources").as_posix()}/')
    (folder / "my-region.toml").write_text(text, encoding="utf-8")
    reforms = ROOT / "policies" / "reforms"
    for name, reform in (("my-reform", "huaibei-level1-plus5"), ("a", "huaibei-level1-plus5")):
        shutil.copy(reforms / f"{reform}.toml", folder / f"{name}.toml")
    shutil.copy(reforms / "huaibei-dibao-threshold.toml", folder / "b.toml")
    shutil.copytree(ROOT / "tests" / "cases" / "policies" / "inherit", folder / "home" / "policies")
    return folder


COMMAND_PAGES = [p for p in [ROOT / "README.md", *PAGES] if command_lines(p)]


@pytest.mark.slow
@pytest.mark.parametrize("page", COMMAND_PAGES, ids=_name)
def test_a_pages_commands_run(page, examples, tmp_path, monkeypatch, capsys):
    from medcalc.cli import main

    shutil.copytree(examples, tmp_path, dirs_exist_ok=True)
    for name, text in titled_files(page).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    ran = 0
    for line in command_lines(page):
        argv = _argv(line, tmp_path / "home")
        if not _runnable(argv):
            continue
        try:
            code = main(argv)
        except SystemExit as exc:  # --version
            code = exc.code
        out, err = capsys.readouterr()
        allowed = (0, 3) if argv[0] == "reconcile" else (0,)
        assert code in allowed, f"{_name(page)}: {line} exited {code}\n{err}"
        ran += 1
    assert ran or page.name in ("dask.md", "serve.md"), f"{_name(page)}: no command ran"


def test_the_tutorials_figures(examples, tmp_path, monkeypatch, capsys):
    """The tutorial's figures are what its commands give."""
    from medcalc.cli import main

    page = DOCS / "tutorial.md"
    for name, text in titled_files(page).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "100")
    lines = command_lines(page)
    assert main(_argv(lines[1])) == 0 and "14,480.00" in capsys.readouterr().out
    assert main(_argv(lines[2])) == 0
    out = capsys.readouterr().out
    assert "columns not used" in out and "备注" in out
    settled = (tmp_path / "tutorial-claims.settled.csv").read_text(encoding="utf-8-sig").splitlines()
    assert settled[2].startswith('3,"a2"') and '"18500.00","400.00","14480.00"' in settled[2]
    assert settled[2].endswith('"5520.00"')
    rejects = (tmp_path / "tutorial-claims.settled.rejects.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(rejects) == 2 and rejects[1].startswith('5,"b2","医院等级"') and "(got '五级')" in rejects[1]


# --- the generated parts and the links -------------------------------------------------------------------------


def test_the_cli_reference_has_every_command_and_option():
    from medcalc.cli import _parser

    text = _hook().cli_reference()
    for command in ("medcalc quote", "medcalc score", "medcalc policy diff", "medcalc plot burden", "medcalc serve"):
        assert f"### `{command}`" in text
    score = next(h for c, h in _hook().command_helps() if c == "medcalc score")
    assert "--header-row" in score and "--limit" in score and "--results-only" in score
    assert "--version" in _parser().format_help()


def test_the_column_reference_names_every_alias_and_field():
    from medcalc.batch.files import OUTPUT_NAMES
    from medcalc.batch.tables import CLAIM_FIELDS
    from medcalc.claims import FIELD_ALIASES

    hook = _hook()
    columns = hook.columns_reference()
    for name in (*CLAIM_FIELDS, *FIELD_ALIASES):
        assert f"`{name}`" in columns, name
    assert "| `total` | `medfee_sumamt` | `医疗费总额` |" in columns
    names = hook.output_names_reference()
    for style in OUTPUT_NAMES.values():
        for name in style.values():
            assert f"`{name}`" in names
    assert "| `basic` | `hifp_pay` | `基本医疗保险统筹基金支出` |" in names


def test_markers_and_links_are_made_the_sites():
    hook = _hook()
    assert hook.expand("v<!-- generated: version -->.") == f"v{hook.version()}."
    with pytest.raises(ValueError, match="unknown generated part 'nope'"):
        hook.expand("<!-- generated: nope -->")
    # a page's link to a file outside docs/ goes to the page including it; one inside docs/ stays
    assert hook.site_links("[f](../../policies/README.md#2-dates)", "how-to/policy.md") == (
        "[f](../reference/policy-format.md#2-dates)"
    )
    assert hook.site_links("[c](../conventions.md) [w](https://x.org/a.md)", "how-to/x.md") == (
        "[c](../conventions.md) [w](https://x.org/a.md)"
    )
    # an included file's links are resolved from where it lives
    assert hook.site_links("[c](../docs/conventions.md)", "reference/policy-format.md", "policies/README.md") == (
        "[c](../conventions.md)"
    )
    included = hook.include("<!-- include: policies/README.md -->", "reference/policy-format.md")
    assert included.startswith("# Writing a policy file") and "](../conventions.md)" in included


def test_every_public_name_is_in_the_api_reference():
    import medcalc

    page = (DOCS / "reference" / "python-api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: [\w.]+\.(\w+)$", page, re.M))
    assert set(medcalc.__all__) <= documented, sorted(set(medcalc.__all__) - documented)


def test_the_version_is_the_packages_metadata(capsys):
    from importlib.metadata import version

    import medcalc
    from medcalc.cli import main

    assert medcalc.__version__ == version("medcalc")
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out == f"medcalc {version('medcalc')}\n"


def test_import_medcalc_reads_no_metadata():
    code = "import sys, medcalc; print('importlib.metadata' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# --- the site ----------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_site_builds_strictly(tmp_path):
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        pytest.skip("mkdocs and mkdocs-material are not installed (pip install -e '.[docs]')")
    env = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    cli = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    assert "medcalc policy diff" in cli and "--header-row" in cli
    assert "Writing a policy file" in (tmp_path / "site" / "reference" / "policy-format" / "index.html").read_text(
        encoding="utf-8"
    )
    assert "settle_table" in (tmp_path / "site" / "reference" / "python-api" / "index.html").read_text(encoding="utf-8")

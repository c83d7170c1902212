"""The web API of `medcalc serve` through the framework's test client: every endpoint and every error.

Answers are held to what the CLI says for the same request: the same settlement JSON, the
same error messages, the same policy listings.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason='needs the serve extra: pip install "medcalc[serve]"')

from fastapi.testclient import TestClient  # noqa: E402

from medcalc.cli import main  # noqa: E402
from medcalc.serve.app import STATIC, create_app  # noqa: E402
from medcalc.serve.limits import Limits  # noqa: E402
from tests.cli.test_cli import INHERIT, own_policies  # noqa: E402

QUICK = {
    "policy": "jiujiang-residents",
    "settled_on": "2020-06-01",
    "level": "level2",
    "total": "20000",
    "self_funded": "1500",
}
QUICK_ARGS = [
    "quote",
    "--policy",
    "jiujiang-residents",
    "--date",
    "2020-06-01",
    "--level",
    "level2",
    "--total",
    "20000",
    "--self-funded",
    "1500",
]
CSV = "person_id,settled_on,level,total,self_funded\np1,2020-06-01,level2,2万,1500\np2,2020-06-02,level9,5000,0\n"


#: The test client's address: a Host the app answers by default (it refuses the client's own "testserver").
LOCAL = "http://127.0.0.1"


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(), base_url=LOCAL, raise_server_exceptions=False) as test_client:
        yield test_client


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def cli_error(capsys, *argv: str) -> str:
    code, _, err = cli(capsys, *argv)
    assert code == 2
    return err.strip().removeprefix("medcalc: error: ")


# ---------------------------------------------------------------- POST /quote


def test_quote_is_the_cli_settlement(client, capsys):
    answer = client.post("/quote", json=QUICK)
    assert answer.status_code == 200
    data = answer.json()
    assert (data["basic"], data["patient"], data["deductible"]) == ("14480.00", "5520.00", "400.00")
    _, out, _ = cli(capsys, *QUICK_ARGS, "--json")
    expected = json.loads(out)
    assert list(data) == list(expected)  # the same field names, in the same order
    assert {k: v for k, v in data.items() if k not in ("steps", "accumulators_before", "accumulators_after")} == {
        k: v for k, v in expected.items() if k not in ("steps", "accumulators_before", "accumulators_after")
    }
    assert data["steps"] == [] and data["accumulators_before"] is None  # without explain


def test_quote_takes_the_amounts_of_earlier_layers_given(client, capsys):
    # basic settled elsewhere: no deductible computed, the CLI and the API agree; a bad one is a 422 naming it
    data = client.post("/quote", json={**QUICK, "basic_paid": "9000"}).json()
    assert (data["basic"], data["deductible"], data["patient"]) == ("9000.00", "0.00", "11000.00")
    _, out, _ = cli(capsys, *QUICK_ARGS, "--basic-paid", "9000", "--json")
    assert json.loads(out)["patient"] == data["patient"]
    bad = client.post("/quote", json={**QUICK, "basic_paid": "90000"})
    assert bad.status_code == 422 and "basic_paid" in bad.text and "in-scope cost" in bad.text


def test_quote_explained_has_every_step_quote_and_accumulators(client, capsys):
    data = client.post("/quote", json={**QUICK, "explain": True}).json()
    _, out, _ = cli(capsys, *QUICK_ARGS, "--json")
    assert data == json.loads(out)  # the CLI's --json is the explained settlement
    ratio = next(s for s in data["steps"] if s["mechanism"] == "ratio")
    assert ratio["detail"] == "18100.00 × 80%" and "報銷比例分別爲90%、80%、60%" in ratio["source"]["quote"]
    charged = next(s for s in data["steps"] if s["mechanism"] == "deductible_charged")
    assert (charged["before"], charged["after"]) == ("0.00", "400.00")
    assert data["accumulators_before"]["basic_paid"] == "0.00"
    assert data["accumulators_after"]["basic_paid"] == "14480.00"


def test_quote_claim_object_words_and_amounts(client):
    plain = client.post(
        "/quote",
        json={
            "policy": "jiujiang-residents",
            "claim": {"settled_on": "2020/6/1", "level": "二级", "total": "2万", "self_funded": "1500元"},
        },
    ).json()
    assert plain["basic"] == "14480.00"
    # a JSON number is read exactly, as yuan (never through a float)
    exact = client.post(
        "/quote",
        content=b'{"policy": "jiujiang-residents", "settled_on": "2020-06-01", '
        b'"level": "level2", "total": 20000.01, "self_funded": 1500}',
    ).json()
    assert (exact["total"], exact["in_scope"]) == ("20000.01", "18500.01")
    national = client.post(
        "/quote",
        json={
            "policy": "jiujiang-residents",
            "claim": {
                "psn_no": "x",
                "setl_time": "2020-06-01",
                "level": "level2",
                "medfee_sumamt": "20000",
                "fulamt_ownpay_amt": "1500",
            },
        },
    ).json()
    assert (national["person_id"], national["basic"]) == ("x", "14480.00")


def test_quote_by_region_and_date(client):
    by_region = {**QUICK, "region": "九江", "scheme": "居民"}
    del by_region["policy"]
    data = client.post("/quote", json=by_region).json()
    assert (data["policy"], data["basic"]) == ("jiujiang-residents", "14480.00")
    pinyin = client.post(
        "/quote", json={**by_region, "region": "jiujiang", "scheme": "residents", "on": "2020-01-01"}
    ).json()
    assert pinyin["policy"] == "jiujiang-residents"


def test_quote_with_history_and_accumulators_as_the_cli(client, capsys, tmp_path):
    earlier = [{"settled_on": "2020-02-10", "level": "level1", "total": 3000}]
    data = client.post("/quote", json={**QUICK, "history": earlier}).json()
    (tmp_path / "h.json").write_text(json.dumps(earlier))
    _, out, _ = cli(capsys, *QUICK_ARGS, "--history", str(tmp_path / "h.json"), "--json")
    assert data["basic"] == json.loads(out)["basic"]
    known = client.post("/quote", json={**QUICK, "accumulators": {"admissions": 1, "basic_paid": "2610"}}).json()
    assert known["basic"] == data["basic"]


def test_quote_a_persons_year_in_order(client):
    data = client.post(
        "/quote",
        json={
            "region": "九江",
            "scheme": "居民",
            "claims": [
                {"settled_on": "2020-02-10", "level": "level1", "total": 3000},
                {"settled_on": "2020-06-01", "level": "level2", "total": "2万", "self_funded": 1500},
            ],
            "explain": True,
        },
    ).json()
    assert data["policy"] == "jiujiang-residents"
    assert [s["settled_on"] for s in data["settlements"]] == ["2020-02-10", "2020-06-01"]
    second = data["settlements"][1]
    assert second["accumulators_before"]["admissions"] == 1
    assert data["accumulators"][0]["admissions"] == 2
    assert data["accumulators"][0]["basic_paid"] == second["accumulators_after"]["basic_paid"]


def test_quote_table_is_the_cli_table(client, capsys):
    data = client.post("/quote", json={**QUICK, "table": True, "explain": True}).json()
    _, out, _ = cli(capsys, *QUICK_ARGS, "--explain", "--width", "250")
    tables = [p for p in data["view"] if p["kind"] == "table"]
    breakdown, steps = tables
    assert breakdown["columns"] == ["item 项目", "yuan 元"]
    for label, amount in breakdown["rows"]:
        assert label in out and amount in out
    assert ["基本医保统筹 basic insurance", "14,480.00"] in breakdown["rows"]  # grouped, as the CLI prints it
    assert steps["title"] == "explanation 计算过程" and len(steps["rows"]) == len(data["steps"])
    assert any("報銷比例分別爲90%" in cell for row in steps["rows"] for cell in row)
    assert data["view"][0]["text"].startswith("jiujiang-residents")


# ---------------------------------------------------------------- errors of a quote: the CLI's messages


def test_bad_claim_is_422_with_the_field_and_the_cli_message(client, capsys):
    answer = client.post("/quote", json={**QUICK, "level": "三级医"})
    assert answer.status_code == 422
    body = answer.json()
    assert body["field"] == "level" and body["status"] == 422
    # the same message; the CLI names its flag where the API names the JSON field
    assert body["error"] == cli_error(capsys, *[a if a != "level2" else "三级医" for a in QUICK_ARGS]).replace(
        "--level: ", "level: ", 1
    )
    for field, value, flag in (
        ("category", "低宝", "--category"),
        ("total", "abc", "--total"),
        ("settled_on", "2020-13-01", "--date"),
        ("place", "火星", "--place"),
    ):
        body = client.post("/quote", json={**QUICK, field: value}).json()
        assert body["field"] == field
        assert body["error"] == cli_error(capsys, *QUICK_ARGS, flag, value).replace(f"{flag}: ", f"{field}: ", 1)
    missing = client.post(
        "/quote", json={"policy": "jiujiang-residents", "settled_on": "2020-06-01", "level": "level2"}
    )
    assert (missing.status_code, missing.json()["field"]) == (422, "total")
    unknown = client.post("/quote", json={**QUICK, "totl": 5}).json()
    assert unknown["field"] == "totl" and "unknown field" in unknown["error"]


def test_bad_history_and_sequence_name_the_claim(client):
    body = client.post(
        "/quote", json={**QUICK, "history": [{"settled_on": "2020-02-10", "level": "x", "total": 1}]}
    ).json()
    assert body["field"] == "history" and body["error"].startswith("history: earlier claim 0 was rejected: level:")
    body = client.post("/quote", json={**QUICK, "history": [{"settled_on": "2020-02-10", "level": "level1"}]}).json()
    assert (body["field"], body["error"]) == (
        "total",
        'history: claim 1: total: required: an amount of yuan such as 12000 or "1.2万"',
    )
    body = client.post(
        "/quote",
        json={
            "policy": "jiujiang-residents",
            "claims": [
                {"settled_on": "2020-02-10", "level": "level1", "total": 3000},
                {"settled_on": "2020-06-01", "level": "level7", "total": 3000},
            ],
        },
    ).json()
    assert (body["field"], body["claim"]) == ("level", 2) and body["error"].startswith(
        "claims: claim 2: level: unknown"
    )


def test_unknown_policy_is_404_with_the_closest_ids(client, capsys):
    answer = client.post("/quote", json={**QUICK, "policy": "jiujiang"})
    assert answer.status_code == 404
    body = answer.json()
    assert "jiujiang-residents" in body["closest"] and "jiujiang-employees" in body["closest"]
    assert body["error"] == cli_error(capsys, *[a if a != "jiujiang-residents" else "jiujiang" for a in QUICK_ARGS])
    region = client.post("/quote", json={"region": "九州", "settled_on": "2020-06-01", "level": "level2", "total": 1})
    assert region.status_code == 404 and "no policy for region '九州'" in region.json()["error"]
    several = client.post("/quote", json={"region": "九江", "settled_on": "2020-06-01", "level": "level2", "total": 1})
    assert several.status_code == 404 and "has several policies" in several.json()["error"]


def test_no_request_names_a_file_path(client, tmp_path, monkeypatch):
    policy = Path(__file__).parents[1] / "cases" / "policies" / "jiuquan-2022.toml"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "README.md").write_text("[policy]\nid = 'x'\n")
    for name in (str(policy), "../x.toml", "README.md", "jiuquan-2022.toml", "~/p"):
        answer = client.post("/quote", json={**QUICK, "policy": name})
        assert answer.status_code == 422, name
        assert "never by a file path" in answer.json()["error"]
        assert client.get(f"/policies/{name}").status_code in (404, 422)
    upload = client.post(
        "/score",
        content=(
            CSV.replace("person_id,", "policy,person_id,")
            .replace("\np1", f"\n{policy},p1")
            .replace("\np2", "\njiujiang-residents,p2")
        ),
    )
    assert upload.status_code == 422 and upload.json()["field"] == "policy"


def test_malformed_requests_are_422_json(client):
    for body in (b"{", b"[1, 2]", b'{"a": NaN}', b"\xff\xfe"):
        answer = client.post("/quote", content=body)
        assert answer.status_code == 422 and answer.json()["field"] == "body", body
    assert client.post("/quote", json={"policy": "jiujiang-residents"}).json()["field"] == "claim"
    assert client.post("/quote", json={**QUICK, "explain": "yes"}).json()["field"] == "explain"
    assert client.post("/quote", json={**QUICK, "history": 3}).json()["field"] == "history"
    assert client.post("/quote", json={"policy": "jiujiang-residents", "claims": {}}).json()["field"] == "claims"
    both = client.post("/quote", json={**QUICK, "region": "九江"}).json()
    assert both["error"] == "give policy or region, not both"
    none = {k: v for k, v in QUICK.items() if k != "policy"}
    assert client.post("/quote", json=none).json()["error"] == "policy or region is required"


def test_unknown_routes_and_methods_are_json(client):
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and missing.json()["error"].startswith("no such page or endpoint")
    wrong = client.get("/quote")
    assert wrong.status_code == 405 and wrong.json()["status"] == 405


def test_an_internal_error_is_500_json_without_a_stack_trace(client, monkeypatch):
    import medcalc.serve.quotes as quotes

    def broken(*args, **kwargs):
        raise RuntimeError("the engine broke")

    monkeypatch.setattr(quotes, "settle", broken)
    answer = client.post("/quote", json=QUICK)
    assert answer.status_code == 500
    assert answer.json() == {"status": 500, "error": "internal error: RuntimeError: the engine broke"}
    assert "Traceback" not in answer.text


# ---------------------------------------------------------------- size limits: 413


def test_bodies_over_the_limits_are_413():
    small = TestClient(create_app(Limits(request=200, upload=300)), base_url=LOCAL)
    answer = small.post("/quote", json={**QUICK, "claim_id": "x" * 300})
    assert answer.status_code == 413
    assert answer.json() == {
        "status": 413,
        "error": "request body over the limit of 200 bytes (200 bytes)",
        "limit": 200,
    }
    assert small.post("/quote", json=QUICK).status_code == 200

    def chunks():  # no Content-Length: counted as it streams
        for _ in range(20):
            yield CSV.encode()

    streamed = small.post("/score?policy=jiujiang-residents", content=chunks(), headers={"content-type": "text/csv"})
    assert (streamed.status_code, streamed.json()["limit"]) == (413, 300)
    form = small.post("/score?policy=jiujiang-residents", files={"file": ("c.csv", CSV.encode() * 20)})
    assert form.status_code == 413
    assert small.post("/score?policy=jiujiang-residents", content=CSV.encode()).status_code == 200


def test_serve_limits_and_defaults_on_the_command_line(monkeypatch, capsys):
    import uvicorn

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw, app=app))
    monkeypatch.setenv("MEDCALC_SERVE_LIMITS", "{}")  # so that what the command sets is undone after the test
    monkeypatch.setenv("MEDCALC_SERVE_ACCESS", "{}")
    assert main(["serve"]) == 0
    assert (seen["host"], seen["port"], seen["workers"]) == ("127.0.0.1", 8000, 1)  # this machine only, by default
    import os

    assert json.loads(os.environ["MEDCALC_SERVE_LIMITS"]) == {
        "request": 1 << 20,
        "upload": 32 << 20,
        "header_timeout": 10,
        "body_timeout": 30,
        "listed_rows": 1000,
        "read": SERVE_READ,
    }
    assert main(["serve", "--host", "0.0.0.0", "--max-upload", "2", "--max-request", "64"]) == 0
    assert "reachable from other machines, with no authentication" in capsys.readouterr().err
    assert {k: v for k, v in json.loads(os.environ["MEDCALC_SERVE_LIMITS"]).items() if k in ("request", "upload")} == {
        "request": 64 << 10,
        "upload": 2 << 20,
    }
    from medcalc.serve.app import app_from_environment

    limited = TestClient(app_from_environment(), base_url=LOCAL)
    assert limited.post("/quote", json={**QUICK, "claim_id": "x" * 70_000}).status_code == 413
    assert main(["serve", "--workers", "0"]) == 2


SERVE_READ = {
    "max_columns": 200,
    "max_header_chars": 65_536,
    "max_cell_chars": 1_000,
    "max_sheet_cells": 2_000_000,
    "max_sheet_bytes": 256 << 20,
    "max_shared_strings_bytes": 64 << 20,
    "max_xlsx_bytes": 512 << 20,
    "max_compression_ratio": 200,
}


def test_serve_read_limits_on_the_command_line(monkeypatch, capsys):
    import os

    import uvicorn

    from medcalc.batch.limits import DEFAULT_LIMITS

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    monkeypatch.setenv("MEDCALC_SERVE_LIMITS", "{}")
    monkeypatch.setenv("MEDCALC_SERVE_ACCESS", "{}")
    # the server's own limits are tighter than the CLI's, but for the cell, which rejects the same rows either way
    assert SERVE_READ["max_cell_chars"] == DEFAULT_LIMITS.max_cell_chars
    assert SERVE_READ["max_columns"] < DEFAULT_LIMITS.max_columns
    assert main(["serve", "--limit", "max_columns=4", "--limit", "max_sheet_cells=1_000"]) == 0
    read = json.loads(os.environ["MEDCALC_SERVE_LIMITS"])["read"]
    assert read == {**SERVE_READ, "max_columns": 4, "max_sheet_cells": 1000}
    from medcalc.serve.app import app_from_environment

    limited = TestClient(app_from_environment(), base_url=LOCAL)
    header = "person_id,settled_on,level,total"
    assert (
        limited.post(
            "/score?policy=jiujiang-residents", content=f"{header}\np1,2020-06-01,level2,20000\n".encode()
        ).json()["settled"]
        == 1
    )
    answer = limited.post(
        "/score?policy=jiujiang-residents", content=f"{header},age\np1,2020-06-01,level2,1,3\n".encode()
    )
    assert answer.status_code == 413
    assert answer.json() == {
        "status": 413,
        "field": "file",
        "read_limit": "max_columns",
        "error": "upload: the header has 5 columns, over the limit max_columns=4; raise it with "
        "--limit max_columns=N if the file is genuine",
    }
    for bad in ("max_columns", "max_colums=4", "max_columns=0", "max_columns=-1"):
        assert main(["serve", "--limit", bad]) == 2
        assert "max_colum" in capsys.readouterr().err  # parse_override's message, as score --limit says it


def test_serve_without_the_extra_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    code, _, err = cli(capsys, "serve")
    assert code == 2 and 'pip install "medcalc[serve]"' in err and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- GET /policies …


def test_policies_list_is_the_cli_list(client, capsys):
    _, out, _ = cli(capsys, "policy", "list", "--json")
    assert client.get("/policies").json() == json.loads(out)


def test_one_policy_has_rules_versions_levels_services_sources_and_quotes(client):
    data = client.get("/policies/huaibei-2025").json()
    assert data["chain"] == ["huaibei-2025", "anhui-2025"]
    assert data["levels"] == {"level1": "一级及以下医疗机构", "level3_province": "三级(省属)医疗机构"}
    assert data["services"] == {
        "day_ward": "日间病床",
        "general": "普通门诊",
        "large_general": "大额普通门诊",
        "two_diseases": "两病",
    }
    general = data["rules"]["outpatient.service.general"][0]
    assert general["since"] == "2025-01-01" and general["values"]["ratio"] == "60%"
    assert general["source"] == "huaibei-2025-news" and "年度报销限额150元" in general["quote"]
    assert data["sources"]["huaibei-2025-news"]["official"] is True
    assert all(v["quote"] for versions in data["rules"].values() for v in versions)
    missing = client.get("/policies/huaibei")
    assert missing.status_code == 404 and "huaibei-2025" in missing.json()["closest"]


def test_rules_in_force_on_a_day_are_policy_show(client, capsys):
    data = client.get("/policies/huaibei-2025/on/2025-03-01").json()
    _, out, _ = cli(capsys, "policy", "show", "huaibei-2025", "--on", "2025-03-01", "--json")
    shown = json.loads(out)
    assert {k: data[k] for k in shown} == shown
    assert data["inpatient"] is True
    two = next(s for s in data["services"] if s["code"] == "two_diseases")
    assert two["levels"] == [{"code": "level1", "label": "一级及以下医疗机构"}] and two["diseases"] == [
        "高血压",
        "糖尿病",
    ]
    assert {"code": "dibao", "label": "低保"} in data["choices"]["category"]
    bad = client.get("/policies/huaibei-2025/on/2025-02-30")
    assert (bad.status_code, bad.json()["field"]) == (422, "date")
    before = client.get("/policies/huaibei-2025/on/2019-01-01").json()
    assert before["inpatient"] is False and before["services"] == []


def test_region_on_a_day(client):
    data = client.get("/regions/九江/on/2020-06-01", params={"scheme": "居民"}).json()
    assert data["id"] == "jiujiang-residents" and data["levels"]["level2"] == "市内二级医疗机构"
    assert client.get("/regions/重庆/on/2023-06-01", params={"tier": "一档"}).json()["id"] == "chongqing-2023-tier1"
    several = client.get("/regions/九江/on/2020-06-01")
    assert several.status_code == 404 and several.json()["field"] == "region"
    assert client.get("/regions/九江/on/2020-06-01", params={"scheme": "学生"}).json()["field"] == "scheme"


def test_own_policy_folders_are_searched(tmp_path, monkeypatch):
    mine = own_policies(tmp_path / "mine" / "test")
    monkeypatch.setenv("MEDCALC_POLICIES", str(mine.parent))
    own = TestClient(create_app(), base_url=LOCAL)
    claim = {"settled_on": "2021-07-01", "level": "level1", "total": "10200"}
    assert own.post("/quote", json={"policy": "test-city", **claim}).json()["basic"] == "9500.00"
    assert own.post("/quote", json={"region": "测试市", **claim}).json()["policy"] == "test-city"
    assert "test-city" in {p["id"] for p in own.get("/policies").json()}
    assert INHERIT.is_dir()


def test_a_disabled_version_without_source_is_listed_with_none(tmp_path, monkeypatch):
    # test-city switches inpatient.modifier.poor off for 2021H1 with no source (a disabled version needs none):
    # GET /policies/{id} answered 500 on it (found by mypy: RuleVersion.citation is None there)
    mine = own_policies(tmp_path / "mine" / "test")
    monkeypatch.setenv("MEDCALC_POLICIES", str(mine.parent))
    answer = TestClient(create_app(), base_url=LOCAL, raise_server_exceptions=False).get("/policies/test-city")
    assert answer.status_code == 200
    poor = answer.json()["rules"]["inpatient.modifier.poor"]
    off = [v for v in poor if v["disabled"]]
    assert [(v["since"], v["until"], v["source"], v["quote"], v["verified"]) for v in off] == [
        ("2021-01-01", "2021-06-30", None, None, None)
    ]
    assert all(v["source"] == "fixture" for v in poor if not v["disabled"])


# ---------------------------------------------------------------- POST /score


def test_score_csv_body_is_the_cli_score(client, capsys, tmp_path):
    answer = client.post(
        "/score", params={"policy": "jiujiang-residents"}, content=CSV.encode(), headers={"content-type": "text/csv"}
    )
    assert answer.status_code == 200
    data = answer.json()
    (tmp_path / "c.csv").write_text(CSV, encoding="utf-8")
    _, out, _ = cli(capsys, "score", str(tmp_path / "c.csv"), "--policy", "jiujiang-residents", "--json")
    summary = json.loads(out)
    for key in ("policy", "rows", "settled", "rejected", "persons", "totals", "rejects_by_reason"):
        assert data[key] == summary[key], key
    assert [r["basic"] for r in data["results"]] == ["14480.00"]
    assert data["rejects"] == [{"row": 3, "claim_id": None, "field": "level", "reason": data["rejects"][0]["reason"]}]
    assert data["rejects"][0]["reason"].startswith("unknown hospital level")


def test_score_every_format_and_a_form_upload(client, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    jsonl = "\n".join(
        json.dumps(r, ensure_ascii=False)
        for r in [
            {"person_id": "p1", "settled_on": "2020-06-01", "level": "level2", "total": "2万", "self_funded": "1500"}
        ]
    )
    table = pa.table(
        {
            "psn_no": ["p1"],
            "setl_time": ["2020-06-01"],
            "level": ["level2"],
            "medfee_sumamt": pa.array([20000]),
            "fulamt_ownpay_amt": pa.array([1500]),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    bodies = [("claims.jsonl", jsonl.encode()), ("claims.parquet", sink.getvalue()), ("claims.csv", CSV.encode())]
    try:
        import xlsxwriter

        book_path = tmp_path / "c.xlsx"
        book = xlsxwriter.Workbook(str(book_path))
        sheet = book.add_worksheet("claims")
        for i, row in enumerate(
            [["person_id", "settled_on", "level", "total", "self_funded"], ["p1", "2020-06-01", "level2", 20000, 1500]]
        ):
            sheet.write_row(i, 0, row)
        book.close()
        pytest.importorskip("python_calamine")
        bodies.append(("claims.xlsx", book_path.read_bytes()))
    except ImportError:
        pass
    for name, body in bodies:
        form = client.post("/score?policy=jiujiang-residents", files={"file": (name, body)})
        assert form.status_code == 200, (name, form.text)
        assert form.json()["results"][0]["basic"] == "14480.00", name
        sniffed = client.post("/score?policy=jiujiang-residents", content=body)  # no name, no type: sniffed
        assert sniffed.json()["results"][0]["basic"] == "14480.00", name


def test_score_options_and_errors(client):
    parquet_int = io.BytesIO()
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(
        pa.table({"person_id": ["p"], "settled_on": ["2020-06-01"], "level": ["level2"], "total": pa.array([2000000])}),
        parquet_int,
    )
    refused = client.post("/score?policy=jiujiang-residents", content=parquet_int.getvalue())
    assert (
        refused.status_code == 422 and refused.json()["field"] == "total" and 'amounts="fen"' in refused.json()["error"]
    )
    fen = client.post("/score?policy=jiujiang-residents&amounts=fen", content=parquet_int.getvalue()).json()
    assert fen["results"][0]["total"] == "20000.00"
    national = client.post("/score?policy=jiujiang-residents&names=national", content=CSV.encode()).json()
    assert national["results"][0]["hifp_pay"] == "14480.00"
    chinese = client.post("/score?policy=jiujiang-residents&names=chinese", content=CSV.encode()).json()
    assert chinese["rejects"][0]["原因"].startswith("unknown hospital level")
    by_row = client.post(
        "/score",
        content=CSV.replace("person_id,", "region,person_id,")
        .replace("\np", "\n九江市,p")
        .replace(",2020", ",2020")
        .encode(),
    ).json()
    assert by_row["rejected"] == 2 and "has several policies" in next(iter(by_row["rejects_by_reason"]))
    by_id = client.post(
        "/score",
        content=CSV.replace("person_id,", "policy,person_id,")
        .replace("\np1", "\njiujiang-residents,p1")
        .replace("\np2", "\nnone-such,p2")
        .encode(),
    ).json()
    assert by_id["settled"] == 1 and "no policy with id 'none-such'" in by_id["rejects"][0]["reason"]
    for query, field in (
        ("policy=jiujiang-residents&amounts=cents", "amounts"),
        ("region=九江", "on"),
        ("policy=nope", "policy"),
        ("policy=jiujiang-residents&format=xls", "format"),
        ("policy=jiujiang-residents&sheet=a", "sheet"),
    ):
        answer = client.post(f"/score?{query}", content=CSV.encode())
        assert answer.json().get("field") == field, (query, answer.json())
    assert client.post("/score?policy=nope", content=CSV.encode()).status_code == 404
    unknown_column = client.post(
        "/score?policy=jiujiang-residents", content=b"person_id,settled_on,levle,total\np,2020-06-01,level2,1\n"
    )
    assert unknown_column.status_code == 422 and "column 'levle' is not a claim field" in unknown_column.json()["error"]
    assert client.post("/score?policy=jiujiang-residents", content=b"").json()["field"] == "file"
    named = client.post("/score?policy=jiujiang-residents", files={"file": ("claims.txt", CSV.encode())}).json()
    assert named["field"] == "format" and "give format=" in named["error"]
    assert client.post("/score?policy=jiujiang-residents", files={"other": ("c.csv", b"x")}).json()["field"] == "file"


# ---------------------------------------------------------------- schema, docs, the page, and what it never loads


def test_openapi_schema_and_docs_page(client):
    schema = client.get("/openapi.json").json()
    for path in (
        "/quote",
        "/score",
        "/policies",
        "/policies/{policy_id}",
        "/policies/{policy_id}/on/{day}",
        "/regions/{region}/on/{day}",
        "/health",
    ):
        assert path in schema["paths"], path
    assert schema["paths"]["/quote"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/QuoteRequest"
    }
    assert {"QuoteRequest", "ClaimIn", "SettlementOut", "ErrorOut", "ScoreOut"} <= set(schema["components"]["schemas"])
    docs = client.get("/docs")
    assert docs.status_code == 200 and "POST" in docs.text and "/policies/{policy_id}/on/{day}" in docs.text
    assert "<script" not in docs.text and "cdn" not in docs.text.lower()
    assert client.get("/health").json()["status"] == "ok"


def test_settlement_schema_has_the_fields_of_to_dict(client):
    from medcalc.serve.schema import SettlementOut

    data = client.post("/quote", json=QUICK).json()
    assert set(SettlementOut.model_fields) - {"view"} == set(data)


def test_the_page_is_served_with_nothing_from_another_host(client):
    page = client.get("/")
    assert page.status_code == 200 and "医保报销测算" in page.text and "医疗费总额" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    for name in ("quote.js", "quote.css", "favicon.svg"):
        assert client.get(f"/static/{name}").status_code == 200
    assert client.get("/favicon.ico").headers["content-type"] == "image/svg+xml"
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8").replace('xmlns="http://www.w3.org/2000/svg"', "")  # a name, not a fetch
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, path.name
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/%2e%2e/app.py").status_code == 404


def test_import_medcalc_never_loads_the_web_stack():
    code = (
        "import sys, medcalc, medcalc.cli, medcalc.serve, medcalc.serve.quotes, medcalc.serve.catalogue, "
        "medcalc.serve.uploads; from medcalc.cli import _parser; _parser(); "
        "print(sorted(m for m in ('fastapi', 'starlette', 'uvicorn', 'pydantic') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2]
    )
    assert done.stdout.strip() == "[]"

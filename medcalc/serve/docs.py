"""The API's docs page at ``/docs``: its OpenAPI schema as one HTML page, built on the server.

FastAPI's own pages load Swagger UI or ReDoc from a CDN; this one needs no other host (the
server may run where there is no network) and runs no script: every endpoint with its
summary, parameters, body and answers, and the schemas, each text escaped.
"""

from __future__ import annotations

import html
import json
from typing import Any

__all__ = ["docs_page"]


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _ref(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f'<a href="#schema-{_e(name)}">{_e(name)}</a>'
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(_ref(s) for s in schema[key])
    if schema.get("type") == "array":
        return "array of " + _ref(schema.get("items", {}))
    if "enum" in schema:
        return " | ".join(_e(json.dumps(v, ensure_ascii=False)) for v in schema["enum"])
    if "const" in schema:
        return _e(json.dumps(schema["const"], ensure_ascii=False))
    return _e(schema.get("format") and f"{schema.get('type')} ({schema['format']})" or schema.get("type", "any"))


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    out = [
        f'<section class="op"><h3><span class="method {method}">{method.upper()}</span> <code>{_e(path)}</code></h3>',
        f"<p>{_e(op.get('summary', ''))}</p>",
    ]
    if op.get("description"):
        out.append(f'<p class="note">{_e(op["description"])}</p>')
    params = op.get("parameters") or []
    if params:
        out.append(
            "<table><thead><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr></thead><tbody>"
        )
        for p in params:
            out.append(
                f"<tr><td><code>{_e(p['name'])}</code>{' *' if p.get('required') else ''}</td><td>{_e(p['in'])}</td>"
                f"<td>{_ref(p.get('schema', {}))}</td><td>{_e(p.get('description', ''))}</td></tr>"
            )
        out.append("</tbody></table>")
    body = op.get("requestBody")
    if body:
        kinds = ", ".join(
            f"<code>{_e(t)}</code>: {_ref(c.get('schema', {}))}" for t, c in body.get("content", {}).items()
        )
        out.append(f"<p><b>body</b> {_e(body.get('description', ''))}<br>{kinds}</p>")
    answers = []
    for code, answer in op.get("responses", {}).items():
        content = answer.get("content", {}).get("application/json", {})
        answers.append(
            f"<li><code>{_e(code)}</code> {_e(answer.get('description', ''))}"
            + (f" — {_ref(content['schema'])}" if content.get("schema") else "")
            + "</li>"
        )
    out.append('<ul class="answers">' + "".join(answers) + "</ul></section>")
    return "".join(out)


def docs_page(openapi: dict[str, Any]) -> str:
    """The HTML page of an OpenAPI document."""
    info = openapi.get("info", {})
    ops = [
        _operation(path, method, op)
        for path, item in openapi.get("paths", {}).items()
        for method, op in item.items()
        if method in ("get", "post", "put", "delete", "patch")
    ]
    schemas = openapi.get("components", {}).get("schemas", {})
    shown = []
    for name in sorted(schemas):
        text = json.dumps(schemas[name], ensure_ascii=False, indent=2)
        shown.append(
            f'<details id="schema-{_e(name)}"><summary><code>{_e(name)}</code></summary><pre>{_e(text)}</pre></details>'
        )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(info.get("title", "API"))} API 文档 docs</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/quote.css"></head>
<body class="docs"><header>
<h1>{_e(info.get("title", ""))} API <span class="en">{_e(info.get("version", ""))}</span></h1>
<p class="lead">{_e(info.get("description", ""))}</p>
<nav><a href="/">报销测算 quote page</a> · <a href="/openapi.json">openapi.json</a></nav></header>
<main><h2>接口 endpoints</h2>{"".join(ops)}<h2>数据结构 schemas</h2>{"".join(shown)}</main></body></html>
"""

"""Who may call ``medcalc serve``: the Host names it answers, and the web origins that may read its answers.

DNS rebinding: a web page can point its own name at 127.0.0.1 and then call a server there as
if it were its own site; the browser still sends the page's name as ``Host``. So the server
answers only requests whose ``Host`` names it: ``localhost``, ``127.0.0.1``, ``[::1]`` (any
port), the address it listens on unless that is a wildcard (0.0.0.0, ::), and the names given
with ``--allowed-host`` (``*``: any). Any other Host, or none, is 400 with the JSON error body.

CORS: by default no other origin may read an answer (no ``Access-Control-Allow-Origin`` is ever
sent) and a cross-origin preflight is 403 in JSON; ``--cors-origin`` names origins that may
(Starlette's CORSMiddleware answers for them). The quote page is the server's own origin and
needs neither.

``medcalc serve`` hands the settings to every worker process in ``ACCESS_VARIABLE``.
"""

from __future__ import annotations

import ipaddress
import json
import re

import attrs

__all__ = [
    "Access",
    "HostCheck",
    "CrossOrigin",
    "ACCESS_VARIABLE",
    "LOCAL_HOSTS",
    "host_name",
    "listen_hosts",
    "check_origin",
]

#: How ``medcalc serve`` hands ``Access`` to each worker process, as JSON.
ACCESS_VARIABLE = "MEDCALC_SERVE_ACCESS"
#: Names of this machine a Host header may always give.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
_ORIGIN = re.compile(r"^https?://[^/\s?#]+$")


def host_name(text: str) -> str:
    """A Host header's (or an address's) name without its port, lower case; an IPv6 address in brackets."""
    text = text.strip().lower()
    if text.startswith("["):
        return text[: text.find("]") + 1] if "]" in text else text
    if text.count(":") > 1:  # a bare IPv6 address (an --host or --allowed-host, not a Host header)
        try:
            return f"[{ipaddress.IPv6Address(text)}]"
        except ValueError:
            return text
    return text.split(":", 1)[0]


def listen_hosts(listen: str) -> tuple[str, ...]:
    """The names a Host header may give for a server listening on ``listen``: this machine's, and the address
    itself unless it is a wildcard."""
    name = host_name(listen)
    return LOCAL_HOSTS + (() if name in ("0.0.0.0", "[::]", "") or name in LOCAL_HOSTS else (name,))


def check_origin(text: str) -> str:
    """An origin as browsers send it (``https://desk.example:8443``, no path; lower case), or ``*``; ValueError else."""
    origin = text.strip().removesuffix("/").lower()
    if origin == "*" or _ORIGIN.match(origin):
        return origin
    raise ValueError(f"an origin is scheme://host[:port], as https://desk.example (got {text!r})")


@attrs.frozen
class Access:
    """The Host names answered (``*`` among them: any) and the origins that may read answers cross-origin."""

    hosts: tuple[str, ...] = LOCAL_HOSTS
    origins: tuple[str, ...] = ()

    def to_environment(self) -> str:
        return json.dumps({"hosts": list(self.hosts), "origins": list(self.origins)})

    @classmethod
    def from_environment(cls, text: str | None) -> Access:
        given = json.loads(text or "{}")
        return cls(
            hosts=tuple(host_name(h) if h != "*" else h for h in given.get("hosts", LOCAL_HOSTS)),
            origins=tuple(given.get("origins", ())),
        )


async def _answer(send, status: int, body: dict[str, object]) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})


def _header(scope, name: bytes) -> str | None:
    value = next((v for k, v in scope.get("headers", ()) if k == name), None)
    return None if value is None else value.decode("latin-1")


class HostCheck:
    """ASGI middleware: 400 in JSON for a request whose Host is not one of ``access.hosts``."""

    def __init__(self, app, access: Access) -> None:
        self.app, self.any = app, "*" in access.hosts
        self.hosts = frozenset(access.hosts)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or self.any:
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"host")
        if given is not None and host_name(given) in self.hosts:
            await self.app(scope, receive, send)
            return
        named = "no Host header" if given is None else f"Host {given!r} is not a name of this server"
        await _answer(
            send,
            400,
            {
                "status": 400,
                "field": "Host",
                "error": f"{named} (it answers {', '.join(sorted(self.hosts))}; "
                f"medcalc serve --allowed-host NAME adds one)",
            },
        )


class CrossOrigin:
    """ASGI middleware: the CORS policy. A preflight from an origin not in ``access.origins`` is 403 in JSON;
    with origins named, Starlette's CORSMiddleware answers their preflights and marks their answers."""

    def __init__(self, app, access: Access) -> None:
        self.origins = frozenset(access.origins)
        self.any = "*" in self.origins
        if self.origins:
            from starlette.middleware.cors import CORSMiddleware

            app = CORSMiddleware(
                app,
                allow_origins=sorted(self.origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Content-Type"],
                max_age=600,
            )
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            origin = _header(scope, b"origin")
            if (
                origin is not None
                and _header(scope, b"access-control-request-method") is not None
                and not (self.any or origin in self.origins)
            ):
                await _answer(
                    send,
                    403,
                    {
                        "status": 403,
                        "field": "Origin",
                        "error": f"cross-origin requests from {origin} are not allowed "
                        f"(medcalc serve --cors-origin ORIGIN allows one)",
                    },
                )
                return
        await self.app(scope, receive, send)

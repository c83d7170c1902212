"""Read deadlines on ``medcalc serve``'s connections: uvicorn's HTTP/1.1 protocols with two timeouts.

uvicorn closes a keep-alive connection left idle, but waits for ever on a request head that
trickles in a byte at a time, or on a body that stops: a few hundred such sockets hold the
server's connections and file descriptors (slowloris). These subclasses of uvicorn's two
protocols (httptools and h11) add two deadlines, ``Limits.header_timeout`` and
``Limits.body_timeout``:

- the head: a connection has ``header_timeout`` seconds from its opening, or from its last
  answer, to send a complete request head; else it is closed (answered 408 first if part of a
  head came);
- the body: a request whose body stops arriving for ``body_timeout`` seconds is answered 408
  (unless its answer has begun) and closed. Time during which the server itself has stopped
  reading (its buffer is full because the application reads slowly) does not count.

uvicorn takes the protocol by import string (``http="medcalc.serve.deadlines:Protocol"``), so
that each ``--workers`` process imports it; the seconds come from ``LIMITS_VARIABLE`` in the
environment, as the application's limits do.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from .limits import LIMITS_VARIABLE, Limits

if TYPE_CHECKING:
    from uvicorn.protocols.http.flow_control import FlowControl

    class _Protocol(asyncio.Protocol):
        """For the checker only: the parts of both uvicorn protocols that the mixin uses."""

        cycle: Any  # each protocol's own RequestResponseCycle (or None before the first request)
        transport: asyncio.Transport
        flow: FlowControl
        loop: asyncio.AbstractEventLoop

        def on_response_complete(self) -> None: ...

else:
    _Protocol = object

__all__ = ["H11Deadlines", "Protocol", "PROTOCOL"]


@functools.lru_cache(maxsize=4)
def _limits(text: str | None) -> Limits:
    return Limits.from_environment(text)


def _timeout_answer(message: str) -> bytes:
    body = json.dumps({"status": 408, "error": message}).encode()
    return (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\nconnection: close\r\n\r\n"
        + body
    )


class _Deadlines(_Protocol):
    """The two deadlines, over the parts both uvicorn protocols share: ``cycle`` (the request being
    served, None before the first), ``transport``, ``flow``, ``loop``, and the hooks below."""

    _head_timer: asyncio.TimerHandle | None = None
    _body_timer: asyncio.TimerHandle | None = None
    _head_started = False  # some bytes of the awaited head have come

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        limits = _limits(os.environ.get(LIMITS_VARIABLE))
        self._header_timeout, self._body_timeout = limits.header_timeout, limits.body_timeout

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._watch(False)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch(True)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch(False)

    def connection_lost(self, exc) -> None:
        self._stop_head()
        self._stop_body()
        super().connection_lost(exc)

    def _watch(self, data_came: bool) -> None:
        """Arm or stop the timers for the state the connection is now in."""
        cycle = self.cycle
        if self.transport is None or self.transport.is_closing():
            self._stop_head()
            self._stop_body()
        elif cycle is None or cycle.response_complete:  # awaiting a request head
            self._stop_body()
            if self._head_timer is None:
                self._head_started = False
                self._head_timer = self.loop.call_later(self._header_timeout, self._head_late)
            elif data_came:
                self._head_started = True
        elif cycle.more_body:  # reading a body: the deadline moves with every piece
            self._stop_head()
            if data_came or self._body_timer is None:
                self._stop_body()
                self._body_timer = self.loop.call_later(self._body_timeout, self._body_late)
        else:  # the request is in; the application answers in its own time
            self._stop_head()
            self._stop_body()

    def _stop_head(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _stop_body(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_started:
            self.transport.write(_timeout_answer(f"request head not complete within {self._header_timeout:g} s"))
        self.transport.close()

    def _body_late(self) -> None:
        self._body_timer = None
        cycle = self.cycle
        if self.transport.is_closing() or cycle is None or cycle.response_complete or not cycle.more_body:
            return
        if self.flow.read_paused:  # the server is not reading: the client is not the one late
            self._body_timer = self.loop.call_later(self._body_timeout, self._body_late)
            return
        if not cycle.response_started:
            self.transport.write(_timeout_answer(f"request body stopped for {self._body_timeout:g} s"))
        cycle.disconnected = True  # the application's next read is a disconnect, its answer dropped
        cycle.message_event.set()
        self.transport.close()


class H11Deadlines(_Deadlines, H11Protocol):
    """uvicorn's h11 protocol (pure Python) with the read deadlines."""


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools not installed: uvicorn itself would use h11
    Protocol: type = H11Deadlines
    PROTOCOL = "medcalc.serve.deadlines:H11Deadlines"
else:

    class HttpToolsDeadlines(_Deadlines, HttpToolsProtocol):
        """uvicorn's httptools protocol (the C parser, its default when installed) with the read deadlines."""

    __all__.append("HttpToolsDeadlines")
    Protocol = HttpToolsDeadlines
    #: What ``medcalc serve`` gives uvicorn as ``http``: an import string, so that every worker imports it.
    PROTOCOL = "medcalc.serve.deadlines:HttpToolsDeadlines"

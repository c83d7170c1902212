"""Text from policies and claims made safe for a terminal: control characters escaped.

Policy files are data from anywhere; a region name or a quote holding ESC, BEL, a carriage
return or a C1 control would reach the terminal raw and could clear the screen, move the
cursor or retitle the window. Every piece of data rendered for the terminal (rich tables and
trees, plain lines) passes through ``printable`` first, so it is shown, never obeyed.
JSON output needs nothing: ``json.dumps`` escapes control characters itself.
"""

from __future__ import annotations

import re

__all__ = ["printable", "markup"]

# C0 controls but newline and tab (multi-line notes keep their lines), DEL, C1 controls, and
# the bidirectional overrides and isolates (which can make text read differently than it is).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``text`` as a string whose control characters are written as ``\\xNN`` / ``\\uNNNN``."""
    return _CONTROL.sub(_escape, str(text))


def markup(text: object) -> str:
    """``text`` made printable and escaped for rich markup (so ``[link=…]`` in data stays text)."""
    from rich.markup import escape

    return escape(printable(text))

"""Reading what a policy may read: its TOML and its source texts, inside its policy root.

A policy is data from wherever the user keeps it, so every read is confined and total:

* a file is read only if, after resolving ``..`` and symlinks, it lies inside one of the
  *allowed roots* (the policy root the policy was loaded from, and the shipped policies);
  a name outside them is refused before anything is opened, so a policy cannot make
  medcalc answer questions about ``/etc/shadow``;
* every way reading can fail (no such file, a name too long, a byte that is not UTF-8,
  TOML nested too deep for the parser, an integer too long to convert) becomes a
  ``PolicyError`` naming the file and the key that cited it, never another exception.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path

from ..errors import NOTHING, PolicyError

__all__ = ["read_toml", "read_header", "read_text", "confined", "is_inside", "walk_toml", "MAX_FILE_BYTES"]

#: The largest policy or source file read (64 MB): far above any real one (the largest shipped
#: file is a few kB), small enough that a mistaken path cannot exhaust memory.
MAX_FILE_BYTES = 64 << 20


def is_inside(path: Path, roots: Iterable[Path]) -> bool:
    """Whether a resolved path lies inside one of the (resolved) roots."""
    return any(path == root or path.is_relative_to(root) for root in roots)


def confined(shown: str, key: str, value: object, base: Path, roots: tuple[Path, ...], what: str) -> Path:
    """``value`` as a path relative to ``base``, resolved, and inside the allowed roots.

    Raises a PolicyError at ``key`` for a value that is not a path, that leaves the roots
    (absolute, ``..``, a symlink out), or that cannot be resolved. Nothing outside the roots
    is opened; resolving only follows the links of the path's own components.
    """
    allowed = f"{what}: a path (relative to this file) to a file inside the policy root ({_roots_text(roots)})"
    if not isinstance(value, str) or not value.strip() or "\0" in value or len(value) > 1024:
        raise PolicyError(shown, key, value, allowed)
    try:
        target = (base / value).resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a name the system refuses
        raise PolicyError(shown, key, value, allowed) from None
    if not is_inside(target, roots):
        raise PolicyError(shown, key, value, allowed + "; it resolves outside (after '..' and symlinks)")
    try:
        exists = target.is_file()
    except (OSError, ValueError):  # a name too long, a component that is a file
        exists = False
    if not exists:
        raise PolicyError(shown, key, value, allowed + ", that exists")
    return target


def _roots_text(roots: tuple[Path, ...]) -> str:
    return " or ".join(str(r) for r in roots) or "none"


def _read_bytes(path: Path, shown: str, key: str, found: object) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise PolicyError(shown, key, found, "a file that exists") from None
    except (OSError, ValueError) as exc:  # a directory, no permission, a name too long
        raise PolicyError(
            shown,
            key,
            found,
            f"a readable file ({exc.strerror or exc})" if isinstance(exc, OSError) else "a readable file",
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise PolicyError(shown, key, found, f"a file of at most {MAX_FILE_BYTES >> 20} MB")
    return data


def _decode(data: bytes, shown: str, key: str, found: object) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(
            shown, key, found, f"UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start} is not)"
        ) from None


def read_toml(path: Path, shown: str) -> dict:
    """A policy or reform file's TOML, or a PolicyError naming the file."""
    data = _read_bytes(path, shown, "", NOTHING)
    text = _decode(data, shown, "", NOTHING)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(shown, "", NOTHING, f"not valid TOML: {exc}") from None
    except RecursionError:  # arrays or inline tables nested hundreds deep
        raise PolicyError(shown, "", NOTHING, "valid TOML nested at most a few hundred levels deep") from None
    except ValueError as exc:  # an integer of thousands of digits (int() refuses to convert it)
        raise PolicyError(shown, "", NOTHING, f"valid TOML ({exc})") from None


#: A file's ``[policy]`` or ``[reform]`` table header, and the next table header after it.
_HEADER = re.compile(r"^[ \t]*\[(policy|reform)\][ \t]*(?:#.*)?$", re.MULTILINE)
_NEXT_TABLE = re.compile(r"^[ \t]*\[", re.MULTILINE)
#: ``id = "..."`` as a plain basic string on a line of its own (anything else is parsed).
_PLAIN_ID = re.compile(r'^[ \t]*id[ \t]*=[ \t]*"([^"\\\n]*)"[ \t]*(?:#.*)?$', re.MULTILINE)


def read_header(path: Path, shown: str) -> dict:
    """Enough of a policy or reform file to know its id: ``{"policy" | "reform": {"id": ...}}``
    read straight from the table when it states ``id = "..."`` plainly on one line; else the
    text up to that table's end, parsed, when it parses on its own; else the whole file
    (``read_toml``). Finding a policy by id reads every file's header, and parsing whole
    files was a sixth of the time a quote took."""
    text = _decode(_read_bytes(path, shown, "", NOTHING), shown, "", NOTHING)
    header = _HEADER.search(text)
    if header is not None:
        after = _NEXT_TABLE.search(text, header.end())
        end = after.start() if after else len(text)
        # The usual header needs no parser: its id line comes before any multi-line string (which
        # could hide lines like a header or an id; the notes after it often are one).
        strings = min((at for at in (text.find('"""'), text.find("'''")) if at >= 0), default=len(text))
        plain = _PLAIN_ID.findall(text, header.end(), min(end, strings))
        if len(plain) == 1 and header.start() < strings:
            return {header.group(1): {"id": plain[0]}}
        try:  # (a cut inside a multi-line string fails to parse: then the whole file is read)
            data = tomllib.loads(text[:end])
        except (tomllib.TOMLDecodeError, RecursionError, ValueError):
            pass
        else:
            meta = data.get("policy") or data.get("reform")
            if isinstance(meta, dict) and isinstance(meta.get("id"), str):
                return data
    return read_toml(path, shown)


def read_text(path: Path, shown: str, key: str, found: object) -> str:
    """A source's text (UTF-8), or a PolicyError at the key that cites it."""
    return _decode(_read_bytes(path, shown, key, found), shown, key, found)


def walk_toml(root: Path, *, max_depth: int, max_files: int, skip: str = "sources") -> tuple[list[Path], bool]:
    """The ``*.toml`` files under a root (sorted), to ``max_depth`` folders down, without following
    symlinked folders or entering hidden ones or ``skip``; at most ``max_files`` (then True)."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        depth = len(Path(folder).relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != skip and depth < max_depth)
        for name in sorted(files):
            if name.endswith(".toml") and not name.startswith("."):
                found.append(Path(folder) / name)
                if len(found) >= max_files:
                    return sorted(found), True
    return sorted(found), False

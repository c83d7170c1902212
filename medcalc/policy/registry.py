"""Finding policies: the ones shipped with medcalc, and files or folders a user names.

Shipped policies live in the wheel as ``medcalc/policies`` (from the repository's top
level ``policies/``). Nothing is read at import time; every lookup also accepts
explicit paths.
"""

from __future__ import annotations

import difflib
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable

from ..errors import PolicyNotFound
from .loader import load_file
from .model import Policy

__all__ = ["shipped_root", "load_policy", "policy_files", "list_policies"]


def shipped_root() -> Path:
    """The folder of shipped policies: inside the installed package, else the source tree's."""
    packaged = Path(str(resources.files("medcalc"))) / "policies"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "policies"


def policy_files(roots: Iterable[Path]) -> dict[str, Path]:
    """Policy id -> file, for every readable policy file under the given folders (first root wins).

    Files that are not valid TOML are skipped here; loading one by path reports why.
    """
    found: dict[str, Path] = {}
    for root in roots:
        for policy_id, path in _ids_under(Path(root).resolve()):
            found.setdefault(policy_id, path)
    return found


@lru_cache(maxsize=16)
def _ids_under(root: Path) -> tuple[tuple[str, Path], ...]:
    out = []
    for path in sorted(root.rglob("*.toml")):
        if "sources" in path.relative_to(root).parts:
            continue
        try:
            with open(path, "rb") as handle:
                meta = tomllib.load(handle).get("policy", {})
        except (tomllib.TOMLDecodeError, OSError):
            continue
        if isinstance(meta, dict) and isinstance(meta.get("id"), str):
            out.append((meta["id"], path))
    return tuple(out)


def _roots(search: Iterable[Path | str] | None, near: Path | None = None) -> list[Path]:
    roots = [Path(p) for p in (search or ())]
    if near is not None:
        roots.append(near)
    roots.append(shipped_root())
    return roots


@lru_cache(maxsize=64)
def _load_cached(path: Path, roots: tuple[Path, ...], shown: str) -> Policy:
    # Folders are scanned for ids only when the file extends another policy.
    return load_file(path, lambda parent_id: policy_files(roots).get(parent_id), shown)


def load_policy(name: str | Path, *, search: Iterable[Path | str] | None = None) -> Policy:
    """Load a policy by id (``"huaibei-2025"``) or by path to a TOML file.

    ``search`` adds folders to look in for the id and for the policies it extends,
    before the shipped ones. Loaded policies are cached per (file, search folders).
    """
    text = str(name)
    path = Path(text)
    if text.endswith(".toml") or path.is_file():
        if not path.is_file():
            raise PolicyNotFound(f"{text}: no such policy file")
        roots = tuple(p.resolve() for p in _roots(search, path.resolve().parent))
        return _load_cached(path.resolve(), roots, text)
    roots = tuple(p.resolve() for p in _roots(search))
    files = policy_files(roots)
    if text in files:
        return _load_cached(files[text], roots, _display(files[text]))
    close = difflib.get_close_matches(text, list(files), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known ids: {', '.join(sorted(files))}"
    raise PolicyNotFound(f"no policy with id {text!r}{hint}")


def _display(path: Path) -> str:
    root = shipped_root().resolve()
    try:
        return "policies/" + str(path.relative_to(root))
    except ValueError:
        return str(path)


def list_policies(*, search: Iterable[Path | str] | None = None) -> list[Policy]:
    """Every policy found (shipped and under ``search``), loaded, sorted by id."""
    return [load_policy(pid, search=search) for pid in sorted(policy_files(_roots(search)))]

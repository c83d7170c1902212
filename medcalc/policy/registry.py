"""Finding policies: the ones shipped with medcalc, and files or folders a user names.

Shipped policies live in the wheel as ``medcalc/policies`` (from the repository's top
level ``policies/``). Nothing is read at import time; every lookup also accepts
explicit paths. Lookups by id and by region search, in order: the ``search=`` folders a
call names, the folders of the ``MEDCALC_POLICIES`` environment variable, then the
shipped policies (the first folder holding an id wins).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import difflib
import os
import warnings
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..errors import PolicyError, PolicyNotFound
from .files import is_inside, read_header, read_toml, walk_toml
from .loader import load_file
from .model import ADMISSION_RULES, Policy
from .reform import is_reform, load_reform, one_line_reform

__all__ = [
    "shipped_root",
    "load_policy",
    "policy_by_id",
    "adjusted_policy",
    "policy_files",
    "policy_root",
    "list_policies",
    "find_policy",
    "PolicyWarning",
    "clear_caches",
    "POLICIES_VARIABLE",
    "env_folders",
    "search_folders",
]

#: Folders of your own policies (``os.pathsep``-separated), searched after a call's
#: ``search=`` folders and before the shipped policies.
POLICIES_VARIABLE = "MEDCALC_POLICIES"


def shipped_root() -> Path:
    """The folder of shipped policies: inside the installed package, else the source tree's."""
    packaged = Path(str(resources.files("medcalc"))) / "policies"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "policies"


def policy_files(roots: Iterable[Path], *, reforms: bool = False) -> dict[str, Path]:
    """Policy id -> file, for every readable policy file under the given folders (first root wins).

    With ``reforms``, reform files too (loadable by id, but never listed or found by region).
    A file that cannot be read as a policy header is skipped with a warning naming it (it
    must not hide its neighbours); loading it by path reports why in full.
    """
    found: dict[str, Path] = {}
    for root in roots:
        for policy_id, path, a_reform in _ids_under(Path(root).resolve()):
            if reforms or not a_reform:
                found.setdefault(policy_id, path)
    return found


#: How far a scan for ids goes below a policy root: policies sit in region folders (the
#: shipped ones one level down), so a policy kept in a home directory does not make
#: medcalc parse everything under it.
SCAN_DEPTH, SCAN_FILES = 3, 2000


class PolicyWarning(UserWarning):
    """A file skipped while looking for policies by id."""


@lru_cache(maxsize=16)
def _ids_under(root: Path) -> tuple[tuple[str, Path, bool], ...]:
    out = []
    paths, truncated = walk_toml(root, max_depth=SCAN_DEPTH, max_files=SCAN_FILES) if root.is_dir() else ([], False)
    if truncated:
        warnings.warn(
            f"{root}: looked for policies in the first {SCAN_FILES} .toml files only", PolicyWarning, stacklevel=2
        )
    for path in paths:
        resolved = path.resolve()
        if not is_inside(resolved, (root,)):
            warnings.warn(
                f"{path}: skipped: a link to a file outside the policy root {root}", PolicyWarning, stacklevel=2
            )
            continue
        try:
            data = read_header(resolved, str(path))
        except PolicyError as exc:
            warnings.warn(f"skipped {exc}", PolicyWarning, stacklevel=2)
            continue
        meta = data.get("policy") or data.get("reform") or {}
        if isinstance(meta, dict) and isinstance(meta.get("id"), str):
            out.append((meta["id"], resolved, "reform" in data))
    return tuple(out)


def env_folders() -> tuple[Path, ...]:
    """The folders ``MEDCALC_POLICIES`` names, in order; empty entries are skipped.

    Read on every lookup (not at import), so a change applies to the next one. A folder that
    does not exist raises PolicyNotFound naming the variable and the folder.
    """
    text = os.environ.get(POLICIES_VARIABLE, "")
    return tuple(_folder(part, POLICIES_VARIABLE) for part in text.split(os.pathsep) if part.strip())


def search_folders(search: Iterable[Path | str] | None = None) -> tuple[Path, ...]:
    """Every folder a lookup with this ``search=`` reads, in order, resolved: ``search``, then
    ``MEDCALC_POLICIES``, then the shipped policies (always last)."""
    return tuple(_roots(search))


def _folder(text: Path | str, what: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        # a mistyped folder would otherwise only show up as "no policy with id ..."
        problem = "not a folder" if path.exists() else "no such folder"
        raise PolicyNotFound(f"{what}: {text}: {problem}")
    return path


def _roots(search: Iterable[Path | str] | None, near: Path | None = None) -> list[Path]:
    roots = [_folder(p, "search") for p in (search or ())]
    roots.extend(env_folders())
    if near is not None:
        roots.append(near)
    shipped = shipped_root().resolve()
    # a folder given twice is scanned once; the shipped one stays last (callers rely on it)
    return [p for p in dict.fromkeys(r.resolve() for r in roots) if p != shipped] + [shipped]


def _where(roots: Iterable[Path]) -> str:
    """Where a lookup looked, for an error that found nothing: "/a, /b or the shipped policies"."""
    shipped = shipped_root().resolve()
    own = list(dict.fromkeys(str(r) for r in roots if Path(r).resolve() != shipped))
    return (", ".join(own) + " or " if own else "") + "the shipped policies"


def policy_root(path: Path, search: Iterable[Path] = ()) -> Path:
    """The policy root of a (resolved) file: the first search folder or the shipped policies that
    hold it, else its own folder. It may read only files inside this root (or the shipped ones)."""
    for root in (*search, shipped_root().resolve()):
        if is_inside(path, (root,)):
            return root
    return path.parent


#: Files being loaded now (a reform's base is loaded inside the reform): a base that is the
#: reform itself, or a reform built on it, is a cycle, refused instead of recursing forever.
_LOADING: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar("medcalc_policy_loading", default=())


@lru_cache(maxsize=64)
def _load_cached(path: Path, roots: tuple[Path, ...], shown: str) -> Policy:
    search = roots[:-1]  # the shipped root is always last
    allowed = tuple(dict.fromkeys((policy_root(path, search), roots[-1])))
    data = read_toml(path, shown)  # parsed once, then read as a policy or as a reform
    if not is_reform(data):
        # Folders are scanned for ids only when the file extends another policy.
        # a parent found in another policy folder reads inside that folder, as a reform's base does
        return load_file(
            path,
            lambda parent_id: policy_files(roots).get(parent_id),
            shown,
            allowed,
            data,
            searched=_where(roots),
            roots_of=lambda parent: tuple(dict.fromkeys((policy_root(parent, search), roots[-1]))),
        )
    loading = _LOADING.get()
    token = _LOADING.set(loading + (path,))
    try:
        return load_reform(path, lambda base: _load_base(base, search, loading + (path,)), shown, allowed, data)
    finally:
        _LOADING.reset(token)


def _load_base(base: str | Path, search: tuple[Path, ...], loading: tuple[Path, ...]) -> Policy:
    """A reform's base (an id, or a path the reform checked lies inside its policy root)."""
    target = base if isinstance(base, Path) else policy_files(_roots(search), reforms=True).get(base)
    if target is not None and target.resolve() in loading:
        chain = " -> ".join(p.name for p in (*loading, target.resolve()))
        raise PolicyNotFound(f"a base other than the reform itself or a reform built on it (cycle: {chain})")
    return load_policy(base, search=search)


def load_policy(name: str | Path, *, search: Iterable[Path | str] | None = None) -> Policy:
    """Load a policy by id (``"huaibei-2025"``) or by path to a TOML file.

    ``search`` adds folders to look in for the id and for the policies it extends, before
    those of ``MEDCALC_POLICIES`` and the shipped ones (see ``search_folders``). Loaded
    policies are cached per (file, search folders).
    A policy reads only files inside its policy root (see ``policy_root``).
    """
    text = str(name)
    path = Path(text)
    if text.endswith(".toml") or _is_file(path):
        if not _is_file(path):
            raise PolicyNotFound(f"{text}: no such policy file")
        resolved = path.resolve()
        searched = tuple(p.resolve() for p in _roots(search)[:-1])
        root = policy_root(resolved, searched)
        shipped = shipped_root().resolve()
        roots = tuple(r for r in dict.fromkeys((*searched, root)) if r != shipped) + (shipped,)
        return _load_cached(resolved, roots, text)
    return policy_by_id(text, search=search, named_by_data=False)


def policy_by_id(policy_id: str, *, search: Iterable[Path | str] | None = None, named_by_data: bool = True) -> Policy:
    """The policy (or reform) with this id in the search folders, never a file: for a policy named
    by data (a claims file's ``policy`` column), which must not make medcalc open a path of its
    choosing. Nothing is opened but the folders' own policy files; a path is just an unknown id
    (and, ``named_by_data``, the error says that a file names its policies by id)."""
    roots = tuple(p.resolve() for p in _roots(search))
    files = policy_files(roots, reforms=True)
    if policy_id in files:
        return _load_cached(files[policy_id], roots, _display(files[policy_id]))
    close = difflib.get_close_matches(policy_id, list(files), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known ids: {', '.join(sorted(policy_files(roots)))}"
    shown = policy_id if len(policy_id) <= 80 else policy_id[:60] + "…"
    path_note = (
        " (a file names its policies by id, never by a file path)" if named_by_data and _path_like(policy_id) else ""
    )
    raise PolicyNotFound(f"no policy with id {shown!r}{path_note} in {_where(roots)}{hint}")


def _path_like(text: str) -> bool:
    """Whether text is written as a path (judged by its characters alone: nothing is looked at on disk)."""
    return text.endswith(".toml") or "/" in text or "\\" in text or text.startswith((".", "~"))


def clear_caches() -> None:
    """Forget loaded policies, scanned folders and source texts (for tools that edit files in place)."""
    from .loader import _SOURCE_TEXT_CACHE

    _load_cached.cache_clear()
    _ids_under.cache_clear()
    _SOURCE_TEXT_CACHE.clear()


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long, an embedded NUL
        return False


def _display(path: Path) -> str:
    root = shipped_root().resolve()
    try:
        return "policies/" + str(path.relative_to(root))
    except ValueError:
        return str(path)


def list_policies(*, search: Iterable[Path | str] | None = None) -> list[Policy]:
    """Every policy found (under ``search``, ``MEDCALC_POLICIES`` and shipped), loaded, sorted by id."""
    return [load_policy(pid, search=search) for pid in sorted(policy_files(_roots(search)))]


def _names(policy: Policy) -> set[str]:
    names = {policy.id.lower(), policy.region.lower(), *(a.lower() for a in policy.aliases)}
    for suffix in ("市", "县", "省", "区"):
        names |= {n[: -len(suffix)] for n in list(names) if n.endswith(suffix) and len(n) > len(suffix) + 1}
    return names


def find_policy(
    region: str,
    on: dt.date,
    *,
    scheme: str | None = None,
    tier: str | None = None,
    search: Iterable[Path | str] | None = None,
) -> Policy:
    """The policy of a region (Chinese name, pinyin alias or id) in force on a day.

    Among the policies whose names match and which settle inpatient claims on ``on``, the
    most specific (longest ``extends`` chain) wins; a tie (residents and employees, two
    contribution tiers) must be settled with ``scheme`` / ``tier``. Errors list what exists.
    ``search`` adds folders as for ``load_policy`` (before ``MEDCALC_POLICIES`` and the shipped ones).
    """
    wanted = region.strip().lower()
    roots = _roots(search)
    policies = list_policies(search=search)
    named = [p for p in policies if wanted in _names(p)]
    if not named:
        every = sorted({n for p in policies for n in _names(p)})
        close = difflib.get_close_matches(wanted, every, n=4, cutoff=0.4)
        hint = f"; closest: {', '.join(close)}" if close else ""
        raise PolicyNotFound(f"no policy for region {region!r} in {_where(roots)}{hint} (see `medcalc policy list`)")
    if scheme is not None:
        named = [p for p in named if p.scheme == scheme] or _none(region, f"scheme {scheme!r}", named)
    if tier is not None:
        named = [p for p in named if p.tier == tier] or _none(region, f"tier {tier!r}", named)
    covering = [p for p in named if any(a <= on and (b is None or on <= b) for a, b in p.coverage(ADMISSION_RULES))]
    if not covering:
        spans = "; ".join(
            f"{p.id} covers " + (", ".join(f"{a} to {b or 'open'}" for a, b in p.coverage(ADMISSION_RULES)) or "no day")
            for p in named
        )
        raise PolicyNotFound(f"no policy for region {region!r} settles claims on {on}: {spans}")
    deepest = max(len(p.chain) for p in covering)
    best = [p for p in covering if len(p.chain) == deepest]
    if len(best) > 1:
        options = ", ".join(f"{p.id} ({p.scheme}{' ' + p.tier if p.tier else ''})" for p in best)
        raise PolicyNotFound(
            f"region {region!r} on {on} has several policies: {options}; choose with --scheme or --tier, or --policy"
        )
    return best[0]


def _none(region: str, what: str, named: list[Policy]) -> list[Policy]:
    have = ", ".join(sorted({f"{p.id} ({p.scheme}{' ' + p.tier if p.tier else ''})" for p in named}))
    raise PolicyNotFound(f"region {region!r} has no policy with {what}; it has {have}")


def adjusted_policy(
    base: Policy | str,
    adjustments: list[str],
    *,
    since: dt.date | str | None = None,
    id: str = "adjusted",
    author: str = "medcalc user",
) -> Policy:
    """A reform given as one-line adjustments, e.g. ``"inpatient.ratio[level1] +5"``, of a policy
    given loaded or by id or path (``medcalc.policy.reform.one_line_reform``)."""
    policy = base if isinstance(base, Policy) else load_policy(base)
    return one_line_reform(policy, adjustments, since=since, id=id, author=author)

"""Which policy a request means: by id among the configured folders, or by region and date.

A request names a policy by id only, never by a file path: ``load_policy`` would read a path
(``x.toml``, a file in the server's working folder), so an id is looked up among the ids of
the configured folders (``--policies``, ``MEDCALC_POLICIES``, then the shipped policies) and a
text that could be read as a path is refused. Regions are looked up as the CLI does
(``find_policy``), which reads only those folders too.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..claims import parse_day
from ..errors import ClaimError, PolicyNotFound
from ..policy.model import Policy
from ..policy.registry import POLICIES_VARIABLE, find_policy, load_policy, policy_files, search_folders
from ..vocabulary import code_for
from .problems import ApiError

__all__ = ["known_ids", "policy_by_id", "choose_policy", "day_of", "looks_like_a_path", "check_policy_ids"]


def known_ids() -> dict[str, Path]:
    """Policy (and reform) id -> file, over the configured folders, first folder first."""
    return policy_files(search_folders(), reforms=True)


def looks_like_a_path(text: str) -> bool:
    """Whether ``load_policy`` could read ``text`` as a file rather than look it up as an id."""
    if text.endswith(".toml") or "/" in text or "\\" in text or text.startswith((".", "~")):
        return True
    try:
        return os.path.lexists(text)
    except (OSError, ValueError):  # too long, a NUL: not a file, and no id either
        return True


def policy_by_id(text: str, field: str = "policy") -> Policy:
    """The policy with this id in the configured folders; 404 with the closest ids if none."""
    if not isinstance(text, str) or not text.strip():
        raise ApiError(422, f"{field}: a policy id such as jiujiang-residents (see GET /policies)", field)
    if looks_like_a_path(text):
        raise ApiError(
            422,
            f"{field}: {text!r} is not a policy id; the API names policies by id, never by a file "
            "path (see GET /policies)",
            field,
        )
    try:
        return _loaded(os.environ.get(POLICIES_VARIABLE), text)
    except PolicyNotFound as exc:
        closest = difflib.get_close_matches(text, list(known_ids()), n=3, cutoff=0.5)
        raise ApiError(404, str(exc), field, closest=closest) from None


# A request names its policy each time: looking an id up scans the folders' ids and resolves
# their paths (about 0.8 ms, as long as settling the claim), so the policies found are kept per
# configuration (the value of MEDCALC_POLICIES), as medcalc's registry keeps the files it has
# loaded and the ids it has scanned. Lookups that fail are not kept.


@lru_cache(maxsize=256)
def _loaded(folders: str | None, policy_id: str) -> Policy:
    return load_policy(policy_id)  # an id: looked up in the configured folders, with the CLI's message if absent


@lru_cache(maxsize=4096)
def _found(folders: str | None, region: str, on: dt.date, scheme: str | None, tier: str | None) -> Policy:
    return find_policy(region, on, scheme=scheme, tier=tier)


def day_of(value: Any, field: str) -> dt.date:
    """A date as the CLI reads one (2025-03-01, 20250301, 2025/3/1, 2025年3月1日)."""
    try:
        return parse_day(value)
    except (ValueError, TypeError):
        raise ApiError(422, f"{field}: must be a date such as 2025-03-01 (got {value!r})", field) from None


def _word(field: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(422, f"{field}: must be text (got {value!r})", field)
    return value


def choose_policy(request: Mapping[str, Any], day: dt.date | None) -> Policy:
    """The policy of a request: ``policy`` (an id), or ``region`` on ``on`` (default ``day``, the
    claim's), with ``scheme`` (居民 / 职工 or the codes) and ``tier`` where a region has several."""
    policy, region = _word("policy", request.get("policy")), _word("region", request.get("region"))
    if policy and region:
        raise ApiError(422, "give policy or region, not both", "policy")
    if policy:
        return policy_by_id(policy)
    if not region:
        raise ApiError(422, "policy or region is required", "policy")
    on = day_of(request["on"], "on") if request.get("on") not in (None, "") else day
    if on is None:
        raise ApiError(422, "region needs a date: on, or the claim's settled_on", "on")
    scheme = _word("scheme", request.get("scheme"))
    try:
        scheme = code_for("scheme", scheme) if scheme else None
    except ClaimError as exc:
        raise ApiError(422, str(exc), "scheme") from None
    try:
        return _found(os.environ.get(POLICIES_VARIABLE), region, on, scheme, _word("tier", request.get("tier")))
    except PolicyNotFound as exc:
        raise ApiError(404, str(exc), "region") from None


def check_policy_ids(values: list[Any]) -> None:
    """Refuse an upload whose ``policy`` column holds a text that would be read as a file.

    Ids of the configured folders pass; any other text that is not a path passes too and its
    rows are rejected with the CLI's reason (no policy with that id) when the table is settled.
    """
    for value in values:
        if isinstance(value, str) and looks_like_a_path(value):
            raise ApiError(
                422,
                f"policy column: {value!r} is not a policy id; an upload names policies by id, never "
                "by a file path (see GET /policies)",
                "policy",
            )

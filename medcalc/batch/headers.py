"""A claim file's header as a bureau writes it, matched to medcalc's fields.

A real sheet's header is not medcalc's: ``人员编号 `` with a trailing space, ``医疗费总额(元)`` with
its unit, ``醫療費總額`` in traditional characters, ``ＰＳＮ＿ＮＯ`` in full-width forms, and columns
medcalc has no use for (姓名, 备注, 科室). Each header is normalized before it is matched:

- Unicode NFKC (full-width letters, digits and brackets as ASCII), no spaces anywhere, ASCII
  letters in lower case, traditional characters as simplified (``medcalc.vocabulary.fold``);
- a unit in brackets at the end, ``(元)``, ``（万元）``, ``[元]``, ``【元】``, ``(yuan)``, is taken off
  and kept: the column's amounts are in that unit (a number under ``(万元)`` is 万 yuan, and an
  integer column whose header says ``(元)`` is yuan whatever ``amounts`` says).

A header that matches no field is not an error: the column is passed through and reported as
not used, except when it is within a small edit distance of a known name (``totl``, ``全自费金``):
then the file is refused with "did you mean", since a misspelt optional column would otherwise
read as not given. Names of a settled file's results are recognized and ignored.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

import attrs

from ..errors import MedcalcError
from ..vocabulary import fold

__all__ = ["HEADER_SCAN", "Header", "normalize", "match_headers", "HeaderMatch", "edit_distance"]

#: Rows looked at for a header naming claim columns (title rows above a bureau's header are skipped).
HEADER_SCAN = 30

#: A unit in brackets closing a header: 元 or 万元 (or yuan), in any bracket a sheet uses.
_UNIT = re.compile(r"[(\[【〔]\s*(万元|元|yuan|万)\s*[)\]】〕]$")


@attrs.frozen
class Header:
    """A header as matched: its normalized ``key`` and the ``unit`` its brackets state ("元",
    "万元" or None)."""

    key: str
    unit: str | None = None


def normalize(name: str) -> Header:
    """The key a header is matched by, and the unit it states (see the module docstring)."""
    text = unicodedata.normalize("NFKC", str(name))
    text = fold(text)  # no spaces, simplified characters, lower case
    unit = None
    match = _UNIT.search(text)
    if match and match.start() > 0:
        unit = "万元" if match[1] in ("万元", "万") else "元"
        text = text[: match.start()]
    return Header(text, unit)


@attrs.frozen
class HeaderMatch:
    """What a header says: ``fields`` (the column as named -> medcalc field), the ``units`` stated in
    brackets (field -> "元" / "万元"), the columns ``unused`` (passed through, in file order) and
    the ``ignored`` ones (a settled file's results)."""

    fields: dict[str, str]
    units: dict[str, str]
    unused: tuple[str, ...]
    ignored: tuple[str, ...]


def match_headers(names: Iterable[str], known: Mapping[str, str], ignored: Iterable[str]) -> HeaderMatch:
    """Match a file's column ``names`` to fields: ``known`` maps every accepted spelling (medcalc's
    names, the national interface's, Chinese labels) to its field, ``ignored`` lists the names of
    results. A field given by two columns, or a name close to a known one, is a MedcalcError."""
    keys = {normalize(k).key: v for k, v in known.items()}
    spelled = {normalize(k).key: k for k in known}  # a key as medcalc spells it, for "did you mean"
    skipped = {normalize(k).key for k in ignored}
    fields: dict[str, str] = {}
    units: dict[str, str] = {}
    unused: list[str] = []
    dropped: list[str] = []
    by_field: dict[str, str] = {}
    for name in names:
        header = normalize(name)
        field = keys.get(header.key)
        if field is None:
            if header.key in skipped:
                dropped.append(name)
                continue
            close = closest(header.key, keys)
            if close is not None:
                raise MedcalcError(
                    f"column {name!r} is not a claim field; did you mean {spelled[close]!r}? (rename the column, "
                    "or give it a name further from medcalc's if it is something else)"
                )
            unused.append(name)
            continue
        if field in by_field:
            raise MedcalcError(f"column {name!r} gives {field!r} a second time (also {by_field[field]!r})")
        by_field[field] = name
        fields[name] = field
        if header.unit is not None:
            units[field] = header.unit
    return HeaderMatch(fields, units, tuple(unused), tuple(dropped))


def closest(key: str, keys: Iterable[str]) -> str | None:
    """The known name a header key is a likely misspelling of: within one edit of a name of at
    least three characters, or two of one of at least eight; None if none or if it is too short
    to tell (two characters: 姓名 is no misspelling of 年龄)."""
    if len(key) < 3:
        return None
    best: tuple[int, str] | None = None
    for known in keys:
        if abs(len(known) - len(key)) > 2 or len(known) < 3:
            continue
        allowed = 2 if min(len(known), len(key)) >= 8 else 1
        distance = edit_distance(key, known, allowed)
        if distance <= allowed and (best is None or distance < best[0]):
            best = (distance, known)
    return None if best is None else best[1]


def edit_distance(a: str, b: str, bound: int = 1 << 30) -> int:
    """Edit distance of two short strings, a swap of neighbours counting one edit (``levle`` is one
    from ``level``: optimal string alignment); ``bound`` + 1 once it must exceed ``bound``."""
    if abs(len(a) - len(b)) > bound:
        return bound + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, before[j - 2] + 1)
            current.append(cost)
        if min(current) > bound:
            return bound + 1
        before, previous = previous, current
    return previous[-1]

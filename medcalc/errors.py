"""The errors medcalc raises at its edges: bad policy files and bad claims.

Both carry the place of the problem (file and key path, or row and field), the
value found and what is allowed, so a message can be acted on without a traceback.
"""

from __future__ import annotations

__all__ = ["MedcalcError", "PolicyError", "ClaimError", "PolicyNotFound", "UnitNotStated"]


class MedcalcError(Exception):
    """Base class of every error medcalc raises on purpose."""


class PolicyError(MedcalcError):
    """A policy file that cannot be loaded: names the file, key path, value and rule."""

    def __init__(self, file: str, path: str, found: object, allowed: str) -> None:
        self.file = file
        self.path = path
        self.found = found
        self.allowed = allowed
        where = f"{file}: {path}" if path else file
        shown = "" if found is _NOTHING else f" (got {found!r})"
        super().__init__(f"{where}: {allowed}{shown}")


class PolicyNotFound(MedcalcError):
    """No shipped or given policy matches the id, path or region asked for."""


class UnitNotStated(MedcalcError, ValueError):
    """An integer amount column under a medcalc name (total, self_funded …) with no unit stated:
    150 could be fen or yuan, so it is refused rather than guessed. Columns under the national
    interface's or Chinese names (medfee_sumamt, 医疗费总额 …) are yuan by definition and never raise it."""

    def __init__(self, column: str) -> None:
        self.column = column
        super().__init__(
            f'column {column!r} holds integer amounts of no stated unit: pass amounts="fen" or '
            f'amounts="yuan" (columns under the national interface\'s or Chinese names, such as '
            f"medfee_sumamt or 医疗费总额, are yuan; decimals and text are always yuan)"
        )

    def __reduce__(self):  # pickled as its column (Dask sends errors between processes)
        return (type(self), (self.column,))

    @property
    def command_line(self) -> str:
        """The message for the command line, which states the unit with --amounts."""
        return f"column {self.column!r} holds integer amounts of no stated unit: give --amounts fen or --amounts yuan"


class ClaimError(MedcalcError):
    """A claim that cannot be settled: names the row (if known), field, value and rule."""

    def __init__(self, field: str, found: object, reason: str, row: int | None = None) -> None:
        self.field = field
        self.found = found
        self.reason = reason
        self.row = row
        super().__init__(self._text())

    @property
    def detail(self) -> str:
        """The reason with the value found, without the field and row."""
        return self.reason + ("" if self.found is _NOTHING else f" (got {self.found!r})")

    def _text(self) -> str:
        where = f"row {self.row}: " if self.row is not None else ""
        return f"{where}{self.field}: {self.detail}"

    def at_row(self, row: int) -> ClaimError:
        """The same error, located at an input row."""
        return ClaimError(self.field, self.found, self.reason, row)


class _Nothing:
    def __repr__(self) -> str:
        return "<nothing>"


#: Marks an error about a missing value, so no "(got ...)" is printed.
_NOTHING = _Nothing()
NOTHING = _NOTHING

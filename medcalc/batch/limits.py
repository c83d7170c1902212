"""Read limits: how much a claims file may make medcalc spend, checked before the memory is spent.

One ``ReadLimits`` instance goes to ``medcalc.batch.files.read_batches`` (and from there to the
CSV and .xlsx readers). The defaults admit any real claims file (a full Excel sheet of claims,
a national extract of a hundred columns) and refuse what no claims file is: a sheet whose
extent is billions of cells, a header of a million columns, a cell of megabytes. The command
line overrides them with ``--limit NAME=VALUE`` (``parse_override``); the web service passes
its own, smaller instance for uploads.

A file over a limit of its shape (columns, header, sheet extent, unpacked sizes) exits 2
(MedcalcError) naming the file, what was found, the limit and how to change it; a cell over
``max_cell_chars`` rejects its row only (rows in = settled + rejected).
"""

from __future__ import annotations

import attrs

from ..errors import MedcalcError

__all__ = ["ReadLimits", "DEFAULT_LIMITS", "parse_override", "how_to_change"]


def _positive(instance: object, attribute: attrs.Attribute, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise MedcalcError(f"read limit {attribute.name} must be a whole number of at least 1 (got {value!r})")


@attrs.frozen(kw_only=True)
class ReadLimits:
    """What one claims file may hold. Every value is a whole number; see README "Limits"."""

    #: Columns of a CSV header or an .xlsx sheet. A claim has about 20 fields; a national
    #: settlement extract about 150 columns.
    max_columns: int = attrs.field(default=1_000, validator=_positive)
    #: Characters of a CSV file's header line (1 000 column names of 65 characters).
    max_header_chars: int = attrs.field(default=65_536, validator=_positive)
    #: Characters of one cell (CSV or .xlsx). The longest real value is a list of disease
    #: names (``diseases``): 1 000 characters is some 100 names; an id, date or amount is
    #: under 40. A longer cell rejects its row, and is never parsed nor copied into a reason.
    max_cell_chars: int = attrs.field(default=1_000, validator=_positive)
    #: Rows x columns of an .xlsx sheet's extent (its highest row times its highest column):
    #: the Excel reader builds a dense grid of that many cells (32 bytes each, and about 80 at
    #: its peak, measured). 20 million is a full sheet (1 048 576 rows) of 19 columns, about
    #: 1.6 GB at the reader's peak; a service reading strangers' files wants fewer.
    max_sheet_cells: int = attrs.field(default=20_000_000, validator=_positive)
    #: Bytes of the sheet's XML once unpacked (about 40 bytes a cell: a full sheet of 20
    #: columns is some 800 MB). It is read through once, in pieces, to find the extent.
    max_sheet_bytes: int = attrs.field(default=1 << 30, validator=_positive)
    #: Bytes of the workbook's shared strings (xl/sharedStrings.xml) unpacked: the Excel
    #: reader holds all of them in memory. 1 million distinct ids of 18 digits are 35 MB.
    max_shared_strings_bytes: int = attrs.field(default=256 << 20, validator=_positive)
    #: Bytes of the whole .xlsx archive unpacked (every part: sheets, strings, styles …).
    max_xlsx_bytes: int = attrs.field(default=2 << 30, validator=_positive)
    #: Unpacked over packed size of any part of more than 1 MiB unpacked. Sheets written by
    #: Excel, LibreOffice or xlsxwriter pack 5-30 times; deflate's most is about 1 000.
    max_compression_ratio: int = attrs.field(default=200, validator=_positive)

    def evolve(self, **changes: int) -> ReadLimits:
        return attrs.evolve(self, **changes)


DEFAULT_LIMITS = ReadLimits()
_NAMES = tuple(a.name for a in attrs.fields(ReadLimits))


def how_to_change(name: str) -> str:
    """The words ending a refusal: how the user raises ``name``."""
    return f"raise it with --limit {name}=N if the file is genuine"


def parse_override(text: str, limits: ReadLimits = DEFAULT_LIMITS) -> ReadLimits:
    """``limits`` with one ``NAME=VALUE`` changed (``max_sheet_cells=50000000``, ``1_000`` allowed)."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip().replace("_", "")
    if not sep or name not in _NAMES:
        raise MedcalcError(f"--limit {text!r}: give NAME=VALUE, NAME one of {', '.join(_NAMES)}")
    if not value.isdigit() or len(value) > 18:
        raise MedcalcError(f"--limit {text!r}: the value must be a whole number of at least 1")
    return limits.evolve(**{name: int(value)})

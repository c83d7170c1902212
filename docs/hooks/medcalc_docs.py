"""MkDocs hook: the pages' generated parts, made from the code at build time, and links to files outside docs/.

A page asks for a generated part with a marker on a line of its own:

- ``<!-- generated: cli -->``: the ``--help`` of ``medcalc`` and of every command and subcommand, from the
  parser ``medcalc.cli`` builds (so the reference cannot drift from the options);
- ``<!-- generated: columns -->``: every claim field with the column names a file may give it (medcalc's, the
  national interface's, the Chinese labels), from ``medcalc.claims.FIELD_ALIASES`` and
  ``medcalc.vocabulary.CHINESE_NAMES``;
- ``<!-- generated: output-names -->``: the output columns under ``--names medcalc|national|chinese``, from
  ``medcalc.batch.files.OUTPUT_NAMES``;
- ``<!-- generated: version -->``: the version of the medcalc the site was built from;
- ``<!-- include: PATH -->``: the text of a file outside docs/ (PATH from the repository's root), which must stay
  where it is (``policies/README.md``, read there by tools and tests; ``CHANGELOG.md``).

Links written for GitHub to files outside docs/ (``../policies/README.md``, ``CHANGELOG.md``) point at the site's
pages that include them (``SITE_PAGES``), and an included file's own links are resolved from where it lives, so a
page reads right in both places. The functions are plain, so the tests call them too (tests/test_docs.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import posixpath
import re
from pathlib import Path

#: Files outside docs/ (from the repository's root) -> the site page that includes them.
SITE_PAGES = {
    "policies/README.md": "reference/policy-format.md",
    "CHANGELOG.md": "changelog.md",
    "README.md": "index.md",
}

_MARKER = re.compile(r"<!-- generated: ([a-z-]+) -->")
_INCLUDE = re.compile(r"^<!-- include: (\S+) -->$", re.M)
ROOT = Path(__file__).resolve().parents[2]
_LINK = re.compile(r"\]\(([^)#\s]+\.md)(#[^)\s]*)?\)")


@contextlib.contextmanager
def _columns(width: int):
    """argparse wraps help to the terminal's width (COLUMNS): a fixed one, so every build prints the same."""
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices.items())
    return []


def command_helps(width: int = 100) -> list[tuple[str, str]]:
    """(command line, its --help) for ``medcalc`` and every command and subcommand, in --help's order."""
    from medcalc.cli import _parser

    with _columns(width):
        root = _parser()
        helps = [("medcalc", root.format_help())]
        for name, sub in _subcommands(root):
            helps.append((f"medcalc {name}", sub.format_help()))
            helps += [(f"medcalc {name} {inner}", p.format_help()) for inner, p in _subcommands(sub)]
    return helps


def cli_reference() -> str:
    parts = []
    for command, text in command_helps():
        parts += [f"### `{command}`", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(parts)


def _cell(names) -> str:
    return ", ".join(f"`{n}`" for n in names) if names else ""


def columns_reference() -> str:
    """A table: each claim field, and the other names a file's header may give it."""
    from medcalc.batch.tables import CLAIM_FIELDS
    from medcalc.claims import FIELD_ALIASES
    from medcalc.vocabulary import CHINESE_NAMES

    rows = ["| field | national interface | Chinese |", "|---|---|---|"]
    for field in (*CLAIM_FIELDS, "policy", "region"):
        aliases = [name for name, target in FIELD_ALIASES.items() if target == field]
        national = [n for n in aliases if n.isascii()]
        chinese = [n for n in aliases if not n.isascii()]
        if field in CHINESE_NAMES and CHINESE_NAMES[field] not in chinese:
            chinese.insert(0, CHINESE_NAMES[field])
        rows.append(f"| `{field}` | {_cell(national)} | {_cell(chinese)} |")
    return "\n".join(rows)


def output_names_reference() -> str:
    """A table: each output column under --names medcalc, national and chinese."""
    from medcalc.batch.files import OUTPUT_NAMES

    styles = list(OUTPUT_NAMES)
    rows = ["| " + " | ".join(f"`--names {s}`" for s in styles) + " |", "|" + "---|" * len(styles)]
    for field in OUTPUT_NAMES["medcalc"]:
        rows.append("| " + " | ".join(f"`{OUTPUT_NAMES[s][field]}`" for s in styles) + " |")
    return "\n".join(rows)


def version() -> str:
    import medcalc

    return medcalc.__version__


GENERATED = {
    "cli": cli_reference,
    "columns": columns_reference,
    "output-names": output_names_reference,
    "version": version,
}


def expand(markdown: str) -> str:
    """The markers of ``markdown`` replaced by what they ask for (an unknown one is an error, not left as is)."""

    def one(match: re.Match) -> str:
        name = match.group(1)
        if name not in GENERATED:
            raise ValueError(f"unknown generated part {name!r}; one of {', '.join(GENERATED)}")
        return GENERATED[name]()

    return _MARKER.sub(one, markdown)


def site_links(markdown: str, page_path: str, written_at: str | None = None) -> str:
    """Relative links of ``markdown``, written in the file ``written_at`` (from the repository's root; by default
    the page itself, docs/``page_path``), as the page at ``page_path`` (under docs/) must write them: a file of
    SITE_PAGES becomes its site page, a file under docs/ is reached from the page. Web addresses stay as they are.
    """
    here = posixpath.dirname(page_path)
    origin = posixpath.dirname(written_at or posixpath.join("docs", page_path))

    def one(match: re.Match) -> str:
        target, anchor = match.group(1), match.group(2) or ""
        if "://" in target:
            return match.group(0)
        from_root = posixpath.normpath(posixpath.join(origin, target))
        if from_root in SITE_PAGES:
            from_root = posixpath.join("docs", SITE_PAGES[from_root])
        if not from_root.startswith("docs/"):
            return match.group(0)  # left for MkDocs to report
        return f"]({posixpath.relpath(from_root[len('docs/') :], here or '.')}{anchor})"

    return _LINK.sub(one, markdown)


def include(markdown: str, page_path: str) -> str:
    """The include markers of ``markdown`` replaced by the files' text, their links made the page's."""

    def one(match: re.Match) -> str:
        path = match.group(1)
        text = (ROOT / path).read_text(encoding="utf-8")
        return site_links(text, page_path, written_at=path)

    return _INCLUDE.sub(one, markdown)


def on_page_markdown(markdown, page, config, files):  # MkDocs' hook
    page_path = page.file.src_uri
    return include(site_links(expand(markdown), page_path), page_path)


def on_config(config):  # MkDocs' hook: the version in the site's name
    config["site_name"] = f"medcalc {version()}"
    return config

"""Seeded mutants of the shipped policy files, and the check every mutant must pass.

A mutant is one shipped file (policy or reform) changed once: a number made huge or negative,
a date pushed to the year 9999, a byte that is not UTF-8, a line dropped or doubled, a value
swapped with another of the file, TOML nested a thousand deep, a source path out of the
policy root, a reform based on itself, ``levels = [{}]`` in an ``[[adjust]]``, … Loading it
must either succeed, and then a few claims settle or fail with a medcalc error, or fail with
a PolicyError naming the mutated file (and a key path, unless the file as a whole is
unreadable); never another exception, never a hang.

Used by tests/policy/test_policy_fuzz.py (a few hundred mutants) and, with a count option, by
``python -m tests.policy_fuzz --count 5000``.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import signal
import sys
import time
from pathlib import Path

import medcalc
from medcalc.errors import MedcalcError, PolicyError
from medcalc.policy.registry import clear_caches, shipped_root

__all__ = ["mutants", "check_mutant", "run"]

_NUMBER = re.compile(r"(?<![\w.-])\d+(?:\.\d+)?(?![\w-])")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_STRING = re.compile(r'"[^"\n]*"')
_HUGE = [
    "9223372036854",
    "-1",
    "0",
    "1" + "0" * 30,
    "99999999999999999999999",
    '"9223372036854"',
    '"1e9"',
    "1e400",
    '"150%"',
    '"-5%"',
    '"1000000万"',
    "inf",
    "nan",
    "0.1",
    "[]",
    "{}",
    "true",
]
_DATES = ["9999-12-31", "0001-01-01", "1899-12-31", "2999-12-31", "2025-02-30", "2025-01-01T00:00:00"]
_STRINGS = [
    '"/etc/passwd"',
    '"../../../../etc/hostname"',
    '"\x1b]0;pwned\x07\x1b[2J"',
    '"' + "x" * 300 + '"',
    '""',
    '" "',
    '"\\u0000"',
    '"../README.md"',
    '"level1"',
    '"self"',
    '"a.toml"',
    '"anhui-2019"',
]


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.toml") if "sources" not in p.relative_to(root).parts)


def _mutate(text: str, rng: random.Random, path: Path) -> str | bytes:
    kind = rng.randrange(16)
    lines = text.splitlines(keepends=True)
    if kind == 0 and (found := list(_NUMBER.finditer(text))):
        m = rng.choice(found)
        return text[: m.start()] + rng.choice(_HUGE) + text[m.end() :]
    if kind == 1 and (found := list(_DATE.finditer(text))):
        m = rng.choice(found)
        return text[: m.start()] + rng.choice(_DATES) + text[m.end() :]
    if kind == 2 and (found := list(_STRING.finditer(text))):
        m = rng.choice(found)
        return text[: m.start()] + rng.choice(_STRINGS) + text[m.end() :]
    if kind == 3:  # a byte that is not UTF-8
        data = text.encode("utf-8")
        i = rng.randrange(len(data) + 1)
        return data[:i] + bytes([rng.choice([0xFF, 0xC3, 0x80, 0xFE])]) + data[i:]
    if kind == 4 and lines:
        del lines[rng.randrange(len(lines))]
        return "".join(lines)
    if kind == 5 and lines:
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
        return "".join(lines)
    if kind == 6:  # nesting far past the parser's recursion limit
        depth = rng.choice([50, 1000, 3000])
        return text + f"\n[nested]\nx = {'[' * depth}{']' * depth}\n"
    if kind == 7 and (found := list(_STRING.finditer(text))) and len(found) > 1:  # swap two values
        a, b = sorted(rng.sample(found, 2), key=lambda m: m.start())
        return text[: a.start()] + b.group() + text[a.end() : b.start()] + a.group() + text[b.end() :]
    if kind == 8:  # source files outside the root: absolute, .., long names
        target = rng.choice(
            [
                '"/etc/passwd"',
                '"../../../../../../etc/passwd"',
                '"' + "n" * 300 + '.txt"',
                '"../sources"',
                '"sources/../../../../x"',
            ]
        )
        return re.sub(r'(?m)^file = "[^"]*"', f"file = {target}", text, count=1) if "file =" in text else text + "\x00"
    if kind == 9 and "[reform]" in text:  # a reform based on itself, by id or by path, or on a path out
        own = re.search(r'(?m)^id = "([^"]*)"', text)
        base = rng.choice(
            [
                f'"{own.group(1) if own else "x"}"',
                f'"{path.name}"',
                '"../../../../etc/passwd.toml"',
                '"/etc/x.toml"',
                '"./"',
            ]
        )
        return re.sub(r'(?m)^base = "[^"]*"', f"base = {base}", text, count=1)
    if kind == 10 and "[[adjust]]" in text:
        return (
            re.sub(
                r"(?m)^levels = .*$",
                rng.choice(["levels = [{}]", "levels = [[]]", "levels = [1]", "levels = {}"]),
                text,
                count=1,
            )
            if "levels =" in text
            else text.replace("[[adjust]]", "[[adjust]]\nlevels = [{}]", 1)
        )
    if kind == 11:  # a header with a comment after it
        return text.replace("[reform]", "[reform]  # comment", 1).replace("[policy]", "[policy]  # c", 1)
    if kind == 12 and lines:  # truncation
        return text[: rng.randrange(len(text) + 1)]
    if kind == 13:  # control characters in text values
        return re.sub(r'(?m)^(region|title|quote) = "', lambda m: m.group() + "\x1b[2J\x07\r", text, count=2)
    if kind == 14 and (found := list(_NUMBER.finditer(text))):
        m = rng.choice(found)  # a plausible but extreme amount
        return text[: m.start()] + str(rng.choice([10**7, 10**7 + 1, 10**9, 2**63 - 1, 2**31])) + text[m.end() :]
    if found := list(re.finditer(r"(?m)^\S[^\n]*$", text)):  # swap two random lines
        a, b = sorted(rng.sample(found, 2) if len(found) > 1 else [found[0], found[0]], key=lambda m: m.start())
        if a.start() != b.start():
            return text[: a.start()] + b.group() + text[a.end() : b.start()] + a.group() + text[b.end() :]
    return text


def mutants(tree: Path, count: int, seed: int):
    """``count`` (file, mutant content) pairs over the files of a copied policy tree."""
    rng = random.Random(seed)
    files = _files(tree)
    texts = {p: p.read_text(encoding="utf-8") for p in files}
    for i in range(count):
        path = files[i % len(files)]  # every shipped file, in turn
        yield path, texts[path], _mutate(texts[path], rng, path)


class Hang(Exception):
    """A mutant took longer than the time allowed."""


def _alarm(signum, frame):
    raise Hang("a mutant took too long to load or settle")


def _claims(policy) -> list:
    spans = policy.coverage(("inpatient.deductible", "inpatient.ratio"))
    if not spans:
        return []
    day = spans[0][0]
    out = []
    for level in list(policy.levels)[:2]:
        for total in ("1000", "250000", "10000000"):
            out.append(medcalc.Claim(person_id="p", settled_on=day, level=level, total=total))
    out.append(
        medcalc.Claim(
            person_id="q",
            settled_on=day,
            level=list(policy.levels)[0],
            total="80000",
            category="dibao",
            place="out_of_province",
            referral="referred",
        )
    )
    return out


def check_mutant(path: Path, root: Path, timeout: int = 20) -> str:
    """Load one mutated file and settle a few claims: 'loaded', 'refused'; raises on anything else."""
    clear_caches()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        try:
            policy = medcalc.load_policy(path, search=[root])
        except PolicyError as exc:
            shown = str(exc)
            if path.name not in shown and "reform.base" not in shown:
                raise AssertionError(f"{path.name}: the error does not name the file: {shown}") from exc
            if not exc.path and not any(w in exc.allowed for w in ("TOML", "UTF-8", "file of at most", "readable")):
                raise AssertionError(f"{path.name}: the error names no key path: {shown}") from exc
            return "refused"
        claims = _claims(policy)
        for claim in claims:
            try:
                medcalc.settle(policy, claim)
            except MedcalcError:
                pass
        if claims:
            try:
                medcalc.settle_many(policy, claims)
            except MedcalcError:
                pass
        return "loaded"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run(count: int, seed: int, workdir: Path) -> dict[str, int]:
    """Copy the shipped policies into ``workdir`` and check ``count`` mutants; returns the tally."""
    tree = workdir / "policies"
    if tree.exists():
        shutil.rmtree(tree)
    shutil.copytree(shipped_root(), tree, ignore=shutil.ignore_patterns("*.md", "__pycache__"))
    tally = {"loaded": 0, "refused": 0}
    for path, original, mutant in mutants(tree, count, seed):
        if isinstance(mutant, bytes):
            path.write_bytes(mutant)
        else:
            path.write_text(mutant, encoding="utf-8", errors="surrogateescape")
        try:
            tally[check_mutant(path, tree)] += 1
        finally:
            path.write_text(original, encoding="utf-8")
    clear_caches()
    return tally


def main(argv: list[str] | None = None) -> int:
    import tempfile
    import warnings

    parser = argparse.ArgumentParser(description="Fuzz the policy loader with mutants of the shipped files.")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tally = run(args.count, args.seed, Path(tmp))
    print(
        f"{args.count} mutants (seed {args.seed}): {tally['loaded']} loaded and settled, "
        f"{tally['refused']} refused with a PolicyError, in {time.perf_counter() - start:.1f} s"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

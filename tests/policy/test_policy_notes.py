"""The shipped policy files tell the truth about themselves.

- What a file's notes or header call "not encoded" must not be defined by the file (its own rules
  or inherited ones): checked on the structured ``not_encoded`` list at load, and here on the prose,
  by matching the rule words of each "not encoded" statement against the rules the policy defines.
- A value the quote does not carry (a number absent from every passage) is marked as a choice or a
  reading in its note.
- Every file says which documents it still needs.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib

import pytest

import medcalc
from medcalc.policy.registry import policy_files, shipped_root

FILES = policy_files([shipped_root()])
SHIPPED = sorted(FILES)

#: Words of a note and the rules they name. A statement that calls one of these missing is false
#: when the policy has a rule under the key.
RULE_WORDS = {
    "普通门诊": "outpatient.service.general",
    "ordinary outpatient": "outpatient.service.general",
    "outpatient pooling": "outpatient.service.general",
    "门诊统筹": "outpatient.service.general",
    "門診統籌": "outpatient.service.general",
    "两病": "outpatient.service.two_diseases",
    "day-bed": "outpatient.service.day_ward",
    "日间病床": "outpatient.service.day_ward",
    "大额普通门诊": "outpatient.service.large_general",
    "互联网+": "outpatient.service.telehealth",
    "互聯網+": "outpatient.service.telehealth",
    "180": "backstop.pay_again",
    "351": "backstop.burden_cap",
    "医疗救助": "assistance",
    "大病保险": "critical.threshold",  # the layer runs only with its threshold (and base and bands)
}
#: A statement calling its subject missing, and the generic family words it may list.
MISSING = re.compile(r"not encoded|does not encode|not encode", re.I)
FAMILY_WORDS = {"outpatient": "outpatient", "assistance": "assistance", "backstops": "backstop"}


def _statements(text: str, header: bool = False) -> list[str]:
    """What one "not encoded" claim can cover. In notes: a sentence (a "Not encoded:" list runs to
    its full stop). In a header comment: a section, from an unindented line to the next one."""
    if header:
        return [s for s in re.split(r"\n(?=\S)", text) if s.strip()]
    out = []
    for block in re.split(r"\n\s*\n", text):
        out.extend(s for s in re.split(r"(?<=[.。])\s+|\n\s+-\s", block) if s.strip())
    return out


def claims_of_missing(text: str, header: bool = False) -> set[str]:
    """The rule keys a text's "not encoded" statements name."""
    keys = set()
    for statement in _statements(text, header):
        if not MISSING.search(statement):
            continue
        flat = re.sub(r"\s+", " ", statement)
        for word, key in RULE_WORDS.items():
            if word in flat:
                keys.add(key)
        head = MISSING.split(flat, 1)[1] if MISSING.search(flat) else ""
        for word, key in FAMILY_WORDS.items():  # "Not encoded: outpatient, …" names the whole family
            if re.match(rf"[^:]*:\s*(?:-\s*)?{word}\b(?! services? (?:limited|for))", head):
                keys.add(key)
    return keys


def _header(path) -> str:
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(re.sub(r"^# ?", "", line))
    return "\n".join(lines)


def _defined(policy, key: str) -> list[str]:
    return [k for k in policy.timelines if k == key or k.startswith(key + ".")]


@pytest.mark.parametrize("policy_id", SHIPPED)
def test_notes_call_missing_only_rules_the_file_does_not_define(policy_id):
    policy = medcalc.load_policy(policy_id)
    for where, text in (("notes", policy.notes), ("header", _header(FILES[policy_id]))):
        claimed = claims_of_missing(text, header=where == "header")
        wrong = {key: _defined(policy, key) for key in claimed if _defined(policy, key)}
        assert not wrong, f"{policy_id} {where} call these rules not encoded, but the file defines them: {wrong}"


def test_the_prose_check_catches_a_false_not_encoded():
    huaibei = medcalc.load_policy("huaibei-2025")
    stale = (
        "Seed 004 numbers that are NOT encoded because the engine does not yet settle these\n"
        "categories: day-bed (日间病床) …; 普通门诊 (no deductible, 60%); 两病 (55%); 大额普通门诊."
    )
    keys = claims_of_missing(stale)
    assert keys == {
        "outpatient.service.day_ward",
        "outpatient.service.general",
        "outpatient.service.two_diseases",
        "outpatient.service.large_general",
    }
    assert all(_defined(huaibei, k) for k in keys)
    assert claims_of_missing("Not encoded: outpatient, 互联网+.") == {"outpatient", "outpatient.service.telehealth"}
    assert claims_of_missing("大病保险 is not encoded: no threshold.") == {"critical.threshold"}
    header = "Encodes:\n  - 普通门诊 55%\nDoes not encode:\n  - 两病 (no figures)\n  - 医疗救助\n"
    assert claims_of_missing(header, header=True) == {"outpatient.service.two_diseases", "assistance"}
    assert claims_of_missing("Rare-disease drugs paid inside 大病 are not encoded.") == set()


@pytest.mark.parametrize("policy_id", SHIPPED)
def test_every_file_lists_what_it_does_not_encode_and_the_documents_it_lacks(policy_id):
    policy = medcalc.load_policy(policy_id)
    assert policy.not_encoded, f"{policy_id}: [policy] not_encoded is empty"
    assert "Documents still missing" in policy.notes


# ------------------------------------------------------------------ quotes carry their values

_NOT_VALUES = {
    "since",
    "until",
    "source",
    "quote",
    "verified",
    "note",
    "disabled",
    "when",
    "levels",
    "places",
    "diseases",
    "excluded_if_certified",
    "halve",
    "convention",
    "segments",
    "basis",
    "services",
    "cap_group",
}
_MARKED = re.compile(r"\b(a choice|read as)\b", re.I)


def _leaves(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif not isinstance(value, bool):
        yield value


def _spellings(value) -> set[str]:
    """How a source may write a value: 3000 as 3000 or 0.3万, "30万" as 30万 or 300000, "90%" as 90."""
    token = str(value).strip().lstrip("+-").replace("元", "").replace(",", "")
    out = {token}
    if m := re.fullmatch(r"([\d.]+)万", token):
        out.add(f"{float(m.group(1)) * 10000:g}")
    elif token.endswith("%"):
        out.add(token[:-1])
    elif re.fullmatch(r"\d+", token) and int(token):
        out.add(f"{int(token) / 10000:g}万")
    return out


def _carried(value, quote: str) -> bool:
    text = re.sub(r"\s+", "", quote).replace("％", "%").replace(",", "")
    return any(re.search(rf"(?<![\d.]){re.escape(s)}(?!\d)", text) for s in _spellings(value))


def uncarried(data: dict) -> list[tuple[str, object, str]]:
    """(rule version, value, note) for every number of a policy's TOML that no passage of its quote
    carries."""
    out = []
    for family in ("inpatient", "outpatient", "critical", "assistance", "backstop"):
        for rule, body in (data.get(family) or {}).items():
            named = body.items() if isinstance(body, dict) else [("", body)]
            for name, versions in named:
                for i, version in enumerate(versions):
                    if version.get("disabled"):
                        continue
                    quote = version["quote"] if isinstance(version["quote"], str) else " ".join(version["quote"])
                    values = {k: v for k, v in version.items() if k not in _NOT_VALUES}
                    for value in _leaves(values):
                        if not _carried(value, quote):
                            out.append(
                                (f"{family}.{rule}{'.' + name if name else ''}[{i}]", value, version.get("note", ""))
                            )
    return out


@pytest.mark.parametrize("policy_id", SHIPPED)
def test_a_value_the_quote_does_not_carry_is_marked_a_choice_or_a_reading(policy_id):
    data = tomllib.loads(FILES[policy_id].read_text(encoding="utf-8"))
    unmarked = [(where, value) for where, value, note in uncarried(data) if not _MARKED.search(note)]
    assert not unmarked, f"{policy_id}: values not in their quote and not marked 'A choice' / 'read as': {unmarked}"


def test_the_carry_check_finds_a_value_missing_from_its_quote():
    data = tomllib.loads(
        '[[critical.threshold]]\nsince = 2020-01-01\namount = 0\nsource = "s"\n'
        'quote = "超过最高支付限额(10万元)的费用由大病保险基金按照90%的比例支付"\n'
        "[[backstop.burden_cap.poor]]\nsince = 2020-01-01\ncap = { level1 = 3000 }\n"
        'source = "s"\nquote = "在县域内就诊个人年度自付费用不超过0.3万元"\n'
    )
    assert uncarried(data) == [("critical.threshold[0]", 0, "")]  # 0.3万 carries 3000; nothing carries 0


def test_anhui_2025_critical_choices_are_marked_in_their_notes():
    policy = medcalc.load_policy("anhui-2025")
    resolved = policy.at(dt.date(2025, 6, 1))
    for key in ("critical.base", "critical.modifier.poor"):
        assert resolved.rule(key).citation.note.startswith("A choice:")
    assert resolved.rule("critical.modifier.poor")["uncapped"] is True

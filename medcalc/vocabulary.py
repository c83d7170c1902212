"""The words people write for medcalc's codes: one table per claim field, word -> code.

A claim may name its place, referral, category, scheme and visit by medcalc's code
(``out_of_province``) or by the Chinese word a settlement form uses (跨省, 省外); these words
do not depend on the policy and are resolved when the claim is built (``Claim(...)``) or when
a table's column is encoded. Hospital levels and outpatient services are the policy's own:
a level is named by its code, by the policy's Chinese label (``[levels]`` of its TOML), or by a
common form of that label (三级, 三级医院, 3, 三甲) where exactly one level of the policy is of
that form; services by their code or their Chinese name. Those words are built from the
policy once and kept with it (``Policy.memo``), and resolved where the policy is known (the
pipeline's encoding and the batch engine's per-dictionary lookup), so a code always stays the
engine's code for itself and a word only ever adds a way of writing one.

An unknown word is answered with the closest words and their codes ("did you mean level3
(市内三级医疗机构)?"). Everything here is plain Python: no numpy, no pyarrow.

``CHINESE_NAMES`` is the one table of Chinese column names: what ``--names chinese`` writes and
what a file's header may say (medcalc/claims.py's FIELD_ALIASES reads it).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping

from .errors import ClaimError
from .policy.model import CATEGORIES, PLACES, REFERRALS, SCHEMES, Policy

__all__ = [
    "WORDS",
    "LABELS",
    "SERVICE_LABELS",
    "CHINESE_NAMES",
    "fold",
    "code_for",
    "level_words",
    "service_words",
    "disease_words",
    "resolve_level",
    "resolve_service",
    "suggest",
    "choices_text",
]

#: medcalc's codes with the Chinese name shown beside them in messages and help.
LABELS: dict[str, dict[str, str]] = {
    "place": {"local": "市内", "in_province": "省内异地", "out_of_province": "跨省"},
    "referral": {
        "none": "无",
        "referred": "转诊",
        "emergency": "急诊",
        "resident": "异地长期居住",
        "not_referred": "未转诊",
    },
    "category": {
        "ordinary": "普通",
        "tekun": "特困",
        "dibao": "低保",
        "low_income": "低收入",
        "poverty": "返贫致贫",
        "monitored": "监测对象",
        "illness_poverty": "因病致困",
    },
    "scheme": {"residents": "城乡居民", "employees": "职工"},
    "visit": {"inpatient": "住院", "outpatient": "门诊"},
}

# The words of each policy-free field. Each is a term of the policies' sources or of settlement
# forms (policies/sources: 省内异地, 跨省, 未转诊, 异地长期居住, 特困人员, 低保对象, 建档立卡,
# 监测对象, 因病致困 …); none is a new code.
_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "place": {
        "local": ("市内", "本地", "本市", "统筹区内", "参保地"),
        "in_province": ("省内异地", "省内市外"),
        "out_of_province": ("跨省", "省外", "跨省异地"),
    },
    "referral": {
        "none": ("无",),
        "referred": ("转诊", "已转诊", "转诊转院"),
        "emergency": ("急诊", "急诊抢救", "急救"),
        "resident": ("异地长期居住", "异地长期居住备案", "异地安置"),
        "not_referred": ("未转诊", "未备案", "未办理转诊"),
    },
    "category": {
        "ordinary": ("普通", "普通人员", "一般"),
        "tekun": ("特困", "特困人员", "特困供养人员"),
        "dibao": ("低保", "低保对象"),
        "low_income": ("低收入", "低收入人口"),
        "poverty": ("返贫致贫", "返贫致贫人口", "脱贫", "脱贫人口", "建档立卡", "建档立卡贫困人口"),
        "monitored": ("监测对象", "防返贫监测对象"),
        "illness_poverty": ("因病致困", "因病致困家庭重病患者"),
    },
    "scheme": {
        "residents": ("居民", "城乡居民", "居民医保", "城乡居民医保", "城乡居民基本医疗保险"),
        "employees": ("职工", "职工医保", "城镇职工", "职工基本医疗保险"),
    },
    "visit": {"inpatient": ("住院",), "outpatient": ("门诊",)},
}

#: Chinese names of the outpatient services the shipped policies use (engine/outpatient.py):
#: a policy's service is named by its code or by this name (policy files give no labels of their own).
SERVICE_LABELS: dict[str, tuple[str, ...]] = {
    "general": ("普通门诊", "门诊统筹"),
    "two_diseases": ("两病", "门诊两病", "高血压糖尿病门诊"),
    "large_general": ("大额普通门诊", "大额门诊"),
    "day_ward": ("日间病床",),
    "tcm": ("中医药治疗", "门诊中医药治疗"),
    "telehealth": ("互联网复诊", "互联网+医疗服务"),
}

#: The one table of Chinese column names (the national interface's labels where it has them):
#: written by ``--names chinese``, read from a file's header.
CHINESE_NAMES: dict[str, str] = {
    "row": "行号",
    "claim_id": "结算ID",
    "person_id": "人员编号",
    "settled_on": "结算日期",
    "admitted_on": "入院日期",
    "scheme": "险种类型",
    "total": "医疗费总额",
    "self_funded": "全自费金额",
    "over_limit": "超限价自费金额",
    "pre_self_pay": "先行自付金额",
    "in_scope": "符合政策范围金额",
    "level": "医院等级",
    "visit": "就诊类型",
    "age": "年龄",
    "diseases": "病种名称",
    "bed_fees": "床位费",
    "nursing_fees": "护理费",
    "deductible": "实际支付起付线",
    "basic": "基本医疗保险统筹基金支出",
    "critical": "大病保险资金支出",
    "assistance": "医疗救助基金支出",
    "backstop": "兜底保障支出",
    "funds": "基金支付总额",
    "patient": "个人负担总金额",
    "policy": "政策",
    # amounts of earlier layers a claim may carry (settled elsewhere), medcalc's own labels
    "basic_paid": "已付统筹基金",
    "critical_base": "大病保险合规自付",
    "critical_paid": "已付大病保险",
}

# Traditional characters of the shipped labels and disease names (九江's pages are traditional:
# 縣級醫療機構, 高血壓), folded to simplified so either script names the same thing.
# The header labels' too (醫療費總額, 人員編號, 結算日期 …), so a sheet from Taiwan-style or Hong Kong-style
# input methods matches the same columns.
_TRADITIONAL = str.maketrans(
    "內鄉級醫療機構縣壓門診統區屬轉貧監測對職員險類費總額結編號種齡護實際報銷補億萬負擔個書證費務範圍內合規計線標準數據單價藥檢療養選擇離業戶農參險總額",
    "内乡级医疗机构县压门诊统区属转贫监测对职员险类费总额结编号种龄护实际报销补亿万负担个书证费务范围内合规计线标准数据单价药检疗养选择离业户农参险总额",
)
_SPACES = re.compile(r"\s+")


def fold(word: str) -> str:
    """A word as compared: no spaces, ASCII parentheses, simplified characters, lower case."""
    return _SPACES.sub("", word).replace("（", "(").replace("）", ")").translate(_TRADITIONAL).lower()


def _table(codes: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for code, words in codes.items():
        out[fold(code)] = code
        for word in words:
            out[fold(word)] = code
    return out


#: field -> folded word -> code, for the fields whose words do not depend on the policy.
WORDS: dict[str, dict[str, str]] = {field: _table(codes) for field, codes in _WORDS.items()}
assert set(WORDS["place"].values()) == set(PLACES) and set(WORDS["referral"].values()) == set(REFERRALS)
assert set(WORDS["category"].values()) == set(CATEGORIES) and set(WORDS["scheme"].values()) == set(SCHEMES)


def choices_text(field: str, codes: tuple[str, ...] | list[str], labels: Mapping[str, str] | None = None) -> str:
    """``code (标签), …`` for a message."""
    labels = LABELS.get(field, {}) if labels is None else labels
    return ", ".join(f"{c} ({labels[c]})" if c in labels else c for c in codes)


def suggest(word: str, table: Mapping[str, str], labels: Mapping[str, str]) -> list[str]:
    """The codes of the words closest to ``word`` (by characters; a word containing it, or
    contained in it, counts as close), best first."""
    key = fold(word)
    # a Chinese word is two or three characters: one wrong character (低宝) is still close
    cutoff = 0.7 if key.isascii() else 0.5
    found = [table[w] for w in difflib.get_close_matches(key, list(table), n=6, cutoff=cutoff)]
    found += [code for w, code in table.items() if key and (key in w or w in key)]
    out: list[str] = []
    for code in found:
        if code not in out:
            out.append(code)
    return out[:3]


def _unknown(
    field: str, word: str, table: Mapping[str, str], labels: Mapping[str, str], what: str, choices: str
) -> ClaimError:
    close = suggest(word, table, labels)
    hint = (
        "; did you mean " + " or ".join(f"{c} ({labels[c]})" if c in labels else c for c in close) + "?"
        if close
        else ""
    )
    return ClaimError(field, word, f"{what}{choices}{hint}")


def code_for(field: str, value: str) -> str:
    """The code of a policy-free word (place, referral, category, scheme, visit); ClaimError if unknown."""
    table = WORDS[field]
    code = table.get(fold(value))
    if code is None:
        codes = tuple(_WORDS[field])
        raise _unknown(field, value, table, LABELS[field], "must be one of ", choices_text(field, codes))
    return code


# ---------------------------------------------------------------- the policy's own words

_PREFIXES = ("市内", "统筹区内")  # where a label says "inside the insured area"; a claim's place says that
_SUFFIX = "医疗机构"
_GRADE = re.compile(r"([一二三])级")
_DIGITS = {"一": "1", "二": "2", "三": "3"}


def _level_forms(label: str) -> set[str]:
    """Common forms of one level label: 三级医疗机构 -> 三级, 三级医院, 3, 三甲, 三乙."""
    forms: set[str] = set()
    for part in fold(label).split("、"):  # 乡镇卫生院、社区卫生服务机构: either names the level
        forms.add(part)
        core = part
        for prefix in _PREFIXES:
            core = core.removeprefix(prefix)
        core = core.removesuffix(_SUFFIX)
        if not core:
            continue
        forms |= {core, core + _SUFFIX}
        if not core.endswith(("院", "机构")):
            forms.add(core + "医院")
        # 二级和县级: a level of two kinds of institution is named by either
        pieces = core.split("和") if "和" in core else [core]
        forms |= {p for p in pieces if p}
        grades = {m for p in pieces for m in _GRADE.findall(p)}
        for grade in grades:
            # 三级(市属), 省属三级, 一级及以下 are all grade-3 (grade-1) levels: a level of that
            # grade, if it is the only one (checked by the caller), is what 三级 / 3 / 三甲 mean
            forms |= {f"{grade}级", f"{grade}级医院", f"{grade}级{_SUFFIX}", _DIGITS[grade], f"{grade}甲", f"{grade}乙"}
    return forms


def level_words(policy: Policy) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """The policy's level words: folded word -> code, and ambiguous word -> the codes it could mean.

    Codes and labels always name their level; a common form only where one level has it.
    Outpatient institutions (``[institutions]``) count as levels. Built once per policy.
    """
    return policy.memo("level_words", _level_words)


def _level_words(policy: Policy) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    labels = {**policy.institutions, **policy.levels}
    claimed: dict[str, set[str]] = {}
    for code, label in labels.items():
        for form in _level_forms(label):
            claimed.setdefault(form, set()).add(code)
    table = {form: next(iter(codes)) for form, codes in claimed.items() if len(codes) == 1}
    ambiguous = {form: tuple(sorted(codes)) for form, codes in claimed.items() if len(codes) > 1}
    for code, label in labels.items():  # exact labels and codes win over any derived form
        table[fold(label)] = code
        ambiguous.pop(fold(label), None)
    for code in labels:
        table[fold(code)] = code
        ambiguous.pop(fold(code), None)
    return table, ambiguous


def resolve_level(policy: Policy, word: str) -> str:
    """The level code a claim's ``level`` names in this policy; ClaimError with the closest levels if none."""
    table, ambiguous = level_words(policy)
    code = table.get(word) or table.get(fold(word))  # (a word already folded, as codes are, skips folding)
    if code is not None:
        return code
    labels = {**policy.institutions, **policy.levels}
    known = choices_text("level", list(policy.levels), policy.levels)
    if fold(word) in ambiguous:
        codes = ambiguous[fold(word)]
        raise ClaimError(
            "level",
            word,
            f"hospital level {word!r} is ambiguous in policy {policy.id}: it has "
            + " and ".join(f"{c} ({labels[c]})" for c in codes)
            + "; name one",
        )
    raise _unknown(
        "level", word, table, labels, f"unknown hospital level {word!r} for policy {policy.id}; one of ", known
    )


def service_words(policy: Policy, services: list[str]) -> dict[str, str]:
    """The policy's service words: folded code or Chinese name -> service code. Built once per policy."""
    return policy.memo("service_words", lambda _: _table({s: SERVICE_LABELS.get(s, ()) for s in services}))


def resolve_service(policy: Policy, services: list[str], word: str) -> str | None:
    """The service code ``word`` names in this policy, or None (the caller says what it has)."""
    table = service_words(policy, services)
    return table.get(word) or table.get(fold(word))


def service_hint(policy: Policy, services: list[str], word: str) -> str:
    """ "; did you mean …?" for an unknown service word, or ""."""
    labels = {s: SERVICE_LABELS[s][0] for s in services if s in SERVICE_LABELS}
    close = suggest(word, service_words(policy, services), labels)
    return (
        "; did you mean " + " or ".join(f"{c} ({labels[c]})" if c in labels else c for c in close) + "?"
        if close
        else ""
    )


def disease_words(names: list[str]) -> dict[str, str]:
    """Folded disease name -> the policy's spelling (高血压 names 九江's 高血壓)."""
    return {fold(n): n for n in names}

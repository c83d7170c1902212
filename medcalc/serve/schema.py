"""The API's request and answer shapes, for its OpenAPI schema and docs page only.

Requests are not validated by these models: a quote is read by ``Claim.from_mapping`` and an
upload by medcalc's readers, so that field names, words, amounts and messages are the CLI's.
The models say what those accept and what the answers hold (``SettlementOut`` has the
fields of ``Settlement.to_dict()``; a test holds them equal).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ClaimIn", "QuoteRequest", "SettlementOut", "SequenceOut", "StepOut", "ErrorOut", "ScoreOut", "MODELS"]

Amount = str | int | float
_AMOUNT = 'yuan: 12000, "1.2万", "12000元" (a JSON number is read exactly, as yuan)'


class ClaimIn(BaseModel):
    """A claim, as in the README's claim table; the national interface's names (psn_no, medfee_sumamt …) and
    their Chinese labels (人员编号, 医疗费总额 …) are accepted too."""

    model_config = ConfigDict(extra="allow")
    person_id: str | None = Field(None, description="the insured person (default: 'person')")
    settled_on: str = Field(description="settlement (discharge) date: 2025-03-01, 20250301, 2025/3/1")
    level: str = Field(description="hospital level: its code, the policy's Chinese name, or 三级, 3, 三甲 where unique")
    total: Amount = Field(description="医疗费总额, " + _AMOUNT)
    visit: str | None = Field(None, description="inpatient 住院 (default) or outpatient 门诊")
    service: str | None = Field(
        None, description="outpatient service of the policy (general 普通门诊, two_diseases 两病 …)"
    )
    diseases: str | list[str] | None = Field(None, description="diseases the visit treats")
    certified: str | list[str] | None = Field(None, description="慢特病 the person is certified for")
    claim_id: str | None = None
    admitted_on: str | None = None
    scheme: str | None = Field(None, description="residents 居民 or employees 职工; must match the policy")
    place: str | None = Field(None, description="local 市内, in_province 省内异地, out_of_province 跨省")
    referral: str | None = Field(
        None, description="none, referred 转诊, emergency 急诊, resident 异地长期居住, not_referred 未转诊"
    )
    category: str | None = Field(
        None,
        description="ordinary 普通, tekun 特困, dibao 低保, low_income 低收入, "
        "poverty 返贫致贫, monitored 监测对象, illness_poverty 因病致困",
    )
    age: int | str | None = None
    retired: bool | str | None = None
    self_funded: Amount | None = Field(None, description="全自费, " + _AMOUNT)
    over_limit: Amount | None = Field(None, description="超限价自费, " + _AMOUNT)
    pre_self_pay: Amount | None = Field(None, description="乙类先行自付, " + _AMOUNT)
    in_scope: Amount | None = Field(None, description="政策范围内费用 if known directly, " + _AMOUNT)
    bed_fees: Amount | None = None
    nursing_fees: Amount | None = None
    basic_paid: Amount | None = Field(
        None, description="what basic insurance paid, settled elsewhere: only the later layers are computed, " + _AMOUNT
    )
    critical_base: Amount | None = Field(None, description="the claim's 大病 qualifying self-pay, if known, " + _AMOUNT)
    critical_paid: Amount | None = Field(None, description="what 大病 insurance paid, settled elsewhere, " + _AMOUNT)


class QuoteRequest(BaseModel):
    """The policy (``policy``, or ``region`` with ``on``, ``scheme``, ``tier``) and one claim (``claim``, or its
    fields at the top level, with ``history``) or a person's claims of the year in order (``claims``)."""

    model_config = ConfigDict(extra="allow")
    policy: str | None = Field(None, description="policy id (GET /policies); never a file path")
    region: str | None = Field(None, description="instead of policy: Chinese, short or pinyin name (九江, jiujiang)")
    on: str | None = Field(None, description="with region: the date the policy must cover (default: the claim's)")
    scheme: str | None = Field(None, description="with region: residents 居民 or employees 职工")
    tier: str | None = Field(None, description="with region: contribution tier, e.g. 一档")
    claim: ClaimIn | None = None
    history: list[ClaimIn] | None = Field(None, description="the person's earlier claims this year")
    claims: list[ClaimIn] | None = Field(None, description="a person's claims of the year, in order")
    accumulators: dict[str, Any] | None = Field(
        None, description="year-to-date values before these claims (admissions, basic_paid …, amounts in yuan)"
    )
    explain: bool = Field(False, description="every step with its policy quote, and the accumulators before and after")
    table: bool = Field(False, description="add `view`: the table `medcalc quote` prints, as data")


class SourceOut(BaseModel):
    id: str
    title: str
    document: str | None
    address: str | None
    official: bool
    verified: bool
    quote: str
    note: str | None


class StepOut(BaseModel):
    mechanism: str
    title: str
    detail: str
    amount: str | None
    base: str | None
    before: str | None = Field(description="the accumulator before this step, when it has one")
    after: str | None
    rate: str | None
    rule: str | None
    source: SourceOut | None = Field(description="the policy sentence behind the step")


class SettlementOut(BaseModel):
    """``Settlement.to_dict()``: amounts as yuan strings with two decimals."""

    claim_id: str | None
    person_id: str
    settled_on: str
    policy: str
    total: str
    self_funded: str
    over_limit: str
    pre_self_pay: str
    in_scope: str
    deductible: str
    basic: str
    critical: str
    assistance: str
    backstop: str
    funds: str
    patient: str
    rate_of_total: str = Field(description="实际报销比例: funds / total")
    rate_of_in_scope: str = Field(description="政策范围内报销比例: funds / in-scope")
    steps: list[StepOut] = Field(description="with explain: every step; else empty")
    accumulators_before: dict[str, Any] | None
    accumulators_after: dict[str, Any] | None
    view: list[dict[str, Any]] | None = Field(None, description="with table: the parts `medcalc quote` prints")


class SequenceOut(BaseModel):
    policy: str
    settlements: list[SettlementOut]
    accumulators: list[dict[str, Any]] = Field(description="each person-year's accumulators after the claims")


class ErrorOut(BaseModel):
    status: int
    error: str = Field(description="the CLI's message")
    field: str | None = Field(None, description="the field at fault")
    closest: list[str] | None = Field(None, description="for an unknown policy id: the closest ids")
    read_limit: str | None = Field(
        None,
        description="for an upload refused by a read limit (413): the limit's name, as medcalc serve --limit takes it",
    )


class ScoreOut(BaseModel):
    policy: str
    rows: int
    settled: int
    rejected: int
    persons: int
    totals: dict[str, str]
    rejects_by_reason: dict[str, int]
    results: list[dict[str, Any]] = Field(
        description="the first settled rows by row number (at most the server's "
        "--max-listed-rows): row, claim_id, person_id, settled_on, "
        "policy, total, in_scope, deductible, basic, critical, "
        "assistance, backstop, funds, patient (yuan)"
    )
    results_omitted: int = Field(description="settled rows not listed in results (settled counts them all)")
    rejects: list[dict[str, Any]] = Field(
        description="the first rejected rows by row number (at most the server's "
        "--max-listed-rows): row, claim_id, field, reason"
    )
    rejects_omitted: int = Field(description="rejected rows not listed in rejects (rejected counts them all)")


#: Models whose schemas the OpenAPI document holds (request bodies are not parsed by FastAPI).
MODELS = (QuoteRequest, ClaimIn)

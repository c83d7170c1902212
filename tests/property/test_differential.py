"""The engine equals the plain reference calculator to the fen, on random policies and claims."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

import medcalc
from medcalc.engine.pipeline import settle_claims
from tests.property.strategies import claims, policies
from tests.reference import settle_all


def _engine(policy, batch):
    outcome = settle_claims(policy, batch)
    rejected = {r.row: r.field for r in outcome.rejects}
    rows = []
    for i in range(len(batch)):
        if i in rejected:
            rows.append({"rejected": rejected[i]})
        else:
            rows.append({
                "deductible": int(outcome.results["deductible"][i]),
                "basic": int(outcome.results["basic"][i]),
                "patient": int(batch[i].total - outcome.results["basic"][i]),
                "in_scope": int(outcome.columns["in_scope"][i]),
            })
    return rows


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=policies(), batch=claims())
def test_engine_equals_reference_on_random_policies(tmp_path_factory, text, batch):
    path = tmp_path_factory.mktemp("policy") / "random.toml"
    path.write_text(text, encoding="utf-8")
    policy = medcalc.load_policy(path)
    assert _engine(policy, batch) == settle_all(policy, batch)

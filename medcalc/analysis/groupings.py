"""What a fund impact report breaks its figures down by: the groupings and the cost bands.

Kept apart from ``medcalc.analysis.impact`` (which settles claims and needs numpy) so that the
command line can offer the names without loading the engine.
"""

from __future__ import annotations

__all__ = ["GROUPINGS", "COST_BANDS"]

#: Cost bands on a claim's total cost (fen): lower bound, label.
COST_BANDS = (
    (0, "<1万"),
    (1_000_000, "1万–5万"),
    (5_000_000, "5万–10万"),
    (10_000_000, "10万–30万"),
    (30_000_000, "≥30万"),
)
#: Groupings a report can break figures down by (besides "all").
GROUPINGS = ("level", "category", "cost_band", "region", "place", "visit")

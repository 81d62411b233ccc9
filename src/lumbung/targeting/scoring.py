"""PMT scores and welfare deciles (desil) per regency, as engine expressions."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from lumbung.targeting.pmt import PmtModel

DECILES = 10


def ranked(features: ir.Table, model: PmtModel) -> ir.Table:
    """household_id, kk_number, regency_code, score, decile (1 = poorest), rank_area.

    Ranked within the regency by predicted consumption, lowest first; ties go to the lower
    KK number, so the order is total and the same on every backend. Ibis's `ntile` counts
    from 0 like its window functions; desil counts from 1.
    """
    scored = features.select(
        "household_id", "kk_number", "regency_code", score=model.predict(features)
    )
    window = ibis.window(group_by=scored.regency_code, order_by=[scored.score, scored.kk_number])
    return scored.select(
        "household_id",
        "kk_number",
        "regency_code",
        "score",
        decile=(ibis.ntile(DECILES).over(window) + 1).cast("int16"),
        rank_area=(ibis.row_number().over(window) + 1).cast("int64"),
    )

"""Why a family enters, leaves or gets what it gets in a simulation: `cycles/explain.py`'s
explanation, for the scenario's changed definition and the simulation's files.

The simulation's program is handed to the explanation as a cycle that is never stored (a
`Cycle` object that no session holds), its entitlements read from the scenario's Parquet
file. Who may open a family: whoever may read the family in its region (a verifier of its
regency, say), as for a cycle; the explanation says it is a simulation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.cycles.explain import explain_family
from lumbung.cycles.models import Cycle, Entitlement
from lumbung.errors import NotFound
from lumbung.identity.nik import require_kk
from lumbung.installation.datafolder import owned
from lumbung.simulation.models import Simulation
from lumbung.simulation.service import LABEL_WORDS, scenario_file, simulation_folder


def explain_simulated(
    session: Session,
    *,
    actor: User,
    label: str,
    program: str,
    kk_number: str,
    data_dir: Path,
) -> dict[str, Any]:
    """The family's explanation in simulation `label`, program `program` (JSON-ready)."""
    require_kk(kk_number)
    owned(session, data_dir)
    row = session.execute(select(Simulation).where(Simulation.label == label)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"Simulasi {label} tidak ada.", command="lumbung simulate list")
    code = program.upper()
    results = row.summary.get("programs", {}).get(code)
    if results is None:
        raise NotFound(
            f"Simulasi {label} tidak memuat program {code} "
            f"(memuat: {', '.join(sorted(row.summary.get('programs', {})))})."
        )
    folder = simulation_folder(session, row, data_dir)
    as_cycle = Cycle(
        label=f"simulasi {label}",
        program_code=code,
        definition=results["definition"],
        definition_sha256=results["definition_sha256"],
        release_id=row.release_id,
        scoring_id=row.scoring_id,
        reference_date=row.reference_date,
        engine=row.engine,
        state="draft",
        beneficiaries=0,
        total_idr=0,
        summary={
            "folder": row.summary["folder"],
            "files": row.summary["files"],
            "components": results["components"],
        },
        created_at=row.created_at,
        created_by=row.created_by,
    )
    path = folder / scenario_file(code)

    def stored_for(beneficiaries: list[int]) -> Sequence[Entitlement]:
        table = pq.read_table(path, filters=[("beneficiary_id", "in", beneficiaries)])
        names = [
            c.removeprefix("c__").removesuffix("__persons")
            for c in table.column_names
            if c.startswith("c__") and c.endswith("__persons")
        ]
        return [
            Entitlement(
                beneficiary_id=r["beneficiary_id"],
                household_id=r["household_id"],
                kk_number=r["kk_number"],
                regency_code=r["regency_code"],
                amount_idr=r["amount_idr"],
                member_id=r.get("member_id"),
                breakdown=json.dumps(
                    {
                        n: {
                            "persons": int(r[f"c__{n}__persons"] or 0),
                            "amount_idr": int(r[f"c__{n}__amount"] or 0),
                        }
                        for n in names
                        if r[f"c__{n}__persons"]
                    }
                ),
                channel="",
                state="simulated",
            )
            for r in table.to_pylist()
        ]

    report = explain_family(
        session,
        actor=actor,
        cycle=as_cycle,
        kk_number=kk_number,
        data_dir=data_dir,
        stored_for=stored_for,
    )
    return {**report, "kind": "simulation", "simulation": label, "notice": LABEL_WORDS}

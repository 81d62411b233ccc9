"""Who reads simulations, and what of a family they see.

A simulation is national policy work: it is run, solved and deleted by a national determiner
(Action.SIMULATE) and read (list, show, compare, export) by a national determiner, admin or
auditor. Operators and verifiers, and anyone with a regional scope, are refused: the figures
are the whole registry's. A family in a simulation's sample is opened with `simulate explain`
by whoever may read the family in its region (a verifier of its regency included), the way a
cycle's family is. The sample's KK numbers are masked for a reader who sees no identities
(an auditor).
"""

from __future__ import annotations

from typing import Any

from lumbung.auth.models import User
from lumbung.auth.roles import Action, Role, entitled_to_identity
from lumbung.auth.service import authorize, require_national
from lumbung.errors import PermissionDenied
from lumbung.identity.masking import mask_id

READERS = frozenset({Role.DETERMINER, Role.ADMIN, Role.AUDITOR})


def require_reader(actor: User) -> None:
    """Raise PermissionDenied unless `actor` may read simulations (module docstring)."""
    authorize(actor, Action.READ)
    if actor.role not in READERS:
        raise PermissionDenied(
            f"Peran {actor.role.value} tidak boleh membaca simulasi kebijakan; simulasi dibaca "
            "penetap, admin dan auditor nasional."
        )
    require_national(actor, "membaca simulasi")


def masked(actor: User, simulation: dict[str, Any]) -> dict[str, Any]:
    """The simulation with its samples' KK numbers masked unless `actor` sees identities."""
    if entitled_to_identity(actor.role):
        return simulation
    programs = {}
    for code, result in simulation.get("programs", {}).items():
        families = dict(result.get("families", {}))
        for move in ("entered", "left"):
            if move in families:
                families[move] = {
                    **families[move],
                    "sample": [
                        {**s, "kk_number": mask_id(s["kk_number"])}
                        for s in families[move].get("sample", [])
                    ],
                }
        programs[code] = {**result, "families": families}
    return {**simulation, "programs": programs}

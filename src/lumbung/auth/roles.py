"""Roles, what each may do, and the regional scope rule."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    OPERATOR = "operator"  # operator desa/kelurahan: proposes
    VERIFIER = "verifier"  # Dinas Sosial kab/kota: verifies or rejects
    DETERMINER = "determiner"  # Pusdatin (ministry data centre): determines, releases
    ADMIN = "admin"  # manages users and reference data, migrates registries
    AUDITOR = "auditor"  # reads everything, changes nothing


class Action(enum.StrEnum):
    PROPOSE = "propose"
    VERIFY = "verify"
    DETERMINE = "determine"
    IMPORT = "import"
    MIGRATE = "migrate"  # import straight into verified/approved status
    RELEASE = "release"
    SCORE = "score"  # PMT scores and deciles of a release
    RUN_CYCLE = "run_cycle"
    APPROVE_CYCLE = "approve_cycle"
    MANAGE_USERS = "manage_users"
    MANAGE_AID_ITEMS = "manage_aid_items"  # the in-kind item catalogue (aid/)
    READ = "read"
    # Delivery (issue 16): openings, batches and files; a batch's approval (four eyes);
    # recording what partners answered (statements, status reports, account answers).
    PREPARE_PAYMENT = "prepare_payment"
    APPROVE_PAYMENT = "approve_payment"
    RECONCILE = "reconcile"
    # Civil registry matching (civil/): importing a Dukcapil extract, which marks the members
    # of the area it covers and proposes the changes it finds (deceased, not found, NIK).
    MATCH_CIVIL = "match_civil"
    # Merging another registry's export (linkage/merge.py): linked against the latest release,
    # its matched and new records proposed as change requests under the merger's name.
    MERGE_REGISTRY = "merge_registry"
    # Policy simulation (simulation/): running, solving and deleting scenarios. Reading them
    # is READ at national level, for a determiner, an admin or an auditor (simulation/access.py).
    SIMULATE = "simulate"


# What each action is, in the words of the messages that refuse it.
ACTION_WORDS: dict[Action, str] = {
    Action.PROPOSE: "mengusulkan perubahan data keluarga",
    Action.VERIFY: "memverifikasi atau menolak usulan",
    Action.DETERMINE: "menetapkan keluarga atau usulan",
    Action.IMPORT: "mengimpor batch",
    Action.MIGRATE: "mengimpor batch langsung sebagai terverifikasi/ditetapkan (migrasi)",
    Action.RELEASE: "membuat rilis",
    Action.SCORE: "menghitung skor PMT",
    Action.RUN_CYCLE: "menjalankan siklus",
    Action.APPROVE_CYCLE: "menyetujui siklus",
    Action.MANAGE_USERS: "mengelola pengguna",
    Action.MANAGE_AID_ITEMS: "mengelola katalog barang bantuan",
    Action.READ: "membaca data registry",
    Action.PREPARE_PAYMENT: "menyiapkan pembayaran (pembukaan rekening, batch, berkas bank)",
    Action.APPROVE_PAYMENT: "menyetujui batch pembayaran",
    Action.RECONCILE: "mencatat hasil pembayaran dari mitra",
    Action.MATCH_CIVIL: "mengimpor ekstrak Dukcapil (padan data kependudukan)",
    Action.MERGE_REGISTRY: "menggabungkan data registry lain (usulan perubahan massal)",
    Action.SIMULATE: "menjalankan atau menghapus simulasi kebijakan",
}

PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.OPERATOR: frozenset({Action.PROPOSE, Action.IMPORT, Action.READ}),
    Role.VERIFIER: frozenset({Action.VERIFY, Action.IMPORT, Action.READ}),
    Role.DETERMINER: frozenset(
        {
            Action.DETERMINE,
            Action.RELEASE,
            Action.SCORE,
            Action.RUN_CYCLE,
            Action.APPROVE_CYCLE,
            Action.PREPARE_PAYMENT,
            Action.APPROVE_PAYMENT,
            Action.RECONCILE,
            Action.SIMULATE,
            Action.READ,
        }
    ),
    Role.ADMIN: frozenset(
        {
            Action.MANAGE_USERS,
            Action.MANAGE_AID_ITEMS,
            Action.MIGRATE,
            Action.IMPORT,
            Action.MATCH_CIVIL,
            Action.MERGE_REGISTRY,
            Action.READ,
        }
    ),
    Role.AUDITOR: frozenset({Action.READ}),
}


# Who sees people's NIKs and names in full (within their region, which every read enforces):
# those who act on families. An auditor reads everything, masked (docs/ARCHITECTURE.md,
# "Masking"). Lists of people (a search's NIKs, a cycle's beneficiaries, explain) are masked
# for every reader whatever this says.
IDENTITY_READERS: frozenset[Role] = frozenset(
    {Role.OPERATOR, Role.VERIFIER, Role.DETERMINER, Role.ADMIN}
)


def entitled_to_identity(role: Role) -> bool:
    """Whether a reader of this role sees NIKs and names in full (else masked)."""
    return role in IDENTITY_READERS


def may(role: Role, action: Action) -> bool:
    return action in PERMISSIONS[role]


def in_scope(scope: str | None, region_code: str) -> bool:
    """Whether a region (any level, dotted code) lies inside a user's scope (None = national)."""
    return scope is None or region_code == scope or region_code.startswith(scope + ".")

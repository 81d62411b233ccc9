"""Every table, imported in one place for Alembic and the test fixtures."""

from lumbung.aid.models import AidDistribution, AidImport, AidItem, AidItemProgram, AidProgram
from lumbung.audit.models import AuditEvent
from lumbung.auth.models import ApiToken, SignInAttempt, User, WebSession
from lumbung.civil.models import CivilImport, CivilMatch
from lumbung.cycles.models import Cycle, Enrollment, Entitlement
from lumbung.db import Base
from lumbung.delivery.models import (
    AccountOpening,
    AccountOpeningRow,
    PaymentBatch,
    PaymentEvent,
    PaymentItem,
)
from lumbung.delivery.pos.models import PartnerToken, Voucher
from lumbung.installation.models import Installation
from lumbung.jobs.models import Job
from lumbung.linkage.merge_models import LinkMerge, LinkMergeRecord
from lumbung.linkage.models import LinkDecision, LinkPair, LinkRun
from lumbung.payees.models import Partner, PartnerRegion, PayeeAccount
from lumbung.programs.models import Program
from lumbung.regions.models import Region
from lumbung.registry.models import ChangeRequest, DuplicateReview, Household, ImportBatch, Member
from lumbung.releases.models import Release
from lumbung.simulation.models import Simulation
from lumbung.targeting.models import PmtModelRecord, PmtScore, Scoring

__all__ = [
    "AccountOpening",
    "AccountOpeningRow",
    "AidDistribution",
    "AidImport",
    "AidItem",
    "AidItemProgram",
    "AidProgram",
    "ApiToken",
    "AuditEvent",
    "Base",
    "ChangeRequest",
    "CivilImport",
    "CivilMatch",
    "Cycle",
    "DuplicateReview",
    "Enrollment",
    "Entitlement",
    "Household",
    "ImportBatch",
    "Installation",
    "Job",
    "LinkDecision",
    "LinkMerge",
    "LinkMergeRecord",
    "LinkPair",
    "LinkRun",
    "Member",
    "Partner",
    "PartnerRegion",
    "PartnerToken",
    "PayeeAccount",
    "PaymentBatch",
    "PaymentEvent",
    "PaymentItem",
    "PmtModelRecord",
    "PmtScore",
    "Program",
    "Region",
    "Release",
    "Scoring",
    "SignInAttempt",
    "Simulation",
    "User",
    "Voucher",
    "WebSession",
]

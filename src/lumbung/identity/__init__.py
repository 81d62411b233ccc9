"""NIK and KK checks, name normalisation for matching, masking for display."""

from lumbung.identity.masking import mask_id, mask_name
from lumbung.identity.names import normalise_name
from lumbung.identity.nik import IdentityIssue, check_kk, check_nik

__all__ = ["IdentityIssue", "check_kk", "check_nik", "mask_id", "mask_name", "normalise_name"]

"""Account and card numbers: their form, and how they are shown."""

from __future__ import annotations

import re

ACCOUNT_NUMBER = re.compile(r"\d{8,20}")  # Himbara account numbers: 10 (BNI) to 15 (BRI) digits
CARD_NUMBER = re.compile(r"\d{16}")  # a KKS card

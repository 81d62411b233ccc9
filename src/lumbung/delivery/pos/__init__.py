"""The PT Pos channel: vouchers with signed QR tokens, invitation letters as PDF, counters'
partner tokens and the redemption that pays each voucher exactly once."""

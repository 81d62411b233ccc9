"""The registry: households, members, change requests, approvals, import."""

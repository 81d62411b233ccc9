"""Releases: determined, immutable Parquet snapshots of the approved registry."""

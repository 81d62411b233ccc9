"""Record linkage: the same person and the same family across the registry and other sources.

Probabilistic (Fellegi–Sunter) on Splink, Indonesian-aware, with a review queue; see
docs/ARCHITECTURE.md, "Record linkage". `pairs.py` is the contract between the matching
engine, which writes a run's files, and the review queue, which reads them.
"""

"""Synthetic registry batches for tests, demos and benchmarks (the `lumbung synth` command)."""

from lumbung.synth.generator import REFERENCE_DATE, SynthSummary, generate

__all__ = ["REFERENCE_DATE", "SynthSummary", "generate"]

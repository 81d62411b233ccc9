"""Lumbung: social registry and benefits-delivery platform."""

__version__ = "0.1.0"

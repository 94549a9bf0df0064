"""Warmline: an open-source customer care platform."""

__version__ = "0.1.0"

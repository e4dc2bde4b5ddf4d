"""The report: one definition (definition.py) drives forms, pages, review, PDF and exports."""
from . import kinds

__all__ = ["kinds"]  # imported first so every field kind is registered behind Field.kind_of

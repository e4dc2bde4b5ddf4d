"""The report: one definition (definition.py) drives forms, pages, review, PDF and exports."""

"""ildwh: a clinical research data warehouse for the ADM-ILD cohort study."""

__version__ = "0.1.0"


class IldwhError(Exception):
    """An error a person can act on: the message names the file, line and fix."""

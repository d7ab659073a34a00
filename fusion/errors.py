"""Exceptions of the analysis core. Messages say what is wrong and what to do."""


class FusionError(Exception):
    """Root of every error raised by `fusion`."""


class AnalysisError(FusionError):
    """The recording cannot be analysed (too short, no motion, sensors do not overlap...)."""

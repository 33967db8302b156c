"""Exceptions shared by every layer.

One base class, :class:`DetectorError`, so the CLI and the API can turn any
expected failure into a one-line message (CLI) or a status code (API) without
ever showing a traceback. Lower errors are wrapped with ``raise ... from exc``
and the message names the file, table, column or row involved.
"""

from __future__ import annotations


class DetectorError(Exception):
    """Base class of every error the detector raises on purpose."""

    #: exit code the CLI uses for this kind of error
    exit_code: int = 1


class ContractError(DetectorError):
    """The input does not follow the data contract and cannot be used.

    Raised for a missing data folder, a missing required table or column, or a
    file that cannot be decoded at all. Dirty *rows* never raise this: they are
    reported in the data-quality report and the good rows go on.
    """

    exit_code = 2


class UsageError(DetectorError):
    """The command was asked for something that cannot be done (bad option value)."""

    exit_code = 2

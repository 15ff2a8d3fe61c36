"""Errors and the documented exit codes.

Exit codes (stable, documented in README):
  0  clean: nothing stops the model on the chosen target (`fix`: fixed and parity passed)
  1  findings that stop the model from running on the chosen target (`fix`: not fixed)
  2  bad input or usage: not a TFLite file, truncated/damaged, unreadable path, bad option
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2


class OpauditError(Exception):
    """Base class: the message is one line meant for the user."""

    exit_code = EXIT_BAD_INPUT


class ModelFormatError(OpauditError):
    """The file is not a TFLite flatbuffer, or is damaged (offsets/sizes out of range)."""


class UsageError(OpauditError):
    """Bad option value (e.g. a malformed `--input-shape`)."""

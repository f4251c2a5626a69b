"""Log lines that say what happened and nothing else: control characters in a logged value
(a charge point's id or `techInfo`, a user name) are escaped, so no one can forge a line of
their own (`\n2026-... WARNING login ...`) or hide one with a carriage return."""

from __future__ import annotations

import logging
import re

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def escape_controls(text: str) -> str:
    return _CONTROL.sub(_escaped, text)


class EscapingFormatter(logging.Formatter):
    """The record's line escaped; a traceback after it stays as Python wrote it."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))

"""aiohttp's StreamWriter, primed so that every socket's writer shares one attribute table.

CPython 3.11 shares one attribute table among a class's instances, but lets it grow only
while few instances have been made: aiohttp's StreamWriter gets its last two attributes
(`buffer_size`, `output_size`, set in its private `_write`) on its first write, which for
a charge point comes after admission's await, by when a reconnect storm has made many.
One made and given them first gives the table all its attributes, so that sockets keep no
dict of their own. This is the only module that relies on those names:
tests/test_library_internals.py fails when an upgrade changes them.
"""

from __future__ import annotations

from aiohttp.http_writer import StreamWriter

# The attributes StreamWriter's first write adds, in the order it adds them.
FIRST_WRITE_ATTRIBUTES = ("buffer_size", "output_size")


def prime_stream_writer() -> None:
    writer = StreamWriter(None, None)  # type: ignore[arg-type]  # never writes
    for name in FIRST_WRITE_ATTRIBUTES:
        setattr(writer, name, 0)

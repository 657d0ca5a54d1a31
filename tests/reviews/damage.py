"""Zip files damaged the way a disk or a transfer damages them, for tests of refusals."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib


def corrupt_member(data: bytes, name: str) -> bytes:
    """The archive with bytes flipped inside the deflated stream of one member (sizes,
    headers and the manifest's checksums untouched), so that reading it raises zlib.error,
    not merely a checksum or CRC mismatch."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(name)
    assert info.compress_type == zipfile.ZIP_DEFLATED and info.compress_size > 40
    local = info.header_offset
    name_len, extra_len = struct.unpack("<HH", data[local + 26 : local + 30])
    start = local + 30 + name_len + extra_len
    for offset in range(2, info.compress_size - 16):
        damaged = bytearray(data)
        for i in range(start + offset, start + offset + 12):
            damaged[i] ^= 0xFF
        with zipfile.ZipFile(io.BytesIO(bytes(damaged))) as archive:
            try:
                archive.read(name)
            except zlib.error:
                return bytes(damaged)
            except zipfile.BadZipFile:
                continue  # only the CRC caught it: flip elsewhere
    raise AssertionError(f"no flip of {name} made its deflate stream invalid")

"""Hostile files built by hand, byte by byte, so that their headers say exactly what a test needs: zips with
encrypted, Deflate64 or lying members and bombs; EXIF blocks with malformed tags; an icon holding a PNG of
170 million rows. Each is small and quick to build."""

from __future__ import annotations

import bz2
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass

from PIL import Image

DEFLATE64 = 9  # the zip method Windows' zipper uses for large files; Python cannot unpack it
ENCRYPTED = 0x1  # zip flag bit 0: the member is encrypted
ORIENTATION = 0x0112  # the EXIF tag of how the camera was held
SHORT, LONG, FLOAT = 3, 4, 11  # EXIF (TIFF) field types


# ---------------------------------------------------------------- zips


@dataclass(frozen=True)
class Member:
    """One file in a handmade zip: its name and content, and what its headers say about it."""

    name: str
    data: bytes = b""
    method: int = zipfile.ZIP_DEFLATED
    flags: int = 0
    size: int | None = None  # the size the headers declare; None: len(data)
    crc: int | None = None  # the CRC-32 they declare; None: the data's
    stored: bytes | None = None  # the bytes stored; None: data compressed by `method`


def compress(data: bytes, method: int) -> bytes:
    """Data as a zip stores it with this method (raw Deflate, bzip2, or as it is for any other method)."""
    if method == zipfile.ZIP_DEFLATED:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        return compressor.compress(data) + compressor.flush()
    if method == zipfile.ZIP_BZIP2:
        return bz2.compress(data)
    return data


def zip_of(members: list[Member]) -> bytes:
    """A zip archive of the members, every header field as the members say (no zip64: under 4 GiB)."""
    body, directory = bytearray(), bytearray()
    for member in members:
        name = member.name.encode()
        stored = compress(member.data, member.method) if member.stored is None else member.stored
        size = len(member.data) if member.size is None else member.size
        crc = zlib.crc32(member.data) if member.crc is None else member.crc
        fields = struct.pack("<HHHHHIII", 20, member.flags, member.method, 0, 0x21, crc, len(stored), size)
        offset = len(body)
        body += b"PK\x03\x04" + fields + struct.pack("<HH", len(name), 0) + name + stored
        directory += b"PK\x01\x02" + struct.pack("<H", 20) + fields
        directory += struct.pack("<HHHHHII", len(name), 0, 0, 0, 0, 0, offset) + name
    end = struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), len(body), 0
    )
    return bytes(body + directory + end)


def zeros_compressed(size: int, wbits: int = -15) -> bytes:
    """`size` zero bytes compressed (raw Deflate; wbits=15: a zlib stream), in a moment however large: a
    block is compressed then flushed so that the next does not refer to it, and the next block's bytes
    stand for every later one."""
    block, blocks = 1 << 20, size // (1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    flushed = [
        compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH) for _ in range(min(blocks, 2))
    ]
    stream = b"".join(flushed[:1] + flushed[1:] * (blocks - 1))
    stream += compressor.compress(bytes(size % block)) + compressor.flush()
    if wbits > 0:  # the zlib trailer: the Adler-32 of `size` zero bytes (the compressor saw fewer)
        stream = stream[:-4] + struct.pack(">I", 1 | (size % 65521) << 16)
    return stream


def zip_bomb(name: str, size: int) -> bytes:
    """A zip whose one member unpacks to `size` zero bytes (its CRC is not worked out: it takes seconds)."""
    return zip_of([Member(name, size=size, crc=0, stored=zeros_compressed(size))])


# ---------------------------------------------------------------- images


def exif_block(entries: list[tuple[int, int, int, bytes]]) -> bytes:
    """An EXIF block (as a JPEG's APP1 segment holds it) of one little-endian IFD with these entries, each
    (tag, type, count, its 4 bytes of value or offset), written as given, however wrong."""
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack("<HHI", tag, kind, count) + value[:4].ljust(4, b"\0")
    return b"Exif\0\0II*\0" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0)


def orientation_entry(orientation: int) -> tuple[int, int, int, bytes]:
    """The EXIF entry that says how the camera was held (1: upright, 6: turned a quarter clockwise...)."""
    return ORIENTATION, SHORT, 1, struct.pack("<H", orientation)


def encoded(image: Image.Image, image_format: str, **options) -> bytes:
    """The bytes of `image` saved in `image_format`."""
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, kind, body and CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def black_png(width: int, height: int) -> bytes:
    """A whole, valid 8-bit gray PNG, all black, of any size, built in a moment (336 KB for 1 x 170,000,000):
    its rows are zero bytes (see zeros_compressed)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zeros_compressed((1 + width) * height, wbits=15)  # each row: a filter byte, then its pixels
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", pixels) + _chunk(b"IEND", b"")


def icon_holding(png: bytes, side: int = 16) -> bytes:
    """A Windows icon (ICO) whose one entry says side x side and holds this PNG, whatever its real size."""
    entry = struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), 22)
    return struct.pack("<HHH", 0, 1, 1) + entry + png


def photoshop_gray(width: int, height: int) -> bytes:
    """A minimal Photoshop (PSD) file: one 8-bit gray channel, all black, stored raw."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 1, height, width, 8, 1)
    return header + struct.pack(">IIIH", 0, 0, 0, 0) + bytes(width * height)

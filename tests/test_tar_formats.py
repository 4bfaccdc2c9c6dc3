"""The tar reader against the header shapes real layers use, not only tarfile's PAX default: GNU
long-name ('L') and long-link ('K') records, the POSIX ustar prefix field, base-256 numbers (large
uids, negative mtimes), old pre-POSIX directories. Every shape is read both on the fast header path
and on the general path (hashing), and compared with what Python's tarfile reads from the same bytes."""

from __future__ import annotations

import io
import tarfile

import pytest

from imgopt.model import DIR, FILE, HARDLINK, SYMLINK
from imgopt.sources.core import ContentPlan
from imgopt.sources.streams import FileSource
from imgopt.sources.tar import parse_layer

LONG_DIR = "usr/lib/python3/dist-packages/" + "a_rather_long_package_name/" * 3
LONG_FILE = LONG_DIR + "module_with_a_long_name_too.cpython-311-x86_64-linux-gnu.so"


def _tar(fmt: int, members: list[tuple[str, str, bytes | str, dict[str, int]]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for kind, name, data, attrs in members:
            info = tarfile.TarInfo(name)
            for k, v in attrs.items():
                setattr(info, k, v)
            if kind == "file":
                assert isinstance(data, bytes)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}[kind]
            if isinstance(data, str):
                info.linkname = data
            t.addfile(info)
    return buf.getvalue()


MEMBERS = [
    ("dir", LONG_DIR, b"", {"mode": 0o755}),
    ("file", LONG_FILE, b"\x7fELF" + b"x" * 3000, {"mode": 0o755, "uid": 3_000_000, "gid": 2**24}),  # base-256
    ("symlink", "usr/lib/libshort.so", LONG_FILE, {}),  # long link target: a 'K' record in GNU tar
    ("hardlink", LONG_DIR + "hard", LONG_FILE, {}),
    ("file", "etc/old", b"o" * 10, {"mtime": -86400}),  # before 1970: base-256 in GNU tar
    ("file", "etc/plain", b"p" * 600, {"mtime": 1_700_000_000}),
]


def _expected(data: bytes) -> list[tuple[object, ...]]:
    out = []
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        for m in t.getmembers():
            kind = DIR if m.isdir() else SYMLINK if m.issym() else HARDLINK if m.islnk() else FILE
            link = m.linkname or None
            out.append((m.name.rstrip("/"), kind, m.size if m.isfile() else 0, m.mode, m.uid, m.gid, m.mtime, link))
    return out


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT], ids=["gnu", "pax"])
@pytest.mark.parametrize("hashing", [False, True], ids=["headers", "hashing"])
def test_long_names_links_and_base256_numbers(fmt: int, hashing: bool) -> None:
    data = _tar(fmt, MEMBERS)
    if fmt == tarfile.GNU_FORMAT:
        assert b"././@LongLink" in data  # GNU 'L'/'K' records are really there
        assert any(data[i + 108] & 0x80 for i in range(0, len(data), 512) if data[i + 257 : i + 262] == b"ustar")
    layer = parse_layer(FileSource(io.BytesIO(data), len(data)), "test", content=ContentPlan(hash=hashing))
    got = [(e.path, e.kind, e.size, e.mode, e.uid, e.gid, e.mtime, e.linkname) for e in layer.entries]
    assert got == _expected(data)
    assert layer.size == sum(len(m[2]) for m in MEMBERS if m[0] == "file")


def test_the_ustar_prefix_field() -> None:
    """POSIX ustar (no PAX, no GNU records): a path longer than 100 bytes is split into prefix/name."""
    name = "opt/" + "p" * 120 + "/bin/tool"
    data = _tar(tarfile.USTAR_FORMAT, [("file", name, b"t" * 42, {"mode": 0o755})])
    assert data[345:350] == b"opt/p"  # the prefix field holds the head of the path
    for hashing in (False, True):
        layer = parse_layer(FileSource(io.BytesIO(data), len(data)), "test", content=ContentPlan(hash=hashing))
        assert [(e.path, e.size) for e in layer.entries] == [(name, 42)]


def test_old_style_directories_and_numbers_with_spaces() -> None:
    """Pre-POSIX tars mark directories by a trailing slash on a regular-file type; octal fields may
    be padded with spaces instead of NULs."""
    data = bytearray(_tar(tarfile.USTAR_FORMAT, [("file", "srv/", b"", {"mode": 0o755}), ("file", "srv/x", b"1", {})]))
    data[156] = 0  # typeflag NUL (old regular file)
    data[257:265] = bytes(8)  # no ustar magic
    data[100:108] = b"   755 \0"
    chk = sum(data[0:148]) + 8 * 32 + sum(data[156:512])
    data[148:156] = b"%06o\0 " % chk
    layer = parse_layer(FileSource(io.BytesIO(bytes(data)), len(data)), "test")
    assert [(e.path, e.kind, e.mode) for e in layer.entries] == [("srv", DIR, 0o755), ("srv/x", FILE, 0o644)]

"""The org bundle's files: read from a folder, a zip file or zip bytes (bounded), written back.

A zip may hold at most ``MAX_MEMBERS`` entries and inflate to at most ``MAX_MEMBER_BYTES`` a file
and ``MAX_BUNDLE_BYTES`` in all, counted while inflating (a header's size can lie).
"""

from __future__ import annotations

import io
import logging
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

from qingzhi.errors import ValidationFailed

log = logging.getLogger(__name__)

BUREAU, UNITS, ZONES, OFFICERS = "bureau.json", "units.geojson", "zones.geojson", "officers.csv"
FILES = (BUREAU, UNITS, ZONES, OFFICERS)
OFFICER_COLUMNS = [
    "police_number",
    "name",
    "kind",
    "unit",
    "team",
    "zone",
    "duty_status",
    "active",
    "synthetic",
]

MAX_MEMBERS = 20  # entries in a zip bundle (it needs four)
MAX_MEMBER_BYTES = 64 * 1024 * 1024  # one file, uncompressed
MAX_BUNDLE_BYTES = 128 * 1024 * 1024  # all files, uncompressed
_CHUNK = 1024 * 1024


def _too_big(name: str, limit: int) -> ValidationFailed:
    return ValidationFailed.field("bundle", f"{name} 解压后超过 {limit // (1024 * 1024)} MB")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """One member, read in chunks and counted as it inflates (a header's size can lie)."""
    limit = min(MAX_MEMBER_BYTES, budget)
    parts: list[bytes] = []
    size = 0
    with zf.open(info) as member:
        while chunk := member.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                which = info.filename if limit == MAX_MEMBER_BYTES else "导入包"
                raise _too_big(which, limit if limit == MAX_MEMBER_BYTES else MAX_BUNDLE_BYTES)
            parts.append(chunk)
    return b"".join(parts)


def _members(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The bundle's files among a zip's entries, by base name; too many entries, a file twice
    or an encrypted one are refused."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ValidationFailed.field("bundle", f"zip 内文件过多（最多 {MAX_MEMBERS} 个）")
    wanted: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
        if info.is_dir() or name not in FILES:
            continue
        if name in wanted:
            raise ValidationFailed.field("bundle", f"zip 内有多个 {name}")
        if info.flag_bits & 0x1:
            raise ValidationFailed.field("bundle", f"{name} 已加密，无法读取")
        wanted[name] = info
    return wanted


def _read_zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        wanted = _members(zf)
        # Refuse early by the declared sizes, then count the real bytes while inflating.
        if sum(info.file_size for info in wanted.values()) > MAX_BUNDLE_BYTES:
            raise _too_big("导入包", MAX_BUNDLE_BYTES)
        out: dict[str, bytes] = {}
        budget = MAX_BUNDLE_BYTES
        for name in FILES:
            if name in wanted:
                if wanted[name].file_size > MAX_MEMBER_BYTES:
                    raise _too_big(name, MAX_MEMBER_BYTES)
                out[name] = _read_member(zf, wanted[name], budget)
                budget -= len(out[name])
        return out


def read_bundle(source: Path | bytes) -> dict[str, bytes]:
    """The bundle's files from a folder, a zip file path or zip bytes; a zip may hold at most
    ``MAX_MEMBERS`` entries and inflate to at most ``MAX_MEMBER_BYTES`` a file and
    ``MAX_BUNDLE_BYTES`` in all (counted while inflating, not taken from its headers)."""
    if isinstance(source, Path) and source.is_dir():
        out: dict[str, bytes] = {}
        for name in FILES:
            path = source / name
            if path.exists():
                if path.stat().st_size > MAX_MEMBER_BYTES:
                    raise _too_big(name, MAX_MEMBER_BYTES)
                out[name] = path.read_bytes()
        return out
    try:
        data = source.read_bytes() if isinstance(source, Path) else source
        return _read_zip(data)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error) as exc:
        raise ValidationFailed.field("bundle", f"不是文件夹或 zip 文件：{exc}") from None
    except NotImplementedError as exc:  # an unsupported compression method
        raise ValidationFailed.field("bundle", f"zip 压缩方式不受支持：{exc}") from None


def zip_bundle(files: Mapping[str, bytes]) -> bytes:
    """The bundle's files as one zip archive."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def write_bundle(files: Mapping[str, bytes], target: Path) -> None:
    """Write the bundle's files to a folder, or a zip when ``target`` ends in .zip."""
    if target.suffix == ".zip":
        target.write_bytes(zip_bundle(files))
        return
    target.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (target / name).write_bytes(data)

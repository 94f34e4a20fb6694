"""The backup file: a header, then SM4-GCM encrypted chunks of a compressed stream of entries.

Layout::

    GSBACKUP1\\n | header length (4 bytes) | header (JSON) | frame* ...
    frame = flag (1 byte: 1 on the last frame) | length (4 bytes) | SM4-GCM blob

The header is readable without a key: format, time, dialect, schema revision, the id of the backup
key, the per-backup data key wrapped under that key, and the public key of the signer. Every frame
is encrypted under the data key with the header's SM3, the frame's index and its last-frame flag as
associated data: a changed header, a changed, dropped, reordered or appended frame, or a cut-off
file fails authentication. Inside, the entries are JSON lines (`snapshot.py` writes them); the last
entry holds the manifest (per table its row count and checksum, per file its size and SM3) and an
SM2 signature over it.

A development platform has no managed keys, so a development backup carries the data dir's
generated secrets in its header (`development_secrets`): it restores anywhere, and its encryption
then only detects damage. Production backups carry no secret; restoring one needs the same
`GOVSHARE_BACKUP_KEY`.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from govshare.crypto import hmac_sm3, sm3, sm3_hex, sm4_gcm_decrypt, sm4_gcm_encrypt

MAGIC = b"GSBACKUP1\n"
FORMAT = 1
CHUNK_BYTES = 1 << 20
MAX_HEADER = 1 << 20
MAX_FRAME = CHUNK_BYTES + (1 << 16)
_LENGTH = struct.Struct(">I")
_FRAME = struct.Struct(">BI")
_WRAP_AAD = b"govshare-backup/data-key"


class BackupError(ValueError):
    """A backup that cannot be read or trusted; the message says why, in Chinese and English."""

    def __init__(self, message: str, message_en: str) -> None:
        super().__init__(f"{message}（{message_en}）")
        self.message = message
        self.message_en = message_en


def key_id(backup_key: bytes) -> str:
    return sm3_hex(b"govshare-backup-key-id:" + backup_key)[:8]


def _kek(backup_key: bytes) -> bytes:
    return bytes.fromhex(hmac_sm3(backup_key, b"govshare/backup/kek"))[:16]


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _aad(header_digest: bytes, index: int, last: bool) -> bytes:
    return header_digest + struct.pack(">Q?", index, last)


class ArchiveWriter:
    """Writes entries to `out`; `close()` writes the last frame. Not thread-safe."""

    def __init__(self, out: BinaryIO, header: dict[str, Any], backup_key: bytes) -> None:
        self._out = out
        self._data_key = os.urandom(16)
        wrapped = sm4_gcm_encrypt(_kek(backup_key), self._data_key, _WRAP_AAD)
        self.header = dict(
            header,
            format=FORMAT,
            key_id=key_id(backup_key),
            wrapped_key=base64.b64encode(wrapped).decode(),
        )
        raw = canonical(self.header)
        self.header_sm3 = sm3_hex(raw)
        self._digest = sm3(raw)
        out.write(MAGIC + _LENGTH.pack(len(raw)) + raw)
        self._zip = zlib.compressobj(6)
        self._pending = bytearray()
        self._index = 0
        self.size = len(MAGIC) + _LENGTH.size + len(raw)

    def write_line(self, line: bytes) -> None:
        """One entry, already encoded as a JSON line."""
        self._pending += self._zip.compress(line)
        while len(self._pending) >= CHUNK_BYTES:  # a long line (a report's PDF) spans several frames
            self._frame(last=False)

    def entry(self, obj: dict[str, Any]) -> None:
        self.write_line(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")

    def close(self) -> None:
        self._pending += self._zip.flush()
        self._frame(last=True)

    def _frame(self, *, last: bool) -> None:
        """Encrypt and write at most CHUNK_BYTES of what is pending (all of it when `last`)."""
        while last and len(self._pending) > CHUNK_BYTES:
            self._frame(last=False)
        piece = bytes(self._pending[:CHUNK_BYTES])
        del self._pending[:CHUNK_BYTES]
        blob = sm4_gcm_encrypt(self._data_key, piece, _aad(self._digest, self._index, last))
        self._out.write(_FRAME.pack(int(last), len(blob)) + blob)
        self.size += _FRAME.size + len(blob)
        self._index += 1


def _damaged(detail: str) -> BackupError:
    return BackupError(
        f"备份文件已损坏或被篡改（{detail}），未恢复任何数据。请使用完好的备份文件。",
        f"the backup file is damaged or has been tampered with ({detail}); nothing was restored",
    )


def read_header(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        return _header(f)[0]


def _header(f: BinaryIO) -> tuple[dict[str, Any], bytes]:
    if f.read(len(MAGIC)) != MAGIC:
        raise BackupError("这不是 GovShare 备份文件", "not a GovShare backup file")
    size_bytes = f.read(_LENGTH.size)
    if len(size_bytes) != _LENGTH.size:
        raise _damaged("文件头不完整")
    (size,) = _LENGTH.unpack(size_bytes)
    if size > MAX_HEADER:
        raise _damaged("文件头长度异常")
    raw = f.read(size)
    try:
        header = json.loads(raw)
    except ValueError:
        raise _damaged("文件头无法解析") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupError(
            "备份文件格式版本不受支持，请使用相同或更新版本的 GovShare 恢复",
            "unsupported backup format version",
        )
    return header, raw


def unwrap_key(header: dict[str, Any], backup_key: bytes) -> bytes:
    if header.get("key_id") != key_id(backup_key):
        raise BackupError(
            f"备份由另一把备份密钥加密（密钥标识 {header.get('key_id')}），请配置当时的 GOVSHARE_BACKUP_KEY",
            f"the backup was encrypted with another backup key (key id {header.get('key_id')})",
        )
    try:
        return sm4_gcm_decrypt(_kek(backup_key), base64.b64decode(header["wrapped_key"]), _WRAP_AAD)
    except (ValueError, KeyError, TypeError):
        raise _damaged("数据密钥无法解开") from None


def entries(path: Path, backup_key: bytes) -> Iterator[dict[str, Any]]:
    """Every entry of the backup, in order; BackupError at the first frame that fails to authenticate,
    a truncated file, or bytes after the last frame."""
    with path.open("rb") as f:
        header, raw = _header(f)
        data_key = unwrap_key(header, backup_key)
        digest = sm3(raw)
        unzip = zlib.decompressobj()
        tail = b""
        index = 0
        while True:
            frame = f.read(_FRAME.size)
            if len(frame) != _FRAME.size:
                raise _damaged("文件被截断")
            last, size = _FRAME.unpack(frame)
            if last not in (0, 1) or size > MAX_FRAME:
                raise _damaged(f"第 {index + 1} 段长度异常")
            blob = f.read(size)
            if len(blob) != size:
                raise _damaged("文件被截断")
            try:
                plain = sm4_gcm_decrypt(data_key, blob, _aad(digest, index, bool(last)))
                data = unzip.decompress(plain)
            except (ValueError, zlib.error):
                raise _damaged(f"第 {index + 1} 段校验失败") from None
            lines = (tail + data).split(b"\n")
            tail = lines.pop()
            for line in lines:
                yield json.loads(line)
            index += 1
            if last:
                break
        if f.read(1) or tail or not unzip.eof:
            raise _damaged("末尾有多余数据")

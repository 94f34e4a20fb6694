"""A batch's body: its modes and formats, spooling it to disk while hashing it, and reading its rows.

The body is spooled to a temporary file while its SM3 is computed (`Spooler`, or `from_file` for a
local file), then read row by row (`records`): CSV in UTF-8 or GB 18030 (declared or detected),
NDJSON, or a JSON array read element by element — never whole. The file has a path (`spool`), so
that a helper process can read a large body too (`reading`).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives import hashes

from govshare.errors import Invalid, TooLarge
from govshare.exchange.jsonstream import json_array

REASON_COLUMN = "原因"  # the last column of a quarantine download (exchange.views)
SNIFF_BYTES = 64 * 1024


class Mode(StrEnum):
    upsert = "upsert"
    snapshot = "snapshot"
    delete = "delete"


class Format(StrEnum):
    csv = "csv"
    json = "json"
    ndjson = "ndjson"

    @classmethod
    def of(cls, content_type: str) -> Format:
        kind = content_type.split(";")[0].strip().lower()
        formats = {
            "text/csv": cls.csv,
            "application/csv": cls.csv,
            "application/json": cls.json,
            "application/x-ndjson": cls.ndjson,
            "application/ndjson": cls.ndjson,
        }
        if kind not in formats:
            raise Invalid(
                "不支持的数据格式；Content-Type 应为 text/csv、application/json（数组）"
                "或 application/x-ndjson。",
                f"Unsupported Content-Type {kind!r}.",
                details={"field": "Content-Type"},
            )
        return formats[kind]


@dataclass
class Spooled:
    """A request body in a file, with its size and SM3."""

    file: IO[bytes]
    size: int
    sm3: str

    @property
    def path(self) -> str | None:
        """Where another process can open the body (None for a file without a name)."""
        name = getattr(self.file, "name", None)
        return name if isinstance(name, str) and Path(name).is_file() else None


def spool() -> IO[bytes]:
    """A temporary file for a body, deleted when closed (readable only by this user). A named file,
    not an in-memory buffer: the page cache keeps a small one in memory anyway, and a large one can be
    read by the helper process that checks it (`reading`)."""
    return tempfile.NamedTemporaryFile(prefix="govshare-body-")


class Spooler:
    """Copies a body into a temporary file (`spool`) while hashing it with SM3, and refuses it past
    `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.digest = hashes.Hash(hashes.SM3())
        self.file = spool()
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.file.close()
            raise TooLarge(
                f"批次超过 {self.limit // (1024 * 1024)} MB 上限，请拆分为多个批次提交。",
                f"Batch larger than {self.limit} bytes.",
            )
        self.digest.update(chunk)
        self.file.write(chunk)

    def done(self) -> Spooled:
        self.file.flush()
        self.file.seek(0)
        return Spooled(self.file, self.size, self.digest.finalize().hex())


def from_file(file: IO[bytes]) -> Spooled:
    """A local file as a body (the CLI): hashed in place, not copied."""
    digest = hashes.Hash(hashes.SM3())
    size = 0
    while chunk := file.read(1024 * 1024):
        digest.update(chunk)
        size += len(chunk)
    file.seek(0)
    return Spooled(file, size, digest.finalize().hex())


@dataclass(frozen=True)
class BatchRequest:
    resource_id: int
    body: Spooled
    content_type: str
    mode: Mode = Mode.upsert
    encoding: str | None = None
    idempotency_key: str | None = None
    declared_sm3: str | None = None
    source: str = "push"
    allow_mass_retire: bool = False
    # Told the body's read position (bytes) after each chunk of rows: the CLI's progress bar.
    progress: Callable[[int], None] | None = None


# --- reading the body ----------------------------------------------------------------------------


def _declared(declared: str) -> str:
    """The codec a declared `?encoding=` names (Invalid, naming the field, when none)."""
    try:
        return codecs.lookup(declared).name
    except LookupError:
        raise Invalid(
            f"不认识的编码“{declared}”；常用的是 utf-8 和 gb18030（兼容 GBK）。",
            f"Unknown encoding {declared!r}.",
            details={"field": "encoding"},
        ) from None


def _encoding(file: IO[bytes], declared: str | None) -> str:
    if declared:
        return _declared(declared)
    head = file.read(SNIFF_BYTES)
    file.seek(0)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "gb18030"  # GBK exports of Chinese government systems; GB 18030 is its superset
    return "utf-8-sig"


def _text_lines(file: IO[bytes], encoding: str) -> Iterator[str]:
    reader = io.TextIOWrapper(file, encoding=encoding, newline="")
    line_no = 0
    try:
        for line_no, line in enumerate(reader, start=1):  # noqa: B007 - used in the error below
            yield line
    except UnicodeDecodeError:
        raise Invalid(
            f"第 {line_no + 1} 行附近无法按 {encoding} 解码：文件编码与声明不符。请确认文件编码，"
            "GBK/GB18030 文件请加参数 ?encoding=gb18030。",
            f"Body does not decode as {encoding} near line {line_no + 1}.",
            details={"field": "encoding"},
        ) from None
    finally:
        if not file.closed:  # leave the body open for its owner (detaching flushes, closing would close it)
            reader.detach()


def records(
    req: BatchRequest, items: list[dict[str, Any]], keys: list[str]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, raw row) pairs of the body, after checking its columns against the items."""
    fmt = Format.of(req.content_type)
    names = {i["name"] for i in items}
    file = req.body.file
    if fmt is Format.csv:
        encoding = _encoding(file, req.encoding)
        reader = csv.reader(_text_lines(file, encoding))
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise Invalid("批次是空的：CSV 至少要有表头行。", "Empty CSV body.") from None
        # The quarantine download's reasons column may come back with the fixed rows: it is not data.
        dropped = (
            header.index(REASON_COLUMN) if REASON_COLUMN in header and REASON_COLUMN not in names else None
        )
        if dropped is not None:
            header.pop(dropped)
        _check_columns(header, names, keys, "CSV 表头")
        width = len(header)
        for line_no, row in enumerate(reader, start=2):
            if not row or row == [""]:
                continue
            if dropped is not None and len(row) > dropped:
                row.pop(dropped)
            if len(row) != width:
                yield (
                    line_no,
                    {
                        "__error__": f"该行有 {len(row)} 列，表头有 {width} 列",
                        **dict(zip(header, row, strict=False)),
                    },
                )
                continue
            yield line_no, dict(zip(header, row, strict=True))
        return
    if fmt is Format.ndjson:
        encoding = _declared(req.encoding) if req.encoding else "utf-8-sig"
        for line_no, line in enumerate(_text_lines(file, encoding), start=1):
            if not line.strip():
                continue
            yield line_no, _json_record(line, line_no, names, keys)
        return
    encoding = _declared(req.encoding) if req.encoding else "utf-8-sig"
    stream = io.TextIOWrapper(file, encoding=encoding)
    try:
        for index, record in enumerate(json_array(stream), start=1):
            if not isinstance(record, dict):
                yield index, {"__error__": "数组元素应为对象"}
                continue
            _check_columns(list(record), names, keys, "JSON 字段")
            yield index, record
    except UnicodeDecodeError:
        raise Invalid(
            f"JSON 无法按 {encoding} 解码：文件编码与声明不符。"
            "JSON 应为 UTF-8，其他编码请加参数 ?encoding=。",
            f"Body does not decode as {encoding}.",
            details={"field": "encoding"},
        ) from None
    finally:
        if not file.closed:  # leave the body open for its owner, as `_text_lines` does
            stream.detach()


def _json_record(line: str, line_no: int, names: set[str], keys: list[str]) -> dict[str, Any]:
    try:
        record = json.loads(line, parse_float=Decimal)  # amounts are never rounded through floats
    except json.JSONDecodeError:
        return {"__error__": "该行不是合法的 JSON"}
    if not isinstance(record, dict):
        return {"__error__": "该行应为 JSON 对象"}
    _check_columns(list(record), names, keys, f"第 {line_no} 行的字段")
    return record


def _check_columns(columns: list[str], names: set[str], keys: list[str], where: str) -> None:
    unknown = [c for c in columns if c not in names]
    if unknown:
        raise Invalid(
            f"{where}有目录中不存在的字段：{'、'.join(unknown[:10])}。字段名应为目录信息项的字段名："
            f"{'、'.join(sorted(names))}。",
            f"Unknown columns: {unknown[:10]}.",
            details={"field": "columns", "unknown": unknown[:50]},
        )
    missing = [k for k in keys if k not in columns]
    if missing:
        raise Invalid(
            f"{where}缺少业务主键字段：{'、'.join(missing)}。",
            f"Missing business-key columns: {missing}.",
            details={"field": "columns", "missing": missing},
        )
    if len(set(columns)) != len(columns):
        raise Invalid(f"{where}有重复的字段名。", "Duplicate columns.", details={"field": "columns"})

"""Reading a JSON array element by element, so that a batch of any size is parsed in flat memory."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

from govshare.errors import Invalid

JSON_READ_CHARS = 64 * 1024
_SPACE = re.compile(r"[ \t\n\r]*")
# Closer than this to the end of the buffer, a decoding error may come from the buffer's end (a
# literal, number or \\u escape cut in two) rather than from the body, and a number that decoded may
# go on in the next read ("-4" of "-4.5e3"): read more and decode again.
_TOKEN_TAIL = 24


def json_array(text: IO[str], read_chars: int = JSON_READ_CHARS) -> Iterator[Any]:
    """The elements of the JSON array `text` holds, one by one, read `read_chars` at a time.

    Memory holds the unread part of one read plus the element being decoded, whatever the number of
    elements (json.load would hold the whole body and every element). Raises `Invalid` for a body
    that is not an array, is cut short (no closing `]`) or has anything but `,` between elements;
    elements yielded before the error were valid, so the caller's unit of work must roll back.
    """
    decoder = json.JSONDecoder(parse_float=Decimal)  # amounts are never rounded through floats
    buffer, pos, dropped, eof = "", 0, 0, False

    def fill(at_least: int = 0) -> bool:
        """Drop what was consumed and read more; False at the end of the body."""
        nonlocal buffer, pos, dropped, eof
        if eof:
            return False
        # An element longer than one read is read in growing steps, so decoding it stays linear.
        chunk = text.read(max(read_chars, at_least))
        if not chunk:
            eof = True
            return False
        dropped += pos
        buffer = buffer[pos:] + chunk
        pos = 0
        return True

    def next_char() -> str:
        """The next character that is not white space, not consumed ("" at the end of the body)."""
        nonlocal pos
        while True:
            pos = _SPACE.match(buffer, pos).end()  # type: ignore[union-attr]
            if pos < len(buffer):
                return buffer[pos]
            if not fill():
                return ""

    def cut_short(count: int) -> Invalid:
        return Invalid(
            f"JSON 数组不完整：读到 {count} 个完整元素后内容就结束了，缺少结尾的 ]，文件可能被截断。"
            "批次未处理，请发送完整的文件。",
            "The JSON array is not closed: the body was cut short.",
            details={"field": "body", "elements": count},
        )

    first = next_char()
    if first != "[":
        raise Invalid(
            "JSON 批次应为对象数组 [{…}, {…}]" + ("，收到的内容是空的。" if not first else "。"),
            "A JSON batch is an array of objects.",
            details={"field": "body"},
        )
    pos += 1
    count = 0
    if next_char() == "]":
        pos += 1
    else:
        while True:
            if not next_char():
                raise cut_short(count)
            try:
                value, end = decoder.raw_decode(buffer, pos)
            except json.JSONDecodeError as exc:
                unterminated = exc.msg.startswith("Unterminated string")
                if (unterminated or exc.pos >= len(buffer) - _TOKEN_TAIL) and fill(len(buffer) - pos):
                    continue
                if unterminated or exc.pos >= len(buffer):  # the body ends inside the element
                    raise cut_short(count) from None
                raise Invalid(
                    f"JSON 第 {count + 1} 个元素无法解析（第 {dropped + exc.pos + 1} 个字符附近）。"
                    "请检查导出程序生成的 JSON。",
                    f"Element {count + 1} is not valid JSON: {exc.msg}.",
                    details={"field": "body", "element": count + 1, "offset": dropped + exc.pos},
                ) from None
            if len(buffer) - end < _TOKEN_TAIL and fill():  # a number may go on: decode it again
                continue
            pos = end
            count += 1
            yield value
            separator = next_char()
            if separator == "]":
                pos += 1
                break
            if not separator:
                raise cut_short(count)
            if separator != ",":
                raise Invalid(
                    f"JSON 数组第 {count} 个元素之后应为逗号或 ]，却是“{separator}”"
                    f"（第 {dropped + pos + 1} 个字符）。请检查导出程序生成的 JSON。",
                    f"Expected ',' or ']' after element {count}.",
                    details={"field": "body", "element": count, "offset": dropped + pos},
                )
            pos += 1
    if next_char():
        raise Invalid(
            f"JSON 数组结尾的 ] 之后还有内容（第 {dropped + pos + 1} 个字符）。一个批次只能是一个数组。",
            "Content after the end of the JSON array.",
            details={"field": "body", "offset": dropped + pos},
        )

"""HTTP/1.1 framing for the HTTP faults' proxy: where one message ends and the next begins.

Standard library only: this module runs inside the proxy helper container
(see :mod:`chaos.faults.proxy_server`) as well as in the tests. It reads
message heads and says how the body is framed (``Content-Length``, chunked,
until the connection closes, or none), and copies bodies byte for byte: what
the proxy forwards is exactly what it read. Anything it cannot frame with
certainty raises :class:`WireError`, and the proxy then passes the rest of
the connection through untouched.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

MAX_HEAD = 64 * 1024
"""Largest request or response head the proxy parses (browsers send under 8 KiB)."""
COPY_CHUNK = 64 * 1024


class WireError(Exception):
    """The bytes are not HTTP/1.x the proxy can frame: pass the connection through.

    ``partial`` holds bytes already read that belong to the stream (to forward them)."""

    def __init__(self, message: str, partial: bytes = b""):
        super().__init__(message)
        self.partial = partial


@dataclass
class Head:
    """A parsed request or response head; ``raw`` is exactly the bytes read."""

    raw: bytes
    start: tuple[str, str, str]
    """Request: (method, target, version); response: (version, status, reason)."""
    headers: list[tuple[str, str]] = field(default_factory=list)

    def values(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def tokens(self, name: str) -> list[str]:
        """Comma-separated tokens of every ``name`` header, lower case."""
        return [
            token.strip().lower()
            for value in self.values(name)
            for token in value.split(",")
            if token.strip()
        ]


# body framings
NONE = "none"
LENGTH = "length"
CHUNKED = "chunked"
UNTIL_CLOSE = "until-close"


def parse_head(raw: bytes, *, response: bool) -> Head:
    """Parse a head (ending in an empty line); raise WireError when it is not HTTP/1.x."""
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes any byte
        raise WireError(str(exc)) from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ", 2)
    if response:
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise WireError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        start = (parts[0], parts[1], parts[2] if len(parts) > 2 else "")
    else:
        if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[0].isalpha():
            raise WireError(f"not an HTTP/1.x request line: {lines[0][:80]!r}")
        start = (parts[0], parts[1], parts[2])
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise WireError(f"malformed header line: {line[:80]!r}")
        headers.append((name, value.strip()))
    return Head(raw, start, headers)


def request_framing(head: Head) -> tuple[str, int]:
    """How a request's body is framed: (framing, length)."""
    if head.values("Transfer-Encoding"):
        return _chunked_or_fail(head), 0
    length = _content_length(head)
    return (LENGTH, length) if length else (NONE, 0)


def response_framing(head: Head, request_method: str) -> tuple[str, int]:
    """How a response's body is framed, given the method of the request it answers."""
    status = int(head.start[1])
    if request_method == "HEAD" or status < 200 or status in (204, 304):
        return NONE, 0
    if request_method == "CONNECT" and 200 <= status < 300:
        return NONE, 0
    if head.values("Transfer-Encoding"):
        return _chunked_or_fail(head), 0
    if head.values("Content-Length"):
        length = _content_length(head)
        return (LENGTH, length) if length else (NONE, 0)
    return UNTIL_CLOSE, 0


def _chunked_or_fail(head: Head) -> str:
    codings = head.tokens("Transfer-Encoding")
    if not codings or codings[-1] != "chunked":
        raise WireError(f"transfer coding not ending in chunked: {', '.join(codings)}")
    return CHUNKED


def _content_length(head: Head) -> int:
    values = {v.strip() for value in head.values("Content-Length") for v in value.split(",")}
    if not values:
        return 0
    if len(values) != 1 or not next(iter(values)).isdigit():
        raise WireError(f"ambiguous Content-Length: {sorted(values)}")
    return int(next(iter(values)))


def wants_close(head: Head) -> bool:
    """The sender asks for the connection to close after this message."""
    tokens = head.tokens("Connection")
    version = head.start[2] if head.start[0].isalpha() else head.start[0]
    if "close" in tokens:
        return True
    return version == "HTTP/1.0" and "keep-alive" not in tokens


async def read_head(reader: asyncio.StreamReader) -> bytes | None:
    """The next head, up to and including its empty line; None at a clean end of stream.

    Empty lines before a request line are skipped (RFC 9112, 2.2). Raises
    WireError for a head larger than :data:`MAX_HEAD` or cut off by the end of
    the stream (with what was read, for passing it through).
    """
    while True:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial.strip(b"\r\n"):
                return None
            raise WireError("the stream ended inside a head", exc.partial) from None
        except asyncio.LimitOverrunError:
            partial = await reader.read(MAX_HEAD)
            raise WireError("head too large", partial) from None
        stripped = raw.lstrip(b"\r\n")
        if stripped:
            return stripped


async def copy_body(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter | None,
    framing: str,
    length: int,
) -> None:
    """Copy one body as framed, byte for byte, to ``writer`` (None: discard it).

    Raises WireError when the stream ends before the body does or a chunk size
    line is malformed.
    """
    if framing == LENGTH:
        await _copy_exactly(reader, writer, length)
    elif framing == CHUNKED:
        while True:
            line = await _line(reader)
            await _write(writer, line)
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise WireError(f"bad chunk size {size_text[:20]!r}") from None
            if size == 0:
                while True:  # trailers, up to the empty line
                    trailer = await _line(reader)
                    await _write(writer, trailer)
                    if trailer == b"\r\n":
                        return
            await _copy_exactly(reader, writer, size + 2)
    elif framing == UNTIL_CLOSE:
        while chunk := await reader.read(COPY_CHUNK):
            await _write(writer, chunk)


async def _line(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readuntil(b"\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        raise WireError("the stream ended inside a chunked body") from None


async def _copy_exactly(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None, count: int
) -> None:
    while count > 0:
        chunk = await reader.read(min(count, COPY_CHUNK))
        if not chunk:
            raise WireError(f"the stream ended {count} bytes before the body did")
        count -= len(chunk)
        await _write(writer, chunk)


async def _write(writer: asyncio.StreamWriter | None, data: bytes) -> None:
    if writer is not None:
        writer.write(data)
        await writer.drain()

"""Reading request bodies within a limit, checked before anything is read."""

from __future__ import annotations

from aiohttp import web

from gateway.errors import ContentEncodingError, GatewayError

_CHUNK = 65536


def too_large(limit: int) -> GatewayError:
    return GatewayError("payload_too_large", f"The request body is over {limit} bytes.", 413)


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The whole body, or 413 as soon as it is known to pass `limit` (by Content-Length up
    front, else while streaming) without reading further. The limit counts bytes after any
    Content-Encoding is undone, so a compressed bomb is 413 too; a body that does not decode
    as its encoding says is 400 (`ContentEncodingError`)."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = await request.content.read(_CHUNK)
        except web.RequestPayloadError:
            raise ContentEncodingError() from None
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)

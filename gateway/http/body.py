"""Reading request bodies within a size limit, checked before anything is read, and within
the body deadline that the request's connection keeps (`gateway.http.connections`)."""

from __future__ import annotations

from aiohttp import StreamReader, web

from gateway.errors import ClientGone, ContentEncodingError, GatewayError

_CHUNK = 65536


class BodyDeadlineExceeded(TimeoutError):
    """Set on a request's payload by its connection when the whole body has not arrived
    within the body deadline. A `TimeoutError` on purpose: aiohttp, finding it on a body
    nobody read after the answer, closes the connection quietly instead of reading on."""


def too_large(limit: int) -> GatewayError:
    return GatewayError("payload_too_large", f"The request body is over {limit} bytes.", 413)


def request_timeout() -> GatewayError:
    """408, and the connection closed: the rest of the body is never read."""
    message = "The request body did not arrive within the time allowed."
    return GatewayError("request_timeout", message, 408, {"Connection": "close"})


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The whole body, or 413 as soon as it is known to pass `limit` (by Content-Length up
    front, else while streaming) without reading further. The limit counts bytes after any
    Content-Encoding is undone, so a compressed bomb is 413 too; a body that does not decode
    as its encoding says is 400 (`ContentEncodingError`). A body still arriving at the body
    deadline is 408; a client that closes the connection mid-body is `ClientGone`.

    A body that has arrived whole already (most do: a webhook fits in a read or two) is
    taken at once, without awaiting chunk by chunk."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    content = request.content
    try:
        if content.is_eof():
            body = content.read_nowait()
            if len(body) > limit:
                raise too_large(limit)
            return body
        return await _streamed(content, limit)
    except web.RequestPayloadError:
        raise ContentEncodingError() from None
    except BodyDeadlineExceeded:
        raise request_timeout() from None
    except ConnectionError:
        raise ClientGone() from None


async def _streamed(content: StreamReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await content.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)

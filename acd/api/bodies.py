"""Reading a request's JSON body: one rule for every route, so a bad body is always a
400 that says what to send, never a 500."""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web


async def json_object(request: web.Request, shape: str) -> dict[str, Any]:
    """The body as a JSON object; 400 naming ``shape`` for anything else: not JSON, not
    UTF-8, not an object, or nested deeper than the parser's recursion limit
    (RecursionError), a numeral too long to convert (ValueError)."""
    try:
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("not an object")
    except (json.JSONDecodeError, ValueError, UnicodeDecodeError, RecursionError):
        raise web.HTTPBadRequest(text=f"send a JSON object: {shape}") from None
    return body

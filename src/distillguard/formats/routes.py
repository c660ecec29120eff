"""Where a call went: the contract's endpoint from what other tools record instead.

The contract takes a request body's API shape from its endpoint, so a format that rebuilds
a body must name the endpoint of the shape it rebuilt.
"""

from __future__ import annotations

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
RESPONSES = "/v1/responses"
MESSAGES = "/v1/messages"
EMBEDDINGS = "/v1/embeddings"
_KNOWN = (CHAT, COMPLETIONS, RESPONSES, MESSAGES, EMBEDDINGS)


def from_route(route: str | None) -> str | None:
    """An HTTP route or URL path as the contract's endpoint; ``None`` when it names none.

    >>> from_route("/chat/completions"), from_route("https://proxy:4000/v1/messages?beta=1")
    ('/v1/chat/completions', '/v1/messages')
    >>> from_route("/openai/deployments/gpt-4o/chat/completions")
    '/v1/chat/completions'
    """
    if not route:
        return None
    path = route.split("?", 1)[0]
    if "://" in path:
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    path = "/" + path.strip("/").lower()
    for known in _KNOWN:
        if path.endswith(known.removeprefix("/v1")):
            return known
    return path if path != "/" else None

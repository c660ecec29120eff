"""Push and pull bundles over TAXII 2.1 (``taxii2-client``), for partners who share through a
TAXII server rather than files.

Push posts a bundle's objects to a collection and reports the server's status; pull reads a
collection page by page (optionally only what was added after a time) into one bundle, which
is then judged object by object like a file (``partners.judge_bundle``). Every request has a
timeout, and a pull is bounded in pages, objects and response size. Credentials come from the
environment, never the command line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PAGE = 1000  # objects asked for per request when pulling
MAX_OBJECTS = 500_000  # a pull refuses more rather than fill memory from a hostile server
MAX_PAGES = 10_000
MAX_RESPONSE_BYTES = 64 << 20  # per response, when the server says its length
TIMEOUT_S = (10, 120)  # connect, read: a stalled server must not hang a cron job


class TaxiiError(RuntimeError):
    """The server could not be reached or refused the request: why, in words."""


@dataclass
class Pushed:
    status: str
    succeeded: int
    failed: int
    pending: int


def _collection(url: str, collection: str, user: str | None, password: str | None) -> Any:
    import requests
    from taxii2client.common import _HTTPConnection
    from taxii2client.v21 import Collection

    class Bounded(requests.adapters.HTTPAdapter):
        def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            kwargs["timeout"] = kwargs.get("timeout") or TIMEOUT_S
            return super().send(request, **kwargs)

    def too_big(response: Any, *args: Any, **kwargs: Any) -> None:
        if int(response.headers.get("content-length") or 0) > MAX_RESPONSE_BYTES:
            raise ValueError(f"a response over {MAX_RESPONSE_BYTES >> 20} MiB")

    conn = _HTTPConnection(user=user, password=password, version="2.1")
    for scheme in ("http://", "https://"):
        conn.session.mount(scheme, Bounded())
    conn.session.hooks["response"].append(too_big)
    base = url.rstrip("/") + "/"
    return Collection(f"{base}collections/{collection}/", conn=conn)


def push(
    bundle: Path, url: str, collection: str, user: str | None = None, password: str | None = None
) -> Pushed:
    """Post the objects of ``bundle`` to ``collection`` of the API root at ``url``."""
    data = json.loads(bundle.read_bytes())
    try:
        target = _collection(url, collection, user, password)
        if not target.can_write:
            raise TaxiiError(f"{url}: collection {collection} does not accept writes")
        status = target.add_objects(data, wait_for_completion=True, poll_interval=1, timeout=120)
    except TaxiiError:
        raise
    except Exception as exc:  # taxii2-client raises requests' and its own errors
        raise TaxiiError(f"{url}: {_why(exc)}") from None
    return Pushed(status.status, status.success_count, status.failure_count, status.pending_count)


def pull(
    url: str,
    collection: str,
    user: str | None = None,
    password: str | None = None,
    added_after: str | None = None,
) -> dict[str, Any]:
    """Every object of ``collection`` (added after ``added_after``, when given), as a bundle."""
    objects: list[Any] = []
    try:
        source = _collection(url, collection, user, password)
        if not source.can_read:
            raise TaxiiError(f"{url}: collection {collection} cannot be read")
        extra = {"added_after": added_after} if added_after else {}
        envelope = source.get_objects(limit=PAGE, **extra)
        for _ in range(MAX_PAGES):
            page = envelope.get("objects") or []
            objects.extend(page)
            if len(objects) > MAX_OBJECTS:
                raise TaxiiError(
                    f"{url}: more than {MAX_OBJECTS} objects; nothing kept: pull with --added-after"
                )
            if not envelope.get("more"):
                break
            if not page:
                raise TaxiiError(f"{url}: the server sent an empty page and claims more")
            envelope = source.get_objects(limit=PAGE, next=envelope.get("next", ""), **extra)
        else:
            raise TaxiiError(f"{url}: more than {MAX_PAGES} pages; pull with --added-after")
    except TaxiiError:
        raise
    except Exception as exc:
        raise TaxiiError(f"{url}: {_why(exc)}") from None
    return {"type": "bundle", "id": f"bundle--taxii-{collection}", "objects": objects}


def _why(exc: Exception) -> str:
    """A short reason for a failed TAXII request."""
    import requests

    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        r = exc.response
        hint = " (check --user and $DISTILLGUARD_TAXII_PASSWORD)" if r.status_code == 401 else ""
        return f"the server answered {r.status_code} {r.reason}{hint}"
    if isinstance(exc, requests.ConnectionError):
        return "cannot reach the server (is the URL the API root, and is it up?)"
    if isinstance(exc, requests.Timeout):
        return "the server did not answer in time"
    return str(exc)[:300]

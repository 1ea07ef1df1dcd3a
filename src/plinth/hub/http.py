"""The few HTTP calls the hubs need, on the standard library.

``urllib`` honours ``HTTP(S)_PROXY``/``NO_PROXY`` from the environment and
follows the hubs' redirects to their CDNs; nothing here needs more, so the
pull command adds no dependency.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from http.client import HTTPResponse
from typing import Any
from urllib.parse import urlsplit

from plinth.errors import NotFound, PermissionDenied, UpstreamBadResponse, UpstreamUnreachable

TIMEOUT_S = 60
USER_AGENT = "plinth-models-pull"


class SameHostCredentials(urllib.request.HTTPRedirectHandler):
    """Follows redirects, but a token goes only to the host it was given for.

    The hubs redirect downloads to their CDNs, and a mirror may redirect
    anywhere: the ``Authorization`` header is dropped when the host changes.
    """

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urlsplit(newurl).netloc != urlsplit(req.full_url).netloc:
            new.remove_header("Authorization")
        return new


def open_url(url: str, headers: dict[str, str] | None = None) -> HTTPResponse:
    """An open response for a GET, or the error that says what went wrong."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    try:
        # A new opener each time: it reads the proxy settings from the environment now.
        opener = urllib.request.build_opener(SameHostCredentials)
        response: HTTPResponse = opener.open(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code in (401, 403):
            raise PermissionDenied(
                f"The hub refused {url} ({exc.code}): a gated or private repo needs a token "
                "(--token, HF_TOKEN or MODELSCOPE_API_TOKEN)"
            ) from None
        if exc.code == 404:
            raise NotFound(f"The hub has no {url}") from None
        raise UpstreamBadResponse(f"The hub answered {exc.code} for {url}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UpstreamUnreachable(
            f"Cannot reach {url}: {reason} (set HF_ENDPOINT or MODELSCOPE_ENDPOINT for a mirror, "
            "HTTPS_PROXY for a proxy)"
        ) from None
    return response


def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    with open_url(url, headers) as response:
        try:
            return json.loads(response.read())
        except ValueError:
            raise UpstreamBadResponse(f"The hub's answer for {url} is not JSON") from None

"""The one exception tree, and the one mapper to OpenAI-shaped error JSON.

::

    PlinthError                      500 server_error
    ├── InvalidRequest               400 invalid_request_error
    │   ├── UnsupportedParameter     400 invalid_request_error / unsupported_parameter
    │   ├── ContextLengthExceeded    400 invalid_request_error / context_length_exceeded
    │   ├── InvalidFile              400 invalid_request_error / invalid_file
    │   │   └── UnsupportedFile      400 invalid_request_error / unsupported_file
    │   ├── ChunkingError            400 invalid_request_error / invalid_chunking_strategy
    │   └── FilterError              400 invalid_request_error / invalid_filter
    ├── AuthenticationFailed         401 authentication_error / invalid_api_key
    ├── InsufficientFunds            402 insufficient_quota / budget_exceeded
    ├── PermissionDenied             403 permission_error
    ├── NotFound                     404 invalid_request_error / not_found
    │   ├── ModelNotFound            404 invalid_request_error / model_not_found
    │   └── VectorStoreNotFound      404 invalid_request_error / vector_store_not_found
    ├── MethodNotAllowed             405 invalid_request_error / method_not_allowed
    ├── Conflict                     409 invalid_request_error / conflict
    │   └── AlreadyExists            409 invalid_request_error / already_exists
    ├── RequestTimeout               408 invalid_request_error / request_timeout
    ├── PayloadTooLarge              413 invalid_request_error / payload_too_large
    ├── HeadersTooLarge              431 invalid_request_error / headers_too_large
    ├── RateLimited                  429 rate_limit_error / rate_limit_exceeded
    ├── ServiceBusy                  503 server_error / server_busy
    ├── DifyError                    Dify's own shape {error_code, error_msg} (api/dify.py)
    └── EngineError                  500 server_error / engine_error
        ├── EngineUnavailable        503 server_error / engine_unavailable
        │   └── NoDeploymentAvailable 503 server_error / no_deployment_available
        └── UpstreamError            502 server_error / upstream_error
            ├── UpstreamUnreachable  502 server_error / upstream_unreachable
            ├── UpstreamBadResponse  502 server_error / upstream_bad_response
            ├── UpstreamTimeout      504 server_error / upstream_timeout
            └── UpstreamRateLimited  429 rate_limit_error / upstream_rate_limited

``UpstreamError`` and its subclasses are *retryable*: the router may try the
request again, on the same or another deployment, as long as no output has
reached the client yet.

Every "already exists" is an :class:`AlreadyExists` (409), whatever the
resource. Errors raised by libraries Plinth calls (pydantic, json, sqlite
overflow …) are mapped in one table, :data:`LIBRARY_ERRORS`, by
:func:`as_plinth_error`; the app registers one handler for ``PlinthError``
and routes do not catch it themselves except to add context.

Every error a client sees, as a JSON body or as an SSE error frame, is built
by :func:`error_body` from one of these; anything else becomes a 500 whose
message names the request id and nothing of the internals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar


class PlinthError(Exception):
    status_code: ClassVar[int] = 500
    error_type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code


class InvalidRequest(PlinthError):
    status_code = 400
    error_type = "invalid_request_error"


class UnsupportedParameter(InvalidRequest):
    default_code = "unsupported_parameter"


class ContextLengthExceeded(InvalidRequest):
    default_code = "context_length_exceeded"


class InvalidFile(InvalidRequest):
    """An uploaded file that cannot be read within the limits (bombs, bad formats)."""

    default_code = "invalid_file"


class UnsupportedFile(InvalidFile):
    """A file whose type (by its name's extension) the knowledge base does not read."""

    default_code = "unsupported_file"


class ChunkingError(InvalidRequest):
    """A chunking strategy outside OpenAI's limits."""

    default_code = "invalid_chunking_strategy"


class FilterError(InvalidRequest):
    """A malformed attribute filter, or attributes outside OpenAI's limits."""

    default_code = "invalid_filter"


class AuthenticationFailed(PlinthError):
    status_code = 401
    error_type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDenied(PlinthError):
    status_code = 403
    error_type = "permission_error"
    default_code = "insufficient_permissions"


class InsufficientFunds(PlinthError):
    status_code = 402
    error_type = "insufficient_quota"
    default_code = "budget_exceeded"


class NotFound(PlinthError):
    status_code = 404
    error_type = "invalid_request_error"
    default_code = "not_found"


class ModelNotFound(NotFound):
    default_code = "model_not_found"


class VectorStoreNotFound(NotFound):
    """No vector store (or knowledge-index store) with that id."""

    default_code = "vector_store_not_found"


class MethodNotAllowed(PlinthError):
    status_code = 405
    error_type = "invalid_request_error"
    default_code = "method_not_allowed"


class Conflict(PlinthError):
    status_code = 409
    error_type = "invalid_request_error"
    default_code = "conflict"


class AlreadyExists(Conflict):
    default_code = "already_exists"


class ServiceBusy(PlinthError):
    """The server is at a capacity limit it set itself (connections, heavy work)."""

    status_code = 503
    error_type = "server_error"
    default_code = "server_busy"


class DifyError(PlinthError):
    """An answer in Dify's External Knowledge API shape: HTTP status, Dify code, message."""

    def __init__(self, http_status: int, dify_code: int, message: str):
        super().__init__(message)
        self.http_status, self.dify_code = http_status, dify_code


class RequestTimeout(PlinthError):
    """A request's headers or body did not arrive in time (the server's read timeouts)."""

    status_code = 408
    error_type = "invalid_request_error"
    default_code = "request_timeout"


class HeadersTooLarge(PlinthError):
    status_code = 431
    error_type = "invalid_request_error"
    default_code = "headers_too_large"


class PayloadTooLarge(PlinthError):
    status_code = 413
    error_type = "invalid_request_error"
    default_code = "payload_too_large"


class EngineError(PlinthError):
    status_code = 500
    error_type = "server_error"
    default_code = "engine_error"


class EngineUnavailable(EngineError):
    status_code = 503
    default_code = "engine_unavailable"


#: The longest wait an error asks for. An upstream's Retry-After is a number it
#: chose: ``inf`` made the answer's header a 500 (``round(inf)``), and a billion
#: seconds held the deployment's circuit breaker open for decades.
MAX_RETRY_AFTER_S = 3600.0


def bounded_retry_after(seconds: float | None) -> float | None:
    """``seconds`` within 0 and :data:`MAX_RETRY_AFTER_S`; None for none or NaN."""
    if seconds is None or seconds != seconds:
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_S)


class RateLimited(PlinthError):
    status_code = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = bounded_retry_after(retry_after_s)


class Refused(Exception):
    """Internal: a budget or rate meter refused a reservation, and why.

    Not a ``PlinthError``: ``Billing.reserve`` turns it into
    :class:`InsufficientFunds` or :class:`RateLimited` naming the model and the
    plan. Should one escape anywhere else, :data:`LIBRARY_ERRORS` maps it the
    same way, without that context.
    """

    def __init__(self, kind: str, subject: str, retry_after_s: float | None = None):
        super().__init__(f"{kind} limit of {subject}")
        self.kind = kind  # "budget" | "requests" | "tokens" | "concurrency"
        self.subject = subject
        self.retry_after_s = retry_after_s


class RevokedKeyReused(Exception):
    """Start-up: a configured key (e.g. ``PLINTH_ADMIN_KEY``) names a key that was revoked."""


class BundledModelMissing(Exception):
    """Start-up / CLI: the package that carries a bundled model is not installed."""


class EmbeddingConversionError(Exception):
    """Start-up / CLI: a model folder cannot be converted (missing files, not a BERT model…)."""


class MissingExtra(Exception):
    """Start-up / CLI: a setting needs an optional extra (``pip install 'plinth[x]'``)."""


def _refused(exc: BaseException) -> PlinthError:
    assert isinstance(exc, Refused)
    who = exc.subject.split(":")[0]
    if exc.kind == "budget":
        return InsufficientFunds(f"The {who}'s budget does not cover this request")
    return RateLimited(
        f"Rate limit reached: the {who}'s {exc.kind} limit; retry later",
        retry_after_s=exc.retry_after_s,
    )


class NoDeploymentAvailable(EngineUnavailable):
    default_code = "no_deployment_available"


class UpstreamError(EngineError):
    """An upstream failed in a way another attempt may not (5xx, bad credentials…)."""

    status_code = 502
    default_code = "upstream_error"
    #: Whether the same deployment may be tried again (False: only others).
    same_deployment_ok: bool = True

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after_s: float | None = None,
        same_deployment_ok: bool = True,
    ):
        super().__init__(message, param=param, code=code)
        self.retry_after_s = bounded_retry_after(retry_after_s)
        self.same_deployment_ok = same_deployment_ok


class UpstreamUnreachable(UpstreamError):
    default_code = "upstream_unreachable"


class UpstreamBadResponse(UpstreamError):
    default_code = "upstream_bad_response"


class UpstreamTimeout(UpstreamError):
    status_code = 504
    default_code = "upstream_timeout"


class UpstreamRateLimited(UpstreamError):
    status_code = 429
    error_type = "rate_limit_error"
    default_code = "upstream_rate_limited"


#: Exceptions raised by libraries that mean the *client* sent something wrong,
#: mapped once here instead of in every route: (type, PlinthError factory).
LIBRARY_ERRORS: list[tuple[type[BaseException], Callable[[BaseException], PlinthError]]] = [
    (RecursionError, lambda _: InvalidRequest("The request is nested too deeply")),
    (UnicodeDecodeError, lambda _: InvalidRequest("The request body is not valid UTF-8")),
    (Refused, _refused),
]


def as_plinth_error(exc: BaseException) -> PlinthError | None:
    """The ``PlinthError`` an exception stands for, or None for a real server fault."""
    if isinstance(exc, PlinthError):
        return exc
    for kind, make in LIBRARY_ERRORS:
        if isinstance(exc, kind):
            return make(exc)
    return None


def error_body(exc: BaseException, request_id: str | None = None) -> tuple[int, dict[str, Any]]:
    """Map any exception to ``(status, {"error": {message, type, param, code}})``."""
    mapped = as_plinth_error(exc)
    if mapped is not None:
        status, message = mapped.status_code, mapped.message
        error_type, param, code = mapped.error_type, mapped.param, mapped.code
    else:
        status, error_type, param, code = 500, "server_error", None, "internal_error"
        message = "Internal server error"
        if request_id:
            message += f" (request id {request_id}; the server log has the details)"
    return status, {"error": {"message": message, "type": error_type, "param": param, "code": code}}

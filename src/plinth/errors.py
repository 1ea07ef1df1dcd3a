"""The one exception tree, and the one mapper to OpenAI-shaped error JSON.

::

    PlinthError                      500 server_error
    ├── InvalidRequest               400 invalid_request_error
    │   ├── UnsupportedParameter     400 invalid_request_error / unsupported_parameter
    │   └── ContextLengthExceeded    400 invalid_request_error / context_length_exceeded
    ├── AuthenticationFailed         401 authentication_error / invalid_api_key
    ├── PermissionDenied             403 permission_error
    ├── NotFound                     404 invalid_request_error / not_found
    │   └── ModelNotFound            404 invalid_request_error / model_not_found
    ├── PayloadTooLarge              413 invalid_request_error / payload_too_large
    └── EngineError                  500 server_error / engine_error
        └── EngineUnavailable        503 server_error / engine_unavailable

Every error a client sees, as a JSON body or as an SSE error frame, is built
by :func:`error_body` from one of these; anything else becomes a 500 whose
message names the request id and nothing of the internals.
"""

from __future__ import annotations

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


class AuthenticationFailed(PlinthError):
    status_code = 401
    error_type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDenied(PlinthError):
    status_code = 403
    error_type = "permission_error"
    default_code = "insufficient_permissions"


class NotFound(PlinthError):
    status_code = 404
    error_type = "invalid_request_error"
    default_code = "not_found"


class ModelNotFound(NotFound):
    default_code = "model_not_found"


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


def error_body(exc: BaseException, request_id: str | None = None) -> tuple[int, dict[str, Any]]:
    """Map any exception to ``(status, {"error": {message, type, param, code}})``."""
    if isinstance(exc, PlinthError):
        status, message = exc.status_code, exc.message
        error_type, param, code = exc.error_type, exc.param, exc.code
    else:
        status, error_type, param, code = 500, "server_error", None, "internal_error"
        message = "Internal server error"
        if request_id:
            message += f" (request id {request_id}; the server log has the details)"
    return status, {"error": {"message": message, "type": error_type, "param": param, "code": code}}

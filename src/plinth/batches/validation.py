"""An input file checked up front, every line, with errors as OpenAI reports them.

A batch whose file has any bad line fails as a whole before anything runs;
its ``errors`` list each bad line (1-based) with a code, a message and the
offending parameter. A good line becomes a :class:`BatchLine`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from plinth.api.http import validation_error
from plinth.errors import error_body
from plinth.protocol.chat import ChatCompletionRequest
from plinth.protocol.completions import CompletionRequest
from plinth.protocol.embeddings import EmbeddingRequest
from plinth.protocol.responses import ResponsesRequest

# What each endpoint's lines are validated as, and the ledger's endpoint label.
ENDPOINTS: dict[str, tuple[type[BaseModel], str]] = {
    "/v1/chat/completions": (ChatCompletionRequest, "chat.completions"),
    "/v1/completions": (CompletionRequest, "completions"),
    "/v1/embeddings": (EmbeddingRequest, "embeddings"),
    "/v1/responses": (ResponsesRequest, "responses"),
}
MAX_CUSTOM_ID = 512
MAX_ERRORS = 100  # reported; a file of 50,000 bad lines does not need 50,000 messages


@dataclass(frozen=True)
class BatchLine:
    index: int  # 0-based position in the input file
    custom_id: str
    body: dict[str, Any]


@dataclass(frozen=True)
class LineError:
    code: str
    message: str
    line: int | None  # 1-based, as OpenAI numbers them; None for the whole file
    param: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "param": self.param, "line": self.line}


def _check_line(raw: bytes, number: int, endpoint: str) -> BatchLine | LineError:
    try:
        item = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return LineError("invalid_json_line", "This line is not parseable as valid JSON.", number)
    if not isinstance(item, dict):
        return LineError("invalid_json_line", "Each line must be a JSON object.", number)
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        message = "Missing required parameter: 'custom_id' (a non-empty string)."
        return LineError("missing_required_parameter", message, number, "custom_id")
    if len(custom_id) > MAX_CUSTOM_ID:
        message = f"custom_id may be at most {MAX_CUSTOM_ID} characters."
        return LineError("invalid_value", message, number, "custom_id")
    if item.get("method") != "POST":
        return LineError("invalid_value", "method must be 'POST'.", number, "method")
    if item.get("url") != endpoint:
        message = f"The url '{item.get('url')}' does not match the batch's endpoint '{endpoint}'."
        return LineError("mismatched_endpoint", message, number, "url")
    body = item.get("body")
    if not isinstance(body, dict):
        message = "Missing required parameter: 'body' (a JSON object)."
        return LineError("missing_required_parameter", message, number, "body")
    if body.get("stream"):
        return LineError("invalid_value", "Batch lines cannot stream.", number, "body.stream")
    try:
        ENDPOINTS[endpoint][0].model_validate(body)
    except ValidationError as exc:
        _, error = error_body(validation_error(exc))
    except Exception as exc:  # noqa: BLE001 - every validation failure is the line's error
        _, error = error_body(exc)
    else:
        return BatchLine(number - 1, custom_id, body)
    param = error["error"]["param"]
    message = error["error"]["message"]
    return LineError("invalid_request", message, number, f"body.{param}" if param else "body")


def validate_file(
    data: bytes, endpoint: str, *, max_lines: int
) -> tuple[list[BatchLine], list[LineError]]:
    """The file's lines, or the errors that fail it (empty lines are skipped)."""
    lines: list[BatchLine] = []
    errors: list[LineError] = []
    seen: set[str] = set()
    count = 0
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        count += 1
        if count > max_lines:
            message = f"The file has more than {max_lines} requests."
            return [], [LineError("too_many_requests", message, None)]
        checked = _check_line(raw, number, endpoint)
        if isinstance(checked, BatchLine) and checked.custom_id in seen:
            message = f"custom_id '{checked.custom_id}' is used by an earlier line."
            checked = LineError("duplicate_custom_id", message, number, "custom_id")
        if isinstance(checked, LineError):
            if len(errors) < MAX_ERRORS:
                errors.append(checked)
            continue
        seen.add(checked.custom_id)
        lines.append(checked)
    if not count:
        errors.append(LineError("empty_file", "The input file has no requests.", None))
    return ([] if errors else lines), errors

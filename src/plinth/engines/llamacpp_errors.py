"""Turning llama.cpp's error dicts and exceptions into Plinth's errors."""

from __future__ import annotations

from typing import Any

from plinth.errors import ContextLengthExceeded, EngineError, InvalidRequest, UnsupportedParameter


def raise_for_engine_error(result: Any, model_id: str, *, prompt_param: str = "messages") -> None:
    """Raise if ``result`` is one of llama.cpp's error shapes; return otherwise."""
    if not isinstance(result, dict):
        raise EngineError(f"Model '{model_id}' returned an unreadable response")
    error = result.get("error")
    if error is None and "code" in result and "message" in result:
        error = result  # xllamacpp's own shape when it cannot parse llama.cpp's JSON
    if error is None:
        return
    if isinstance(error, str):
        error = {"message": error}
    message = str(error.get("message") or "unknown llama.cpp error")
    kind = error.get("type")
    if kind == "exceed_context_size_error":
        raise ContextLengthExceeded(
            f"This request needs {error.get('n_prompt_tokens')} tokens but model "
            f"'{model_id}' has {error.get('n_ctx')} per request; shorten the input",
            param=prompt_param,
        )
    if "too large to process" in message:
        # An embedding input longer than the model reads: a client error, not a crash.
        raise ContextLengthExceeded(
            f"An input is too long for model '{model_id}': {message.split('. ')[0]}",
            param="input",
        )
    if error.get("code") == 400 or kind == "invalid_request_error":
        raise InvalidRequest(f"Model '{model_id}' rejected the request: {message}")
    raise EngineError(f"Model '{model_id}' failed: {message}")


def reject_non_text_parts(body: dict[str, Any]) -> None:
    """Local GGUF chat models here take text only; say so before llama.cpp does."""
    for index, message in enumerate(body.get("messages", [])):
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if part.get("type") != "text":
                    raise UnsupportedParameter(
                        f"Content parts of type '{part.get('type')}' are not supported by this "
                        "local model; send text parts only",
                        param=f"messages[{index}].content",
                    )
    if body.get("tools"):
        raise UnsupportedParameter(
            "Tool calling is not supported by this local model", param="tools"
        )


def check_input_lengths(token_ids: list[list[int]], max_tokens: int, model_id: str) -> None:
    """Reject over-long embedding inputs up front: nothing is silently truncated."""
    for index, ids in enumerate(token_ids):
        if len(ids) > max_tokens:
            raise ContextLengthExceeded(
                f"input[{index}] is {len(ids)} tokens; model '{model_id}' reads at most "
                f"{max_tokens}. Split the text into shorter pieces",
                param="input",
            )

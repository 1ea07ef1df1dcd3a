"""Turning llama.cpp's error dicts and exceptions into Plinth's errors, and
refusing (or fitting) up front what llama.cpp would choke on."""

from __future__ import annotations

from typing import Any, TypeGuard

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


def check_input_lengths(token_ids: list[list[int]], max_tokens: int, model_id: str) -> None:
    """Reject over-long embedding inputs up front: nothing is silently truncated."""
    for index, ids in enumerate(token_ids):
        if len(ids) > max_tokens:
            # "at least": the tokenizer may have stopped early (see WordPieceTokenizer).
            raise ContextLengthExceeded(
                f"input[{index}] is at least {len(ids)} tokens; model '{model_id}' reads at "
                f"most {max_tokens}. Split the text into shorter pieces",
                param="input",
            )


_INT32_MAX = 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_TOKEN_LIMITS = ("max_tokens", "max_completion_tokens", "n_predict")


def fit_integers(body: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``body`` whose integers llama.cpp takes as they were meant.

    llama.cpp keeps token limits in 32 bits and the seed in unsigned 32 bits,
    and xllamacpp raises ``TypeError`` on any integer beyond 64 bits. So:

    - a token limit above 2^31-1 becomes 2^31-1: no answer is that long, so it
      still means "no limit" (2^31 was refused as negative, 2^63 became one token);
    - ``seed`` is taken modulo 2^32, which is what llama.cpp does to a 64-bit
      seed, so equal seeds still give equal output, however large;
    - any other integer outside 64 bits is refused (400) naming its field.
    """
    fitted = dict(body)
    for name in _TOKEN_LIMITS:
        value = fitted.get(name)
        if _is_int(value) and value > _INT32_MAX:
            fitted[name] = _INT32_MAX
    if _is_int(seed := fitted.get("seed")):
        fitted["seed"] = seed % 2**32
    _refuse_wide_ints(fitted, "")
    if isinstance(prompt := fitted.get("prompt"), list):
        check_token_ids(prompt, "prompt")
    return fitted


def check_token_ids(ids: list[Any], param: str) -> None:
    """Token ids are llama.cpp's 32-bit ``llama_token``; larger ones would wrap to another id."""
    if _flat_within(ids, 0, _INT32_MAX):
        return
    for index, item in enumerate(ids):
        if isinstance(item, list):
            check_token_ids(item, f"{param}[{index}]")
        elif _is_int(item) and not 0 <= item <= _INT32_MAX:
            raise InvalidRequest(
                f"{param}[{index}] is not a token id (ids run from 0 up to the vocabulary size)",
                param=param,
            )


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _refuse_wide_ints(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_wide_ints(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list) and not _flat_within(value, _INT64_MIN, _INT64_MAX):
        for index, item in enumerate(value):
            _refuse_wide_ints(item, f"{where}[{index}]")
    elif _is_int(value) and not _INT64_MIN <= value <= _INT64_MAX:
        raise InvalidRequest(f"{where} is out of range for this model", param=where or None)


def _flat_within(items: list[Any], low: int, high: int) -> bool:
    """Whether ``items`` holds only numbers within [low, high], or only strings.

    ``min`` and ``max`` run in C: a million token ids take milliseconds, where
    looking at each item took half a second. False means "look item by item"
    (mixed kinds, nested lists or objects, or a number out of range).
    """
    if not items:
        return True
    try:
        lowest, highest = min(items), max(items)
    except TypeError:  # kinds that do not compare: dicts, or numbers mixed with strings
        return False
    if isinstance(lowest, str) and isinstance(highest, str):
        return True
    numbers = (int, float)
    return (
        isinstance(lowest, numbers)
        and isinstance(highest, numbers)
        and low <= lowest
        and highest <= high
    )

"""The checks every local tool request passes, whichever format carries it.

``tools`` must be functions with names, a named ``tool_choice`` must name one
of them, ``response_format`` cannot be combined with tools, and earlier calls'
``arguments`` must be JSON (llama.cpp parses them to render the history; a
client's typo there is a 400, not an engine failure).
"""

from __future__ import annotations

import json
from typing import Any

from plinth.errors import InvalidRequest, UnsupportedParameter

Json = dict[str, Any]


def functions_of(tools: list[Json]) -> list[Json]:
    """The ``function`` objects of ``tools``, each with a name."""
    functions = []
    for index, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise UnsupportedParameter(
                "Only tools of type 'function' are supported", param=f"tools[{index}].type"
            )
        if not isinstance(function, dict):
            raise InvalidRequest("A tool needs a function", param=f"tools[{index}].function")
        if not isinstance(function.get("name"), str) or not function["name"]:
            raise InvalidRequest("A function needs a name", param=f"tools[{index}].function.name")
        functions.append(function)
    return functions


def chosen(functions: list[Json], choice: Any) -> tuple[list[Json], bool]:
    """The functions the model may call and whether it must call one (not for ``none``)."""
    if choice in (None, "auto"):
        return functions, False
    if choice == "required":
        return functions, True
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        named = [f for f in functions if f["name"] == name]
        if not named:
            raise InvalidRequest(
                f"tool_choice names function {name!r}, which is not in tools", param="tool_choice"
            )
        return named, True
    raise InvalidRequest(
        "tool_choice must be 'auto', 'none', 'required' or a named function", param="tool_choice"
    )


def reject_response_format(body: Json) -> None:
    if body.get("response_format") not in (None, {"type": "text"}):
        raise UnsupportedParameter(
            "response_format cannot be combined with tools on a local model",
            param="response_format",
        )


def check_history(messages: list[Json]) -> None:
    """Earlier calls in ``messages`` carry a function name and JSON arguments."""
    for i, message in enumerate(messages):
        calls = message.get("tool_calls") if isinstance(message, dict) else None
        if not calls:
            continue
        if not isinstance(calls, list):
            raise InvalidRequest("tool_calls must be a list", param=f"messages[{i}].tool_calls")
        for j, call in enumerate(calls):
            where = f"messages[{i}].tool_calls[{j}].function"
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise InvalidRequest("An earlier tool call needs a function name", param=where)
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                try:
                    json.loads(arguments)
                except ValueError:
                    raise InvalidRequest(
                        "An earlier tool call's arguments are not JSON", param=f"{where}.arguments"
                    ) from None

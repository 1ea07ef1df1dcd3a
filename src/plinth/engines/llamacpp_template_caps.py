"""What the loaded model's chat template can do, as llama.cpp itself judged it.

llama.cpp renders a Jinja template with probe conversations when it loads a
model and records whether the template shows ``tools`` and earlier
``tool_calls`` (its ``chat_template_caps``). xllamacpp exposes no call for
that, but the llama.cpp HTTP listener it opens on loopback answers ``/props``
with them; the engine holds that listener's random key. Reading llama.cpp's
own verdict keeps Plinth from guessing differently than the code that renders
the prompt and parses the answer.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

log = logging.getLogger(__name__)

_TIMEOUT_S = 10.0


def template_caps(address: str, api_key: str) -> dict[str, Any]:
    """``chat_template_caps`` from the llama.cpp listener at ``address`` ({} if unreadable)."""
    request = urllib.request.Request(
        f"{address.rstrip('/')}/props", headers={"Authorization": f"Bearer {api_key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:  # loopback only
            props = json.loads(response.read())
    except (OSError, ValueError) as exc:
        log.warning("llama.cpp /props unreadable (%s): tools use the generic format", exc)
        return {}
    caps = props.get("chat_template_caps") if isinstance(props, dict) else None
    return caps if isinstance(caps, dict) else {}


def renders_tools(caps: dict[str, Any]) -> bool:
    """Whether the template shows the tools and earlier calls (its own tool format)."""
    return bool(caps.get("supports_tools")) and bool(caps.get("supports_tool_calls"))


def native_tool_calls(server: Any, params: Any) -> bool:
    """Whether tool requests can go through the model's own template on this server.

    Only under Jinja: llama.cpp's built-in (non-Jinja) templates know no tools.
    """
    if not params.use_jinja or not params.api_keys:
        return False
    address = server.listening_address
    address = address() if callable(address) else address
    return renders_tools(template_caps(str(address), str(params.api_keys[0])))

"""A stream's engine chunks as the client gets them.

Each chunk gets the request's id and public model name, placeholders the
privacy policy put in are restored (text held back at a possible placeholder
comes out at the end), usage and timings go into the request's accounting,
and the usage chunk is sent only if the client asked for it.
"""

from __future__ import annotations

from plinth.engines.base import Json
from plinth.metering.accounting import Accounting
from plinth.privacy.redaction import ChunkRestorer
from plinth.routing.state import DeploymentState
from plinth.tokens import chunk_text


def has_output(chunk: Json) -> bool:
    """Whether a chunk carries text or a tool call (not just a role or a finish)."""
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if delta.get("content") or delta.get("tool_calls") or choice.get("text"):
            return True
    return False


class StreamShaper:
    def __init__(
        self,
        acct: Accounting,
        *,
        model: str,
        include_usage: bool,
        state: DeploymentState,
        is_chat: bool,
        usage_source: str,
    ):
        self.acct, self.model, self.include_usage = acct, model, include_usage
        self.state, self.is_chat, self.usage_source = state, is_chat, usage_source
        self.id = ("chatcmpl-" if is_chat else "cmpl-") + acct.request_id
        self.output: list[str] = []  # the text sent, for an estimate if no usage comes
        redactor = acct.privacy.redactor if acct.redacted and acct.privacy else None
        self.restorer = ChunkRestorer(redactor) if redactor is not None else None

    def shape(self, chunk: Json) -> list[Json]:
        """One engine chunk as zero, one or two client chunks."""
        acct = self.acct
        if self.restorer is not None:
            self.restorer.process(chunk)
        acct.take_timings(chunk.pop("timings", None))
        chunk["id"] = self.id
        chunk["model"] = self.model
        usage = chunk.pop("usage", None)
        out = []
        if usage:
            acct.take_usage(usage, self.usage_source)
        if chunk.get("choices"):
            for choice in chunk["choices"]:
                acct.finish_reason = choice.get("finish_reason") or acct.finish_reason
            if has_output(chunk):
                if acct.ttft_s is None:
                    acct.first_token()
                    self.state.observe_ttft(acct.ttft_s or 0.0)
                self.output.append(chunk_text(chunk))
            out.append(chunk)
        if usage and self.include_usage:
            # Its own last chunk with no choices, as OpenAI sends it, even
            # where an engine put the finish reason and usage in one.
            out.append({**chunk, "choices": [], "usage": acct.usage_json(usage)})
        return out

    def leftovers(self) -> list[Json]:
        """Placeholder text held back at the end of the stream, restored."""
        if self.restorer is None:
            return []
        key = "delta" if self.is_chat else "text"
        return [
            {
                "id": self.id,
                "object": "chat.completion.chunk" if self.is_chat else "text_completion",
                "model": self.model,
                "choices": [
                    {
                        "index": index,
                        key: {"content": text} if self.is_chat else text,
                        "finish_reason": None,
                    }
                ],
            }
            for index, text in self.restorer.leftovers()
        ]

"""The privacy decision for one request: detect, decide, and prepare redaction.

Looks at every piece of text a request sends — message contents (strings and
text parts), tool-call arguments in earlier turns, completion prompts,
embedding inputs — and returns an :class:`Inspection`: the action the key's
policy takes, the entity types and counts, keyed hashes of the values for the
audit trail (never the values), and for ``redact`` the redacted body.

Texts beyond a short prompt are inspected off the event loop, on a pool shared
fairly among keys, with a cap per key (:class:`~plinth.privacy.scan_pool.ScanPool`).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
from collections import Counter
from dataclasses import dataclass
from typing import Any

from plinth.errors import InvalidRequest
from plinth.privacy.detectors import Finding, detect
from plinth.privacy.policy import BUILT_IN, Action, PrivacyPolicy
from plinth.privacy.redaction import Redactor
from plinth.privacy.scan_pool import ScanPool

__all__ = ["Inspection", "PrivacyGuard", "ScanPool", "text_fields"]

Json = dict[str, Any]
# (container, key, is_json_string): container[key] is one piece of request text.
TextField = tuple[Any, Any, bool]


@dataclass
class Inspection:
    policy: str
    action: Action
    counts: dict[str, int]
    value_hashes: list[dict[str, str]]
    redactor: Redactor | None = None
    redacted_body: Json | None = None


def text_fields(body: Json) -> list[TextField]:
    """Every text a chat, completion or embedding body carries, as settable places."""
    fields: list[TextField] = []
    for message in body.get("messages") or ():
        content = message.get("content")
        if isinstance(content, str):
            fields.append((message, "content", False))
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    fields.append((part, "text", False))
        for call in message.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                fields.append((function, "arguments", True))
    for name in ("prompt", "input"):
        value = body.get(name)
        if isinstance(value, str):
            fields.append((body, name, False))
        elif isinstance(value, list):
            fields += [(value, i, False) for i, item in enumerate(value) if isinstance(item, str)]
    return fields


class PrivacyGuard:
    def __init__(
        self,
        policies: dict[str, PrivacyPolicy],
        default_policy: str,
        audit_key: bytes,
        *,
        strict_phones: bool = False,
    ):
        self.policies = {**BUILT_IN, **policies}
        if default_policy not in self.policies:
            raise ValueError(
                f"privacy.default_policy '{default_policy}' is not a policy "
                f"(known: {', '.join(sorted(self.policies))})"
            )
        self.default_policy = default_policy
        self._audit_key = audit_key
        self._strict_phones = strict_phones  # see detectors.detect
        self.scans = ScanPool()

    def check_policy_name(self, name: str) -> None:
        if name not in self.policies:
            raise InvalidRequest(
                f"Unknown privacy policy '{name}' (known: {', '.join(sorted(self.policies))})",
                param="privacy_policy",
            )

    def value_hash(self, entity: str, value: str) -> str:
        """A keyed hash: equal values can be correlated, values cannot be recovered."""
        digest = hmac.new(self._audit_key, f"{entity}:{value}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    async def inspect_async(
        self, body: Json, policy_name: str | None, key: str | None = None
    ) -> Inspection:
        """:meth:`inspect`, off the event loop when the body's text is large (``ScanPool``)."""
        places = text_fields(body)
        size = sum(len(container[name]) for container, name, _ in places)
        return await self.scans.run(size, key, lambda: self.inspect(body, policy_name, places))

    def inspect(
        self, body: Json, policy_name: str | None, places: list[TextField] | None = None
    ) -> Inspection:
        """``places``: ``text_fields(body)``, if the caller has them already."""
        name = policy_name if policy_name in self.policies else self.default_policy
        policy = self.policies[name]
        if places is None:
            places = text_fields(body)
        found: list[list[Finding]] = [
            detect(container[key], strict_phones=self._strict_phones)
            for container, key, _ in places
        ]
        flat = [f for findings in found for f in findings]
        if not flat:  # nearly every request: nothing to count, hash or redact
            return Inspection(policy=name, action="allow", counts={}, value_hashes=[])
        counts = Counter(f.entity for f in flat)
        action = policy.decide(counts) if counts else "allow"  # nothing found: allowed
        hashed = sorted({(f.entity, self.value_hash(f.entity, f.text)) for f in flat})
        inspection = Inspection(
            policy=name,
            action=action,
            counts=dict(sorted(counts.items())),
            value_hashes=[{"entity": e, "hash": h} for e, h in hashed],
        )
        if action == "redact" and flat:
            redacted = copy.deepcopy(body)
            redactor = Redactor()
            for (container, key, _), findings in zip(text_fields(redacted), found, strict=True):
                if findings:
                    container[key] = redactor.redact(container[key], findings)
            inspection.redactor, inspection.redacted_body = redactor, redacted
        return inspection

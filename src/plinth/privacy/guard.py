"""The privacy decision for one request: detect, decide, and prepare redaction.

Looks at every piece of text a request sends — message contents (strings and
text parts), tool-call arguments in earlier turns, completion prompts,
embedding inputs — and returns an :class:`Inspection`: the action the key's
policy takes, the entity types and counts, keyed hashes of the values for the
audit trail (never the values), and for ``redact`` the redacted body.

Texts beyond a short prompt are inspected off the event loop (:class:`ScanPool`).
Detection is linear in the text, but its cost per character varies fifty-fold:
~0.1 us for English, ~1 us for Chinese prose, ~16 us for a run of surnames
(every character starts a name to score). On the event loop a 32 K-character
run of surnames stopped every other request (and ``/health``) for half a
second, so only texts up to ``inline_limit`` characters (2,048: at most ~30 ms
even at the worst rate) are scanned inline, where a hand-off to a thread would
cost more than the scan. Up to ``queue_limit`` characters a text waits its turn
in a small thread pool. Above it (an 8 MiB body takes seconds of CPU) one key
may have at most ``per_key`` inspections in flight; another one is refused at
once with a 429 (``RateLimited``, retry after a second) rather than queued, so
one key cannot fill the pool and the queue behind it (waiting would hold the
request's body in memory meanwhile). A thread does not run beside the event
loop (detection holds the interpreter lock), but the loop gets its turn every
few milliseconds instead of after the whole scan.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from plinth.errors import InvalidRequest, RateLimited
from plinth.privacy.detectors import Finding, detect
from plinth.privacy.policy import BUILT_IN, Action, PrivacyPolicy
from plinth.privacy.redaction import Redactor

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


T = TypeVar("T")

INLINE_LIMIT = 2 * 1024  # characters scanned on the loop: ~30 ms at the worst rate
QUEUE_LIMIT = 32 * 1024  # characters that wait for the pool without a per-key cap
WORKERS = 2
PER_KEY = 2


class ScanPool:
    """Inspections of longer texts in a small thread pool; the largest a few at a time per key."""

    def __init__(
        self,
        *,
        inline_limit: int = INLINE_LIMIT,
        queue_limit: int = QUEUE_LIMIT,
        workers: int = WORKERS,
        per_key: int = PER_KEY,
    ):
        self.inline_limit = inline_limit
        self.queue_limit = max(queue_limit, inline_limit)
        self.per_key = per_key
        self._workers = workers
        self._executor: ThreadPoolExecutor | None = None
        self._active: Counter[str] = Counter()

    async def run(self, size: int, key: str | None, work: Callable[[], T]) -> T:
        """``work()``, inline when ``size`` is small, otherwise in the pool."""
        if size <= self.inline_limit:
            return work()
        if size <= self.queue_limit:
            # Cancelling the request does not stop the thread; shielded as below.
            return await asyncio.shield(
                asyncio.get_running_loop().run_in_executor(self._pool(), work)
            )
        owner = key or "anonymous"
        if self._active[owner] >= self.per_key:
            raise RateLimited(
                f"This key already has {self.per_key} large requests being screened for "
                "personal data; retry when one has finished",
                retry_after_s=1.0,
            )
        self._active[owner] += 1
        future = asyncio.get_running_loop().run_in_executor(self._pool(), work)
        # Released when the scan ends, not when the request does: a client that
        # hangs up does not stop the thread, so it must not free the slot early.
        future.add_done_callback(lambda _: self._release(owner))
        return await asyncio.shield(future)

    def _release(self, owner: str) -> None:
        self._active[owner] -= 1
        if not self._active[owner]:
            del self._active[owner]

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="privacy-scan")
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


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
        """:meth:`inspect`, off the event loop when the body's text is large (see ``offload``)."""
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

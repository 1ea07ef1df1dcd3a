"""Privacy policies: which detected entity types lead to which action.

Actions, from mildest to strictest:

- ``allow``: the request goes wherever routing sends it;
- ``redact``: if it goes to a cloud deployment, detected values are replaced
  by typed placeholders first and restored in the answer (a local deployment
  gets the original text: nothing leaves);
- ``local_only``: only deployments with ``locality = "local"`` may serve it;
- ``block``: refused with a 403.

A policy gives an action per entity type (``rules``) and one for every other
type (``default_action``); a request gets the strictest action among the types
found in it, and ``allow`` when nothing is found. The built-in policies
``allow``, ``redact``, ``local_only`` and ``block`` apply their action to
every type.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from plinth.privacy.findings import ENTITIES

Action = Literal["allow", "redact", "local_only", "block"]
SEVERITY: dict[Action, int] = {"allow": 0, "redact": 1, "local_only": 2, "block": 3}


class PrivacyPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default_action: Action = "allow"
    rules: dict[str, Action] = Field(default_factory=dict, description="Entity type → action.")

    @field_validator("rules")
    @classmethod
    def _known_types(cls, rules: dict[str, Action]) -> dict[str, Action]:
        """A misspelt type would silently never match: refuse it (PERSON, ADDRESS, CN_PLATE…)."""
        unknown = sorted(set(rules) - set(ENTITIES))
        if unknown:
            raise ValueError(f"unknown entity types {unknown} (known: {', '.join(ENTITIES)})")
        return rules

    def decide(self, entities: Iterable[str]) -> Action:
        decision: Action = "allow"
        for entity in entities:
            action = self.rules.get(entity, self.default_action)
            if SEVERITY[action] > SEVERITY[decision]:
                decision = action
        return decision


BUILT_IN: dict[str, PrivacyPolicy] = {
    action: PrivacyPolicy(default_action=action) for action in SEVERITY
}

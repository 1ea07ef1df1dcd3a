"""``plinth keys set-policy``: the same rule as the admin API and the console."""

from __future__ import annotations

import json


def test_set_policy_changes_clears_and_refuses(run) -> None:  # type: ignore[no-untyped-def]
    assert run("keys", "create", "--name", "bot", "--privacy-policy", "redact").exit_code == 0
    key_id = json.loads(run("keys", "list", "--format", "json").stdout)[0]["id"]

    def policy() -> str | None:
        rows = json.loads(run("keys", "list", "--format", "json").stdout)
        return rows[0]["privacy_policy"]  # type: ignore[no-any-return]

    changed = run("keys", "set-policy", key_id, "local_only")
    assert changed.exit_code == 0, changed.output
    assert "local_only" in changed.output and policy() == "local_only"

    unknown = run("keys", "set-policy", key_id, "paranoid")
    assert unknown.exit_code == 2 and "unknown policy 'paranoid'" in unknown.output
    assert "Traceback" not in unknown.output and policy() == "local_only"

    missing = run("keys", "set-policy", "key_0000000000000000", "block")
    assert missing.exit_code == 2 and "No API key" in missing.output

    cleared = run("keys", "set-policy", key_id, "none")
    assert cleared.exit_code == 0, cleared.output
    assert policy() is None

"""Helpers for Batch API tests: input files, waiting for a batch, reading its files."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.testclient import TestClient


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def chat_line(custom_id: str, text: str, model: str = "gpt-fake") -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": text}]},
    }


def upload(client: TestClient, data: bytes, purpose: str = "batch") -> str:
    response = client.post(
        "/v1/files", files={"file": ("in.jsonl", data)}, data={"purpose": purpose}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def create(client: TestClient, file_id: str, endpoint: str = "/v1/chat/completions") -> Any:
    response = client.post(
        "/v1/batches",
        json={"input_file_id": file_id, "endpoint": endpoint, "completion_window": "24h"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def wait_for(
    client: TestClient, batch_id: str, statuses: tuple[str, ...], within_s: float = 30
) -> Any:
    """Poll until the batch (run by the app's background task) reaches one of ``statuses``."""
    deadline = time.monotonic() + within_s
    while True:
        batch = client.get(f"/v1/batches/{batch_id}").json()
        if batch["status"] in statuses:
            return batch
        if time.monotonic() > deadline:
            raise AssertionError(f"batch {batch_id} still {batch['status']} after {within_s} s")
        time.sleep(0.02)


def file_lines(client: TestClient, file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    response = client.get(f"/v1/files/{file_id}/content")
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]

"""Where a hub lists a repo's files and serves them: Hugging Face and ModelScope.

Both hubs give each large file's sha256 in their listing (Hugging Face as the
LFS object id, ModelScope as ``Sha256``), which is what a download is checked
against. The endpoints follow the hubs' own environment variables, so a mirror
(``HF_ENDPOINT=https://hf-mirror.com``) works as it does for their clients.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from plinth.errors import UpstreamBadResponse
from plinth.hub.http import get_json

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class HubFile:
    path: str
    size: int | None
    sha256: str | None


class Hub(Protocol):
    name: str
    revision: str

    def list_files(self, repo: str) -> list[HubFile]: ...

    def file_url(self, repo: str, path: str) -> str: ...

    def headers(self) -> dict[str, str]: ...


def _sha256(value: Any) -> str | None:
    text = str(value or "").strip('"').lower()
    return text if _SHA256.match(text) else None


def _bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


class HuggingFace:
    name = "huggingface"

    def __init__(self, token: str | None = None, revision: str | None = None):
        self.endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
        self.token = token or os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
        self.revision = revision or "main"

    def headers(self) -> dict[str, str]:
        return _bearer(self.token)

    def list_files(self, repo: str) -> list[HubFile]:
        url = f"{self.endpoint}/api/models/{repo}/tree/{quote(self.revision, safe='')}"
        entries = get_json(url + "?recursive=true", self.headers())
        if not isinstance(entries, list):
            raise UpstreamBadResponse(f"Unexpected file listing from {url}")
        files = []
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("type") != "file":
                continue
            lfs = entry.get("lfs") or {}
            size = lfs.get("size", entry.get("size"))
            files.append(HubFile(str(entry["path"]), _int(size), _sha256(lfs.get("oid"))))
        return files

    def file_url(self, repo: str, path: str) -> str:
        revision = quote(self.revision, safe="")
        return f"{self.endpoint}/{repo}/resolve/{revision}/{quote(path)}"


class ModelScope:
    name = "modelscope"

    def __init__(self, token: str | None = None, revision: str | None = None):
        default = "https://www.modelscope.cn"
        self.endpoint = os.environ.get("MODELSCOPE_ENDPOINT", default).rstrip("/")
        self.token = token or os.environ.get("MODELSCOPE_API_TOKEN")
        self.revision = revision or "master"

    def headers(self) -> dict[str, str]:
        return _bearer(self.token)

    def list_files(self, repo: str) -> list[HubFile]:
        query = urlencode({"Revision": self.revision, "Recursive": "true"})
        url = f"{self.endpoint}/api/v1/models/{repo}/repo/files?{query}"
        answer = get_json(url, self.headers())
        data = answer.get("Data") if isinstance(answer, dict) else None
        entries = data.get("Files") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise UpstreamBadResponse(f"Unexpected file listing from {url}")
        return [
            HubFile(str(e["Path"]), _int(e.get("Size")), _sha256(e.get("Sha256")))
            for e in entries
            if isinstance(e, dict) and e.get("Type", "blob") == "blob" and "Path" in e
        ]

    def file_url(self, repo: str, path: str) -> str:
        query = urlencode({"Revision": self.revision, "FilePath": path})
        return f"{self.endpoint}/api/v1/models/{repo}/repo?{query}"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and value >= 0 else None


def hub_named(source: str, token: str | None, revision: str | None) -> Hub:
    return ModelScope(token, revision) if source == "modelscope" else HuggingFace(token, revision)

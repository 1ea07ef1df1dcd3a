"""A fake Hugging Face Hub and ModelScope on loopback: the parts of their HTTP APIs
``plinth models pull`` uses, with faults to inject.

Hugging Face: ``GET /api/models/{repo}/tree/{rev}?recursive=true`` (entries with
``lfs.oid`` = sha256 and ``lfs.size``), ``GET /{repo}/resolve/{rev}/{path}`` that
redirects to a CDN path (as the real hub does) which honours ``Range`` and sends
``X-Linked-Etag``. ModelScope: ``GET /api/v1/models/{repo}/repo/files`` (``Sha256``,
``Size``) and ``GET /api/v1/models/{repo}/repo?FilePath=...`` with ``Range``.
It also answers requests in a proxy's absolute form (``GET http://host/...``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class FakeHub:
    # repo -> {path: content}
    repos: dict[str, dict[str, bytes]] = field(default_factory=dict)
    gated: set[str] = field(default_factory=set)  # repos that need "Bearer good-token"
    cut_after: dict[str, int] = field(default_factory=dict)  # path -> bytes before the drop (once)
    corrupt: set[str] = field(default_factory=set)  # paths served with a flipped byte
    ignore_range: bool = False
    cdn_host: str = "127.0.0.1"  # where /resolve redirects to ("localhost": another host)
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def sha256(self, repo: str, path: str) -> str:
        return hashlib.sha256(self.repos[repo][path]).hexdigest()

    def ranges(self, path_suffix: str) -> list[str | None]:
        """The Range header of each content request for a file."""
        return [r["range"] for r in self.requests if r["content"] and r["file"] == path_suffix]


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            url = urlsplit(self.path)  # absolute form when we are the proxy
            path, query = unquote(url.path), parse_qs(url.query)
            record = {"path": path, "range": self.headers.get("Range"), "content": False}
            record |= {"auth": self.headers.get("Authorization"), "file": None}
            record["host"] = url.netloc or self.headers.get("Host")
            hub.requests.append(record)
            for repo in hub.repos:
                if (
                    path.startswith((f"/api/models/{repo}/", f"/api/v1/models/{repo}/"))
                    or path.startswith(f"/{repo}/resolve/")
                ) and not self._allowed(repo):
                    return self._send(401, b'{"error": "unauthorized"}')
            if path.startswith("/api/v1/models/"):
                return self._modelscope(path, query, record)
            if path.startswith("/api/models/"):
                return self._hf_tree(path)
            if "/resolve/" in path:
                repo, rest = path[1:].split("/resolve/", 1)
                file = rest.split("/", 1)[1]
                if file not in hub.repos.get(repo, {}):
                    return self._send(404, b"{}")
                self.send_response(302)
                cdn = f"http://{hub.cdn_host}:{hub.port}"
                self.send_header("Location", f"{cdn}/cdn/{repo}/{file}")
                self.send_header("X-Linked-Etag", f'"{hub.sha256(repo, file)}"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if path.startswith("/cdn/"):
                owner, name, file = path[5:].split("/", 2)
                return self._content(f"{owner}/{name}", file, record, etag=True)
            return self._send(404, b"{}")

        def _allowed(self, repo: str) -> bool:
            return repo not in hub.gated or self.headers.get("Authorization") == "Bearer good-token"

        def _hf_tree(self, path: str) -> None:
            repo = path[len("/api/models/") :].split("/tree/")[0]
            if repo not in hub.repos:
                return self._send(404, b'{"error": "Repository not found"}')
            entries = [
                {
                    "type": "file",
                    "path": name,
                    "size": len(data),
                    "oid": "0" * 40,  # the git blob id, not a sha256
                    "lfs": {"oid": hub.sha256(repo, name), "size": len(data), "pointerSize": 134},
                }
                for name, data in hub.repos[repo].items()
            ]
            entries.append({"type": "directory", "path": "docs", "oid": "1" * 40})
            return self._send(200, json.dumps(entries).encode())

        def _modelscope(self, path: str, query: dict[str, list[str]], record: Any) -> None:
            repo = path[len("/api/v1/models/") :].split("/repo")[0]
            if repo not in hub.repos:
                return self._send(404, b'{"Code": 10010205001, "Message": "not found"}')
            if path.endswith("/repo/files"):
                files = [
                    {
                        "Name": name.rsplit("/", 1)[-1],
                        "Path": name,
                        "Size": len(data),
                        "Sha256": hub.sha256(repo, name),
                        "Type": "blob",
                    }
                    for name, data in hub.repos[repo].items()
                ]
                files.append({"Name": "docs", "Path": "docs", "Type": "tree", "Size": 0})
                body = {"Code": 200, "Data": {"Files": files}, "Success": True}
                return self._send(200, json.dumps(body).encode())
            return self._content(repo, query["FilePath"][0], record, etag=False)

        def _content(self, repo: str, file: str, record: Any, *, etag: bool) -> None:
            data = hub.repos.get(repo, {}).get(file)
            if data is None:
                return self._send(404, b"{}")
            record.update(content=True, file=file)
            if file in hub.corrupt:
                data = data[:-1] + bytes([data[-1] ^ 0xFF])
            start = 0
            ranged = self.headers.get("Range")
            if ranged and not hub.ignore_range:
                start = int(ranged.removeprefix("bytes=").split("-")[0])
            self.send_response(206 if start else 200)
            self.send_header("Content-Length", str(len(data) - start))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            if etag:
                self.send_header("ETag", f'"{hub.sha256(repo, file)}"')
            self.end_headers()
            body = data[start:]
            cut = hub.cut_after.pop(file, None)
            if cut is not None:
                self.wfile.write(body[:cut])  # then the connection drops
                self.wfile.flush()
                self.close_connection = True
                return None
            self.wfile.write(body)
            return None

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def running(hub: FakeHub) -> Iterator[FakeHub]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    hub.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()

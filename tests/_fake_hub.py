"""A local stand-in for the Hugging Face Hub's HTTP API (the remote service we cannot reach here).

It answers the requests huggingface_hub 2.x makes (read from its
``_snapshot_download.py``, ``file_download.py``, ``hf_api.py`` and
``utils/_http.py``), so the *real* huggingface_hub code downloads, caches,
resolves revisions, resumes and raises its own errors against it:

- ``GET /api/{models,datasets}/ORG/NAME/revision/REV``: repo info (``sha``);
- ``GET /api/{models,datasets}/ORG/NAME/tree/SHA?recursive=...``: the file list;
- ``HEAD|GET /[datasets/]ORG/NAME/resolve/REV/PATH``: file metadata
  (``X-Repo-Commit``, ``ETag``, ``Content-Length``) and bytes, with ``Range``.

Errors use the Hub's ``X-Error-Code`` header (``RepoNotFound``,
``RevisionNotFound``, ``EntryNotFound``, ``GatedRepo``). ``cut_once`` drops
the connection half-way through a file the first time it is served;
``stall`` sends half a file and then waits (so a test can kill the client).
Every request is logged in ``requests`` as ``(method, path, Range header)``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

GOOD_TOKEN = "hf_test_token_with_access"


@dataclass
class Repo:
    repo_type: str  # "model" | "dataset"
    repo_id: str
    commits: dict[str, dict[str, bytes]]  # sha -> {path: content}
    refs: dict[str, str]  # branch/tag -> sha
    gated: bool = False


def sha_of(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


@dataclass
class FakeHub:
    repos: dict[tuple[str, str], Repo] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    cut_once: set[str] = field(default_factory=set)
    stall: set[str] = field(default_factory=set)
    stalled: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def add(
        self, repo_type: str, repo_id: str, files: dict[str, bytes], *, branch: str = "main", gated: bool = False
    ) -> str:
        """Add (or extend with a new commit) a repo; returns the commit sha."""
        key = (repo_type, repo_id)
        sha = sha_of(f"{repo_id}:{branch}:{len(self.requests)}:{sorted(files)}:{sum(map(len, files.values()))}")
        repo = self.repos.setdefault(key, Repo(repo_type, repo_id, {}, {}, gated))
        repo.commits[sha] = dict(files)
        repo.refs[branch] = sha
        return sha

    def gets(self, suffix: str = "") -> list[tuple[str, str, str | None]]:
        """Logged file downloads (GET .../resolve/...), optionally only those ending with ``suffix``."""
        return [r for r in self.requests if r[0] == "GET" and "/resolve/" in r[1] and r[1].endswith(suffix)]

    # -- routing -----------------------------------------------------------------------
    def _repo(self, repo_type: str, repo_id: str) -> Repo | None:
        return self.repos.get((repo_type, repo_id))

    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parsed = urlparse(h.path)
        path = unquote(parsed.path)
        self.requests.append((method, path, h.headers.get("Range")))
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 6 and parts[1] in ("models", "datasets"):
            repo_type = parts[1][:-1]
            repo = self._repo(repo_type, f"{parts[2]}/{parts[3]}")
            if repo is None:
                return _error(h, 401, "RepoNotFound", "Repository not found")
            rev = "/".join(parts[5:])
            sha = repo.refs.get(rev, rev if rev in repo.commits else None)
            if sha is None:
                return _error(h, 404, "RevisionNotFound", f"Invalid rev id: {rev}")
            files = repo.commits[sha]
            if parts[4] == "revision":
                body = {
                    "id": repo.repo_id,
                    "sha": sha,
                    "private": False,
                    "gated": "auto" if repo.gated else False,
                    "siblings": [{"rfilename": p} for p in sorted(files)],
                }
            elif parts[4] == "tree":
                body = [
                    {"type": "file", "path": p, "size": len(c), "oid": hashlib.sha1(c).hexdigest()}
                    for p, c in sorted(files.items())
                ]
            else:
                return _error(h, 404, None, "no such endpoint")
            return _send(h, 200, json.dumps(body).encode(), {"Content-Type": "application/json"}, method)
        repo_type = "dataset" if parts[0] == "datasets" else "model"
        if repo_type == "dataset":
            parts = parts[1:]
        if len(parts) < 5 or parts[2] != "resolve":
            return _error(h, 404, None, "not found")
        repo = self._repo(repo_type, f"{parts[0]}/{parts[1]}")
        if repo is None:
            return _error(h, 401, "RepoNotFound", "Repository not found")
        rev, filename = parts[3], "/".join(parts[4:])
        sha = repo.refs.get(rev, rev if rev in repo.commits else None)
        if sha is None:
            return _error(h, 404, "RevisionNotFound", f"Invalid rev id: {rev}")
        if repo.gated and h.headers.get("Authorization") != f"Bearer {GOOD_TOKEN}":
            return _error(
                h,
                401,
                "GatedRepo",
                f"Access to {repo.repo_id} is restricted: you must have access.",
                {"X-Repo-Commit": sha},
            )
        content = repo.commits[sha].get(filename)
        if content is None:
            return _error(h, 404, "EntryNotFound", f"{filename} does not exist", {"X-Repo-Commit": sha})
        headers = {"X-Repo-Commit": sha, "ETag": f'"{hashlib.sha256(content).hexdigest()}"', "Accept-Ranges": "bytes"}
        start = 0
        wanted = h.headers.get("Range")
        if method == "GET" and wanted and wanted.startswith("bytes="):
            start = int(wanted[len("bytes=") :].split("-")[0])
            headers["Content-Range"] = f"bytes {start}-{len(content) - 1}/{len(content)}"
        body = content[start:]
        status = 206 if start else 200
        if method == "GET" and filename in self.cut_once:
            self.cut_once.discard(filename)
            return _send_half(h, status, body, headers, close=True)
        if method == "GET" and filename in self.stall:
            _send_half(h, status, body, headers, close=False)
            self.stalled.set()
            self.release.wait(30)
            return None
        return _send(h, status, body, headers, method)


def _send(h, status: int, body: bytes, headers: dict, method: str) -> None:
    h.send_response(status)
    for k, v in headers.items():
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if method == "GET":
        h.wfile.write(body)


def _send_half(h, status: int, body: bytes, headers: dict, *, close: bool) -> None:
    h.send_response(status)
    for k, v in headers.items():
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body[: len(body) // 2])
    h.wfile.flush()
    if close:
        h.close_connection = True


def _error(h, status: int, code: str | None, message: str, extra: dict | None = None) -> None:
    body = json.dumps({"error": message}).encode()
    headers = {"Content-Type": "application/json", "X-Error-Message": message, **(extra or {})}
    if code:
        headers["X-Error-Code"] = code
    _send(h, status, body, headers, "GET")


def serve(hub: FakeHub) -> ThreadingHTTPServer:
    """Start ``hub`` on a free local port (``hub.url``); call ``shutdown()`` on the result when done."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802
            hub.handle(self, "GET")

        def do_HEAD(self):  # noqa: N802
            hub.handle(self, "HEAD")

        def log_message(self, *args):  # keep pytest output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server

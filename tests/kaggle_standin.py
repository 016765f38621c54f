"""A local stand-in for the Kaggle API, so tests can drive the real ``kaggle`` client offline.

Checked against ``kaggle`` 2.2.5 / ``kagglesdk`` 0.1.38 (tests/test_kaggle_standin.py pins all of it).

Usage::

    with kaggle_standin(tmp_path / "home") as server:
        server.add_competition("digit-recognizer", make_zip({"train.csv": b"label\\n1\\n"}))
        os.environ["KAGGLE_API_TOKEN"] = server.valid_token   # or monkeypatch.setenv
        api = KaggleApi(); api.authenticate()
        api.competition_download_files("digit-recognizer", path=str(tmp_path), quiet=True)
        assert server.requests[-1].auth == "token"

What the client sends (every API call is a POST with a JSON body of camelCase fields)
-------------------------------------------------------------------------------------
* ``POST /api/v1/security.OAuthService/IntrospectToken`` ``{"token": T}``: made by ``authenticate()``
  when ``KAGGLE_API_TOKEN`` (a value, or a path to a file) or ``~/.kaggle/access_token[.txt]`` exists.
  ``{"active": true, "username": U}`` accepts the token; ``{"active": false}`` or a 400/403/404 makes
  the client ignore the token quietly and go on to the legacy key; any other error status is raised.
* ``POST /api/v1/competitions.CompetitionApiService/DownloadDataFiles`` ``{"competitionName": C}``.
* ``POST /api/v1/datasets.DatasetApiService/DownloadDataset`` ``{"ownerSlug": O, "datasetSlug": D}``.
* Auth header: ``Authorization: Bearer <token>`` whenever a token is found in the environment (env var
  or file, looked up again at request time), otherwise HTTP Basic ``username:key`` from
  ``~/.kaggle/kaggle.json`` or ``KAGGLE_USERNAME`` + ``KAGGLE_KEY`` (these are only checked for being
  present: a wrong key is only noticed by the server, at download time).
* A download answers ``302`` to a signed blob URL; ``requests`` follows it with a GET. The stand-in's
  blob URLs use host ``localhost`` while the API uses ``127.0.0.1``, so, as with Kaggle's Google
  Cloud Storage URLs, ``requests`` drops the Authorization header on the redirect. The competition
  file is saved as ``<path>/<competition>.<extension of the blob URL>``, the dataset file as
  ``<path>/<dataset-slug>.zip``; ``unzip=True`` extracts into ``path`` and deletes the zip.

What the client raises (what the stand-in answers)
--------------------------------------------------
Kaggle answers errors with ``Content-Type: application/json`` and ``{"code": N, "message": M}``;
kagglesdk turns that into ``requests.exceptions.HTTPError(M, response=...)``. So ``str(e) == M`` and
the status is ``e.response.status_code`` (``e.response.json()`` gives the body back). The calls are
not retried, so an error comes back at once.

* 401, bad key or token (or no credentials sent): ``HTTPError("Unauthorized")``, status 401.
* 403, competition rules not accepted: ``HTTPError("You must accept this competition's rules before
  you'll be able to download files.")``, status 403. This is Kaggle's own wording as users report it
  (``RULES_NOT_ACCEPTED_MESSAGE``); match on ``status_code == 403`` plus ``"must accept" in str(e)``.
* 404, unknown competition or dataset: ``HTTPError("NotFound")``, status 404. Kaggle's exact 404
  message is not documented; "NotFound" is what older Kaggle answers showed. Rely on the status code.
* No network (the endpoint is a closed port, see ``KaggleStandIn.go_offline``):
  ``requests.exceptions.ConnectionError``, raised right away by the download call, or already by
  ``authenticate()`` when a token has to be introspected. It is not an ``HTTPError`` and has no
  ``.response`` (it is ``None``).
* No credentials at all: ``authenticate()`` prints the "Authentication required to call the Kaggle
  API..." help to stdout and calls ``exit(1)``, i.e. it raises ``SystemExit(1)``, which
  ``except Exception`` does not catch.
* An unknown token, for which the introspection answers ``{"active": false}``, is skipped by
  ``authenticate()``, which then uses ``kaggle.json`` or the env key if there is one. But the HTTP
  layer still sends that token as ``Bearer`` on the download, so an invalid ``KAGGLE_API_TOKEN``
  hides a valid ``kaggle.json``, and the download gets a 401.

Setting up the environment (``kaggle_standin`` does all of this and undoes it afterwards)
---------------------------------------------------------------------------------------
* ``import kaggle`` (any ``kaggle.*`` import) runs ``KaggleApi().authenticate()`` once and ignores
  its errors, and fixes some settings at class-definition time. ``KaggleApi.args`` picks the endpoint:
  ``["--local"]`` (set only when ``KAGGLE_API_ENVIRONMENT=LOCALHOST`` at import time) means
  ``_env_to_endpoint[KaggleEnv.LOCAL] + "/api/v1/..."``, otherwise PROD, ``https://api.kaggle.com/v1/...``.
  ``KaggleApi.config_dir`` and ``KaggleApi.config`` (the ``kaggle.json`` path) come from ``HOME``, and
  the import creates that directory. So HOME and the environment must be set before the first import,
  and the class attributes patched if the module was imported earlier. The stand-in does both, and
  points every entry of ``_env_to_endpoint`` at itself, so nothing can reach the real Kaggle.
  (If the first import happens inside the stand-in, the class keeps what it computed then after
  the stand-in stops: ``args == ["--local"]``, i.e. ``http://localhost``, and a ``config`` path
  in the stand-in's removed HOME. Nothing real can be reached that way.)
* Environment: every ``KAGGLE_*`` variable removed (the client reads them all), then
  ``KAGGLE_API_ENVIRONMENT=LOCALHOST``; ``HOME`` set to a temporary directory that holds ``.kaggle/``;
  ``XDG_CONFIG_HOME`` under it; ``NO_PROXY`` covering 127.0.0.1 and localhost.
* Code under test should make its own ``KaggleApi()`` and call ``authenticate()``: the instance that
  ``import kaggle`` made (``kaggle.api``) authenticated under whatever environment held at that time.
* Credentials go in after the stand-in has started (starting it clears them), through the env, or
  ``write_kaggle_json`` / ``write_access_token``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import os
import socket
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

RULES_NOT_ACCEPTED_MESSAGE = (
    "You must accept this competition's rules before you'll be able to download files."
)
LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT"

INTROSPECT = "security.OAuthService/IntrospectToken"
DOWNLOAD_COMPETITION = "competitions.CompetitionApiService/DownloadDataFiles"
DOWNLOAD_DATASET = "datasets.DatasetApiService/DownloadDataset"


def make_zip(files: dict[str, bytes]) -> bytes:
    """Return the bytes of a zip archive holding ``files`` (name -> content)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def closed_port_url() -> str:
    """Return an http URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass
class Competition:
    zip_bytes: bytes
    rules_accepted: bool = True


@dataclass(frozen=True)
class RecordedRequest:
    """One request the stand-in received.

    ``auth`` is the scheme the client used: ``"token"`` (Bearer), ``"basic"`` (username/key) or
    ``"none"``. ``username`` is the user it authenticated as, ``None`` when the credentials were wrong
    or absent. ``rpc`` is e.g. ``"competitions.CompetitionApiService/DownloadDataFiles"`` (empty for blobs).
    """

    method: str
    path: str
    rpc: str
    auth: str
    username: str | None
    body: dict[str, Any] | None
    status: int


@dataclass
class KaggleStandIn:
    """The stand-in's world and server. ``requests`` lists API calls; ``blob_requests`` file fetches."""

    home: Path
    valid_token: str = "KGAT_standin0000000000000000000001"
    valid_username: str = "standin-user"
    valid_key: str = "0123456789abcdef0123456789abcdef"
    tokens: dict[str, str] = field(default_factory=dict)  # token -> username
    api_keys: dict[str, str] = field(default_factory=dict)  # username -> key
    competitions: dict[str, Competition] = field(default_factory=dict)
    datasets: dict[str, bytes] = field(default_factory=dict)  # "owner/slug" -> zip bytes
    requests: list[RecordedRequest] = field(default_factory=list)
    blob_requests: list[RecordedRequest] = field(default_factory=list)
    url: str = ""  # API endpoint, http://127.0.0.1:<port>
    blob_base: str = ""  # http://localhost:<port>/blobs
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _monkeypatch: pytest.MonkeyPatch | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.tokens.setdefault(self.valid_token, self.valid_username)
        self.api_keys.setdefault(self.valid_username, self.valid_key)

    # -- world ---------------------------------------------------------------------------------
    def add_competition(self, name: str, zip_bytes: bytes, rules_accepted: bool = True) -> None:
        self.competitions[name] = Competition(zip_bytes, rules_accepted)

    def add_dataset(self, ref: str, zip_bytes: bytes) -> None:
        """Add a dataset under ``"owner/slug"``."""
        self.datasets[ref] = zip_bytes

    def write_kaggle_json(self, username: str | None = None, key: str | None = None) -> Path:
        """Write ``~/.kaggle/kaggle.json`` (mode 600) in the stand-in's HOME; valid pair by default."""
        path = self.home / ".kaggle" / "kaggle.json"
        path.write_text(
            json.dumps({"username": username or self.valid_username, "key": key or self.valid_key})
        )
        path.chmod(0o600)
        return path

    def write_access_token(self, token: str | None = None) -> Path:
        """Write ``~/.kaggle/access_token`` in the stand-in's HOME; the valid token by default."""
        path = self.home / ".kaggle" / "access_token"
        path.write_text(token or self.valid_token)
        path.chmod(0o600)
        return path

    def calls(self, rpc: str) -> list[RecordedRequest]:
        """The API requests whose RPC name ends with ``rpc`` (e.g. ``"DownloadDataFiles"``)."""
        return [r for r in self.requests if r.rpc.endswith(rpc)]

    def go_offline(self) -> None:
        """Point the client's endpoint table at a closed port: the next client call has no network."""
        assert self._monkeypatch is not None, "start the stand-in with kaggle_standin()"
        _point_endpoints_at(self._monkeypatch, closed_port_url())

    # -- server ----------------------------------------------------------------------------------
    def start(self) -> None:
        handler = type("Handler", (_Handler,), {"world": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{port}"
        self.blob_base = f"http://localhost:{port}/blobs"
        poll = {"poll_interval": 0.02}  # so that stop() returns at once
        threading.Thread(
            target=self._server.serve_forever, kwargs=poll, name="kaggle-standin", daemon=True
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def blob(self, key: str) -> bytes | None:
        """The file behind blob URL ``<blob_base>/<key>`` (keys: ``competitions/<name>/archive.zip``, ...)."""
        kind, _, rest = key.partition("/")
        ref = rest.rsplit("/", 1)[0]
        if kind == "competitions" and ref in self.competitions:
            return self.competitions[ref].zip_bytes
        if kind == "datasets":
            return self.datasets.get(ref)
        return None

    # -- API logic (called by the handler) -------------------------------------------------------
    def authenticate(self, header: str) -> tuple[str, str | None]:
        scheme, _, value = header.partition(" ")
        if scheme == "Bearer":
            return "token", self.tokens.get(value)
        if scheme == "Basic":
            try:
                username, _, key = base64.b64decode(value, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return "basic", None
            return "basic", username if self.api_keys.get(username) == key else None
        return "none", None

    def answer(self, rpc: str, body: dict[str, Any], username: str | None) -> tuple[int, dict[str, Any], str]:
        """Return (status, JSON body, redirect location) for one RPC."""
        if rpc == INTROSPECT:
            owner = self.tokens.get(body.get("token", ""))
            if owner is None:
                return 200, {"active": False}, ""
            return 200, {"active": True, "username": owner, "clientId": "standin", "scope": "all"}, ""
        if rpc not in (DOWNLOAD_COMPETITION, DOWNLOAD_DATASET):
            return 501, {"code": 501, "message": f"Kaggle stand-in does not implement {rpc}"}, ""
        if username is None:
            return 401, {"code": 401, "message": "Unauthorized"}, ""
        if rpc == DOWNLOAD_COMPETITION:
            name = body.get("competitionName", "")
            competition = self.competitions.get(name)
            if competition is None:
                return 404, {"code": 404, "message": "NotFound"}, ""
            if not competition.rules_accepted:
                return 403, {"code": 403, "message": RULES_NOT_ACCEPTED_MESSAGE}, ""
            return 302, {}, f"{self.blob_base}/competitions/{name}/archive.zip?Expires=0&Signature=standin"
        ref = f"{body.get('ownerSlug', '')}/{body.get('datasetSlug', '')}"
        if ref not in self.datasets:
            return 404, {"code": 404, "message": "NotFound"}, ""
        return 302, {}, f"{self.blob_base}/datasets/{ref}/archive.zip?Expires=0&Signature=standin"


class _Handler(BaseHTTPRequestHandler):
    world: KaggleStandIn  # set on the subclass made in KaggleStandIn.start

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        rpc = path.split("/v1/", 1)[1] if "/v1/" in path else ""
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = {}
        auth, username = self.world.authenticate(self.headers.get("Authorization", ""))
        status, payload, location = self.world.answer(rpc, body, username)
        self.world.requests.append(RecordedRequest("POST", path, rpc, auth, username, body, status))
        if location:
            self._send(status, b"", "text/plain", {"Location": location})
        else:
            self._send(status, json.dumps(payload).encode(), "application/json")

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        auth, username = self.world.authenticate(self.headers.get("Authorization", ""))
        data = self.world.blob(path.removeprefix("/blobs/")) if path.startswith("/blobs/") else None
        status = 200 if data is not None else 404
        self.world.blob_requests.append(RecordedRequest("GET", path, "", auth, username, None, status))
        if data is None:
            self._send(404, b"NoSuchKey", "text/plain")
        else:
            self._send(200, data, "application/zip", {"Last-Modified": LAST_MODIFIED})

    def _send(
        self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _point_endpoints_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    from kagglesdk import kaggle_env

    for env in kaggle_env.KaggleEnv:
        monkeypatch.setitem(kaggle_env._env_to_endpoint, env, url)


def _isolate_environment(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    (home / ".kaggle").mkdir(parents=True, exist_ok=True)
    for name in list(os.environ):
        if name.startswith("KAGGLE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "LOCALHOST")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, ",".join(filter(None, [os.environ.get(name), "127.0.0.1", "localhost"])))


def _patch_client_class(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Import the client under the isolated environment, then pin what it fixed at import time."""
    with contextlib.redirect_stdout(io.StringIO()):  # the import-time authenticate() prints its help
        from kaggle.api.kaggle_api_extended import KaggleApi
    monkeypatch.setattr(KaggleApi, "args", ["--local"])
    monkeypatch.setattr(KaggleApi, "config_dir", str(home / ".kaggle"))
    monkeypatch.setattr(KaggleApi, "config", str(home / ".kaggle" / "kaggle.json"))


@contextlib.contextmanager
def kaggle_standin(home: Path | None = None) -> Iterator[KaggleStandIn]:
    """Start a stand-in and point the real ``kaggle`` client at it, with HOME at ``home``.

    Without ``home``, a temporary directory is used. Everything is undone on exit.
    """
    with contextlib.ExitStack() as stack:
        if home is None:
            home = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "home"
        monkeypatch = stack.enter_context(pytest.MonkeyPatch.context())
        server = KaggleStandIn(home=home, _monkeypatch=monkeypatch)
        _isolate_environment(monkeypatch, home)
        server.start()
        stack.callback(server.stop)
        _point_endpoints_at(monkeypatch, server.url)
        _patch_client_class(monkeypatch, home)
        yield server

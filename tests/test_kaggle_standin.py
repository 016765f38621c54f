"""The real kaggle client (kaggle 2.2.5 / kagglesdk 0.1.38) against the local Kaggle stand-in, offline."""

from __future__ import annotations

import io
import os
import zipfile
from typing import TYPE_CHECKING

import pytest
import requests
from kaggle_standin import RULES_NOT_ACCEPTED_MESSAGE, KaggleStandIn, kaggle_standin, make_zip

TRAIN_CSV = b"label,pixel0,pixel1\n7,0,255\n2,12,0\n"
TEST_CSV = b"pixel0,pixel1\n0,1\n"
COMPETITION_ZIP = make_zip({"train.csv": TRAIN_CSV, "test.csv": TEST_CSV})
DATASET_ZIP = make_zip({"mnist/train.csv": TRAIN_CSV})

if TYPE_CHECKING:  # the real import must wait until the stand-in has set up the environment
    from kaggle.api.kaggle_api_extended import KaggleApi


def new_api() -> KaggleApi:
    from kaggle.api.kaggle_api_extended import KaggleApi

    api = KaggleApi()
    api.authenticate()
    return api


def use_token_env(server: KaggleStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAGGLE_API_TOKEN", server.valid_token)


def use_token_file(server: KaggleStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    server.write_access_token()


def use_kaggle_json(server: KaggleStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    server.write_kaggle_json()


def use_key_env(server: KaggleStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAGGLE_USERNAME", server.valid_username)
    monkeypatch.setenv("KAGGLE_KEY", server.valid_key)


@pytest.mark.parametrize(
    ("credentials", "auth"),
    [(use_token_env, "token"), (use_token_file, "token"), (use_kaggle_json, "basic"), (use_key_env, "basic")],
)
def test_competition_download(kaggle_server, tmp_path, monkeypatch, credentials, auth):
    kaggle_server.add_competition("digit-recognizer", COMPETITION_ZIP)
    credentials(kaggle_server, monkeypatch)

    new_api().competition_download_files("digit-recognizer", path=str(tmp_path / "data"), quiet=True)

    archive = tmp_path / "data" / "digit-recognizer.zip"
    assert archive.read_bytes() == COMPETITION_ZIP
    with zipfile.ZipFile(archive) as z:
        assert z.read("train.csv") == TRAIN_CSV
    download = kaggle_server.requests[-1]
    assert download.path == "/api/v1/competitions.CompetitionApiService/DownloadDataFiles"
    assert download.body == {"competitionName": "digit-recognizer"}
    assert (download.auth, download.username, download.status) == (auth, kaggle_server.valid_username, 302)
    introspections = kaggle_server.calls("IntrospectToken")
    assert [r.body for r in introspections] == (
        [{"token": kaggle_server.valid_token}] if auth == "token" else []
    )
    # The blob is fetched after the redirect, without credentials (another host, as with Kaggle's GCS).
    blob = kaggle_server.blob_requests[-1]
    assert (blob.path, blob.auth, blob.status) == (
        "/blobs/competitions/digit-recognizer/archive.zip",
        "none",
        200,
    )


def test_dataset_download_with_unzip(kaggle_server, tmp_path, monkeypatch):
    kaggle_server.add_dataset("someone/mnist-csv", DATASET_ZIP)
    use_token_env(kaggle_server, monkeypatch)

    new_api().dataset_download_files("someone/mnist-csv", path=str(tmp_path / "ds"), unzip=True, quiet=True)

    assert (tmp_path / "ds" / "mnist" / "train.csv").read_bytes() == TRAIN_CSV
    assert not (tmp_path / "ds" / "mnist-csv.zip").exists()  # unzip removes the archive
    download = kaggle_server.calls("DownloadDataset")[-1]
    assert download.body == {"ownerSlug": "someone", "datasetSlug": "mnist-csv"}
    assert download.auth == "token"


@pytest.mark.parametrize("where", ["env", "kaggle.json"])
def test_bad_key_is_401(kaggle_server, tmp_path, monkeypatch, where):
    kaggle_server.add_competition("digit-recognizer", COMPETITION_ZIP)
    if where == "env":
        monkeypatch.setenv("KAGGLE_USERNAME", kaggle_server.valid_username)
        monkeypatch.setenv("KAGGLE_KEY", "not-the-key")
    else:
        kaggle_server.write_kaggle_json(key="not-the-key")
    api = new_api()  # a key is not checked until it is used

    with pytest.raises(requests.exceptions.HTTPError) as caught:
        api.competition_download_files("digit-recognizer", path=str(tmp_path), quiet=True)

    assert caught.value.response.status_code == 401
    assert str(caught.value) == "Unauthorized"
    assert caught.value.response.json() == {"code": 401, "message": "Unauthorized"}
    assert (kaggle_server.requests[-1].auth, kaggle_server.requests[-1].username) == ("basic", None)
    assert not kaggle_server.blob_requests and not list(tmp_path.glob("*.zip"))


def test_rules_not_accepted_is_403(kaggle_server, tmp_path, monkeypatch):
    kaggle_server.add_competition("digit-recognizer", COMPETITION_ZIP, rules_accepted=False)
    use_token_env(kaggle_server, monkeypatch)
    api = new_api()

    with pytest.raises(requests.exceptions.HTTPError) as caught:
        api.competition_download_files("digit-recognizer", path=str(tmp_path), quiet=True)

    assert caught.value.response.status_code == 403
    assert str(caught.value) == RULES_NOT_ACCEPTED_MESSAGE
    assert "must accept this competition's rules" in str(caught.value)
    assert not list(tmp_path.glob("*.zip"))

    kaggle_server.competitions["digit-recognizer"].rules_accepted = True  # the user accepts on the website
    api.competition_download_files("digit-recognizer", path=str(tmp_path), quiet=True)
    assert (tmp_path / "digit-recognizer.zip").read_bytes() == COMPETITION_ZIP


def test_unknown_competition_or_dataset_is_404(kaggle_server, tmp_path, monkeypatch):
    use_key_env(kaggle_server, monkeypatch)
    api = new_api()

    with pytest.raises(requests.exceptions.HTTPError) as competition:
        api.competition_download_files("no-such-competition", path=str(tmp_path), quiet=True)
    with pytest.raises(requests.exceptions.HTTPError) as dataset:
        api.dataset_download_files("nobody/no-such-dataset", path=str(tmp_path), quiet=True)

    assert competition.value.response.status_code == dataset.value.response.status_code == 404
    assert str(competition.value) == str(dataset.value) == "NotFound"


def test_unknown_token_is_skipped_by_authenticate_but_still_sent(kaggle_server, tmp_path, monkeypatch):
    """An invalid KAGGLE_API_TOKEN hides a valid kaggle.json: the download still goes out as Bearer."""
    kaggle_server.add_competition("digit-recognizer", COMPETITION_ZIP)
    monkeypatch.setenv("KAGGLE_API_TOKEN", "KGAT_revoked")
    kaggle_server.write_kaggle_json()
    api = new_api()  # introspection says {"active": false}; falls back to kaggle.json

    with pytest.raises(requests.exceptions.HTTPError) as caught:
        api.competition_download_files("digit-recognizer", path=str(tmp_path), quiet=True)

    assert caught.value.response.status_code == 401
    assert [(r.rpc.split("/")[-1], r.auth, r.username) for r in kaggle_server.requests] == [
        ("IntrospectToken", "token", None),
        ("DownloadDataFiles", "token", None),
    ]


@pytest.mark.parametrize("token", [None, "KGAT_revoked"])
def test_no_usable_credentials_exit_1(kaggle_server, capsys, monkeypatch, token):
    if token:
        monkeypatch.setenv("KAGGLE_API_TOKEN", token)
    from kaggle.api.kaggle_api_extended import KaggleApi

    with pytest.raises(SystemExit) as caught:
        KaggleApi().authenticate()

    assert caught.value.code == 1
    assert "Authentication required to call the Kaggle API" in capsys.readouterr().out
    assert [r.rpc for r in kaggle_server.requests] == (
        ["security.OAuthService/IntrospectToken"] if token else []
    )


def test_no_network_is_connection_error(kaggle_server, tmp_path, monkeypatch):
    kaggle_server.add_competition("digit-recognizer", COMPETITION_ZIP)
    use_key_env(kaggle_server, monkeypatch)
    api = new_api()
    kaggle_server.go_offline()

    with pytest.raises(requests.exceptions.ConnectionError) as download:
        api.competition_download_files("digit-recognizer", path=str(tmp_path), quiet=True)
    monkeypatch.setenv("KAGGLE_API_TOKEN", kaggle_server.valid_token)
    with pytest.raises(requests.exceptions.ConnectionError) as authenticate:
        new_api()  # the token has to be introspected, over the network

    for caught in (download, authenticate):
        assert not isinstance(caught.value, requests.exceptions.HTTPError)
        assert caught.value.response is None
    assert not kaggle_server.requests


def test_standin_cleans_up(tmp_path, monkeypatch):
    from kagglesdk import kaggle_env

    monkeypatch.setenv("KAGGLE_USERNAME", "real-user")  # must be hidden from the client, then restored
    before = (dict(os.environ), dict(kaggle_env._env_to_endpoint))
    with kaggle_standin(tmp_path / "home") as server:
        assert "KAGGLE_USERNAME" not in os.environ
        assert os.environ["HOME"] == str(tmp_path / "home")
        assert kaggle_env._env_to_endpoint[kaggle_env.KaggleEnv.PROD] == server.url
        url = server.url
    assert (dict(os.environ), dict(kaggle_env._env_to_endpoint)) == before
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(url, timeout=5)


def test_make_zip_round_trip():
    with zipfile.ZipFile(io.BytesIO(make_zip({"a/b.csv": b"x,y\n"}))) as z:
        assert z.namelist() == ["a/b.csv"] and z.read("a/b.csv") == b"x,y\n"

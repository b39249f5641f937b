"""``tap-pocket auth``: the whole OAuth flow against the emulator, the test playing the browser."""

from __future__ import annotations

import errno
import os
import socket
import stat
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import requests

from pocket_emulator import PocketEmulator
from tap_pocket.auth import EnvFileError, OAuthError, parse_oauth_reply, post_oauth, write_env_file

from .conftest import run_tap

if t.TYPE_CHECKING:
    from pocket_emulator import Account


def run_auth(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``tap-pocket auth --no-browser ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "tap_pocket", "auth", "--no-browser", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if not k.startswith("TAP_POCKET_")},
        check=False,
    )


class AuthRun:
    """``tap-pocket auth`` running in a subprocess, read as a person would read it."""

    def __init__(self, *args: str, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_POCKET_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tap_pocket", "auth", "--no-browser", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env=env,
        )
        self.stderr_lines: list[str] = []

    def authorize_url(self) -> str:
        """The URL the command asks the person to open."""
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr_lines.append(line)
            if "/auth/authorize?" in line:
                return line.strip()
        raise AssertionError("no URL printed:\n" + "".join(self.stderr_lines))

    def finish(self) -> tuple[int, str, str]:
        stdout, stderr = self.process.communicate(timeout=60)
        return self.process.returncode, stdout, "".join(self.stderr_lines) + stderr


def test_auth_flow_end_to_end_then_sync_with_the_token(tmp_path: Path, account: Account) -> None:
    with PocketEmulator(account, access_token="preexisting-token") as emulator:
        run = AuthRun(
            "--consumer-key",
            emulator.consumer_key,
            "--api-url",
            emulator.url,
            "--timeout",
            "30",
            cwd=tmp_path,
        )
        url = run.authorize_url()
        assert url.startswith(f"{emulator.url}/auth/authorize?request_token=")
        # The browser follows Pocket's redirect back to the command's listener.
        page = requests.get(url, timeout=10)
        assert page.status_code == 200
        assert "authorization received" in page.text
        code, stdout, stderr = run.finish()

        assert code == 0, stderr
        values = dict(line.split("=", 1) for line in stdout.splitlines())
        assert values["username"] == emulator.username
        token = values["access_token"]
        assert token
        assert token != "preexisting-token"
        assert emulator.consumer_key not in stdout + stderr

        output = run_tap(
            {"consumer_key": emulator.consumer_key, "access_token": token, "api_url": emulator.url}
        )
        assert len(output.ids()) >= 100


def authorize_with_env_file(tmp_path: Path, emulator: PocketEmulator, env_file: Path) -> AuthRun:
    """`tap-pocket auth --write-env env_file`, with the user's approval given."""
    run = AuthRun(
        "--consumer-key",
        emulator.consumer_key,
        "--api-url",
        emulator.url,
        "--write-env",
        str(env_file),
        cwd=tmp_path,
    )
    requests.get(run.authorize_url(), timeout=10)
    return run


def test_auth_writes_a_private_env_file_keeping_other_lines(
    tmp_path: Path, emulator: PocketEmulator
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("OTHER=keep me\nTAP_POCKET_ACCESS_TOKEN=old\n")
    code, stdout, stderr = authorize_with_env_file(tmp_path, emulator, env_file).finish()
    assert code == 0, stderr

    lines = env_file.read_text().splitlines()
    token = stdout.splitlines()[0].split("=", 1)[1]
    assert lines == [
        "OTHER=keep me",
        f"TAP_POCKET_CONSUMER_KEY={emulator.consumer_key}",
        f"TAP_POCKET_ACCESS_TOKEN={token}",
    ]
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_a_failed_env_file_write_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new file is written beside the old and renamed over it, never cut part-way."""
    env_file = tmp_path / ".env"
    env_file.write_text("OTHER=keep me\nTAP_POCKET_ACCESS_TOKEN=old\n")

    def disk_full(*_args: object) -> Path:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "replace", disk_full)
    with pytest.raises(EnvFileError, match=r"\.env was not written: No space left on device"):
        write_env_file(env_file, {"TAP_POCKET_ACCESS_TOKEN": "new"})
    assert env_file.read_text() == "OTHER=keep me\nTAP_POCKET_ACCESS_TOKEN=old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]  # no temporary file left


def test_an_env_file_symlink_stays_a_link_to_the_rewritten_file(tmp_path: Path) -> None:
    real = tmp_path / "secrets" / "pocket.env"
    real.parent.mkdir()
    real.write_text("OTHER=keep me\n")
    link = tmp_path / ".env"
    link.symlink_to(real)
    write_env_file(link, {"TAP_POCKET_ACCESS_TOKEN": "new"})
    assert link.is_symlink()
    assert real.read_text() == "OTHER=keep me\nTAP_POCKET_ACCESS_TOKEN=new\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o600


def test_user_rejecting_the_request(tmp_path: Path, account: Account) -> None:
    with PocketEmulator(account, oauth_user_rejects=True) as emulator:
        run = AuthRun(
            "--consumer-key", emulator.consumer_key, "--api-url", emulator.url, cwd=tmp_path
        )
        requests.get(run.authorize_url(), timeout=10)
        code, stdout, stderr = run.finish()
    assert code != 0
    assert "X-Error-Code 158: User rejected code." in stderr
    assert "declined" in stderr
    assert emulator.consumer_key not in stdout + stderr


def test_invalid_consumer_key(tmp_path: Path, emulator: PocketEmulator) -> None:
    bad_key = "99999-notakey0000"
    result = run_auth("--consumer-key", bad_key, "--api-url", emulator.url, cwd=tmp_path)
    assert result.returncode != 0
    assert "HTTP 403, X-Error-Code 152: Invalid consumer key." in result.stderr
    assert bad_key not in result.stdout + result.stderr


def request_token(emulator: PocketEmulator) -> str:
    reply = post_oauth(
        emulator.url,
        "/v3/oauth/request",
        {"consumer_key": emulator.consumer_key, "redirect_uri": "http://127.0.0.1:9/x"},
        "request",
        timeout=10,
    )
    return reply["code"]


def test_missing_unknown_and_used_codes(emulator: PocketEmulator) -> None:
    def authorize(code: str) -> dict[str, str]:
        return post_oauth(
            emulator.url,
            "/v3/oauth/authorize",
            {"consumer_key": emulator.consumer_key, "code": code},
            "authorize",
            timeout=10,
        )

    with pytest.raises(OAuthError, match=r"X-Error-Code 182: Missing code\..*hint"):
        authorize("")
    with pytest.raises(OAuthError, match=r"X-Error-Code 185: Code not found\..*hint"):
        authorize("no-such-code")
    code = request_token(emulator)
    requests.get(
        f"{emulator.url}/auth/authorize",
        params={"request_token": code, "redirect_uri": "http://127.0.0.1:9/x"},
        allow_redirects=False,
        timeout=10,
    )
    assert authorize(code)["access_token"]
    with pytest.raises(OAuthError, match="X-Error-Code 159: Code has already been used"):
        authorize(code)


def test_form_encoded_and_json_replies(emulator: PocketEmulator) -> None:
    body = {"consumer_key": emulator.consumer_key, "redirect_uri": "http://127.0.0.1:9/x"}
    form = requests.post(f"{emulator.url}/v3/oauth/request", data=body, timeout=10)
    as_json = requests.post(
        f"{emulator.url}/v3/oauth/request",
        json=body,
        headers={"X-Accept": "application/json"},
        timeout=10,
    )
    assert "json" not in form.headers["Content-Type"]
    assert "json" in as_json.headers["Content-Type"]
    assert parse_oauth_reply(form)["code"]
    assert parse_oauth_reply(as_json)["code"]


def test_timeout_waiting_for_the_browser(tmp_path: Path, emulator: PocketEmulator) -> None:
    run = AuthRun(
        "--consumer-key",
        emulator.consumer_key,
        "--api-url",
        emulator.url,
        "--timeout",
        "1",
        cwd=tmp_path,
    )
    run.authorize_url()  # printed, but nobody opens it
    code, _stdout, stderr = run.finish()
    assert code != 0
    assert "timed out after 1 s waiting for the browser" in stderr


def test_port_in_use(tmp_path: Path, emulator: PocketEmulator) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_auth(
            "--consumer-key",
            emulator.consumer_key,
            "--api-url",
            emulator.url,
            "--port",
            str(port),
            cwd=tmp_path,
        )
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert emulator.consumer_key not in result.stdout + result.stderr


def test_plain_http_to_a_remote_server_is_refused(tmp_path: Path) -> None:
    result = run_auth("--consumer-key", "k", "--api-url", "http://getpocket.example", cwd=tmp_path)
    assert result.returncode != 0
    assert "plain http" in result.stderr


def test_auth_needs_only_the_settings_not_the_tap() -> None:
    """No import circle: tap.py imports auth.py for the command.

    auth.py imports settings.py, and redact.py (which imports settings.py).
    """
    code = (
        "import sys, tap_pocket.auth, tap_pocket.settings\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('tap_pocket'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == ["tap_pocket", "tap_pocket.auth", "tap_pocket.redact", "tap_pocket.settings"]

"""Pocket's OAuth flow, with the emulator playing both the server and an approving user.

1. ``POST /v3/oauth/request`` (consumer_key, redirect_uri[, state]) -> a request token
   (``code=...``, or JSON with ``X-Accept: application/json``).
2. The user opens ``GET /auth/authorize?request_token=...&redirect_uri=...``; the emulator
   approves at once (or rejects, when built with ``oauth_user_rejects=True``) and redirects
   (302) to redirect_uri either way, as Pocket did.
3. ``POST /v3/oauth/authorize`` (consumer_key, code) -> ``access_token=...&username=...``.

Errors use Pocket's codes and texts: 138 Missing consumer key, 140 Missing redirect url,
152 Invalid consumer key, 158 User rejected code (also for a code the user has not
approved yet, as Pocket answered then), 159 Code has already been used, 182 Missing code,
185 Code not found.
"""

from __future__ import annotations

import enum
import threading
import typing as t
import uuid
from dataclasses import dataclass

from pocket_emulator.replies import Reply, error_reply, form_or_json_reply

MISSING_CONSUMER_KEY = (400, "138", "Missing consumer key.")
MISSING_REDIRECT_URI = (400, "140", "Missing redirect url.")
INVALID_CONSUMER_KEY = (403, "152", "Invalid consumer key.")
USER_REJECTED_CODE = (403, "158", "User rejected code.")
CODE_ALREADY_USED = (403, "159", "Code has already been used.")
MISSING_CODE = (400, "182", "Missing code.")
CODE_NOT_FOUND = (400, "185", "Code not found.")


class Decision(enum.Enum):
    """What the user has done with a request token."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass
class _RequestToken:
    redirect_uri: str
    state: str | None
    decision: Decision = Decision.PENDING
    used: bool = False


class OAuthFlow:
    """The request tokens of one emulator and the access tokens they turned into."""

    def __init__(
        self,
        consumer_key: str,
        username: str,
        grant_access_token: t.Callable[[str], None],
        *,
        user_rejects: bool = False,
    ) -> None:
        self._consumer_key = consumer_key
        self._username = username
        self._grant = grant_access_token
        self._user_rejects = user_rejects
        self._tokens: dict[str, _RequestToken] = {}
        self._lock = threading.Lock()

    def request_token(self, params: t.Mapping[str, t.Any], *, as_json: bool) -> Reply:
        """``POST /v3/oauth/request``."""
        refusal = self._check_consumer_key(params)
        if refusal:
            return refusal
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            return error_reply(*MISSING_REDIRECT_URI)
        code = str(uuid.uuid4())
        state = _optional_text(params.get("state"))
        with self._lock:
            self._tokens[code] = _RequestToken(str(redirect_uri), state)
        return form_or_json_reply({"code": code, "state": state}, as_json=as_json)

    def user_authorizes(self, params: t.Mapping[str, t.Any]) -> Reply:
        """``GET /auth/authorize``: the user's decision, then back to the app."""
        code = str(params.get("request_token") or "")
        with self._lock:
            token = self._tokens.get(code)
            if token is None:
                return error_reply(*CODE_NOT_FOUND)
            if token.decision is Decision.PENDING:
                token.decision = Decision.REJECTED if self._user_rejects else Decision.APPROVED
            redirect_uri = str(params.get("redirect_uri") or token.redirect_uri)
        return Reply(302, b"", headers={"Location": redirect_uri})

    def access_token(self, params: t.Mapping[str, t.Any], *, as_json: bool) -> Reply:
        """``POST /v3/oauth/authorize``: trade an approved request token for an access token."""
        refusal = self._check_consumer_key(params)
        if refusal:
            return refusal
        code = params.get("code")
        if not code:
            return error_reply(*MISSING_CODE)
        with self._lock:
            token = self._tokens.get(str(code))
            if token is None:
                return error_reply(*CODE_NOT_FOUND)
            if token.used:
                return error_reply(*CODE_ALREADY_USED)
            if token.decision is not Decision.APPROVED:
                return error_reply(*USER_REJECTED_CODE)
            token.used = True
        access_token = str(uuid.uuid4())
        self._grant(access_token)
        return form_or_json_reply(
            {"access_token": access_token, "username": self._username}, as_json=as_json
        )

    def _check_consumer_key(self, params: t.Mapping[str, t.Any]) -> Reply | None:
        consumer_key = params.get("consumer_key")
        if not consumer_key:
            return error_reply(*MISSING_CONSUMER_KEY)
        if consumer_key != self._consumer_key:
            return error_reply(*INVALID_CONSUMER_KEY)
        return None


def _optional_text(value: t.Any) -> str | None:
    return None if value is None else str(value)

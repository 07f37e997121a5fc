"""Who may use the workbench: an access token or a users file, signed session cookies, CSRF.

* **Passwords** are stored as scrypt hashes (``hashlib.scrypt``, the standard library: a
  memory-hard key-derivation function OWASP lists for password storage; no dependency to
  install or keep up to date), ``scrypt$<n>$<r>$<p>$<salt>$<hash>`` with a 16-byte random
  salt. The users file is JSON, written 0600 by ``insightome serve --add-user``.
* **The token** (``--token`` or ``INSIGHTOME_TOKEN``; on loopback one is generated when none
  is given, as Jupyter does) logs in the data directory's owner.
* **Sessions** are cookies ``<user>|<issued>|<nonce>|<hmac>`` signed with HMAC-SHA256 under a
  per-data-directory secret (``.secret``, 32 random bytes, 0600), HttpOnly and
  SameSite=Strict, valid for :data:`SESSION_HOURS`.
* **CSRF**: every state-changing form carries ``csrf`` = HMAC(secret, "csrf|" + session
  nonce); a POST without the session's token is refused (403).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from insightome import errors
from insightome.errors import UserError

SESSION_HOURS = 12
USER_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}
_MAXMEM = 64 * 1024 * 1024


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64, no padding)."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, maxmem=_MAXMEM, dklen=32, **_SCRYPT)
    parts = [str(_SCRYPT[k]) for k in ("n", "r", "p")]
    return "$".join(["scrypt", *parts, _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time comparison)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = _unb64(digest)
        got = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
            maxmem=_MAXMEM, dklen=len(expected),
        )  # fmt: skip
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class User:
    name: str
    password: str | None  # the stored hash; None for the token's user
    owner: bool


def check_user_name(name: str, where: str) -> None:
    if not USER_NAME.match(name):
        raise UserError(
            errors.OPTION_INVALID,
            option=where,
            reason=f"user name {name!r} must be 1-32 lower-case letters, digits, _ or -, "
            "starting with a letter",
        )


def read_users(path: Path) -> dict[str, User]:
    """The users file: ``{"users": [{"name", "password", "owner"}]}``; the owner is the user
    marked so, else the first one."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        entries = raw["users"]
        users = {e["name"]: User(e["name"], e["password"], bool(e.get("owner"))) for e in entries}
    except FileNotFoundError:
        raise UserError(errors.FILE_MISSING, path=str(path)) from None
    except (ValueError, KeyError, TypeError):
        raise UserError(
            errors.OPTION_INVALID,
            option="--users",
            reason=f"{path} is not a users file (make one with insightome serve --users "
            f"{path} --add-user NAME)",
        ) from None
    if not users:
        raise UserError(
            errors.OPTION_INVALID, option="--users", reason=f"{path} lists no user; add one"
        )
    for name in users:
        check_user_name(name, "--users")
    if not any(u.owner for u in users.values()):
        first = next(iter(users.values()))
        users[first.name] = User(first.name, first.password, True)
    return users


def add_user(path: Path, name: str, password: str, *, owner: bool = False) -> None:
    """Add (or replace the password of) ``name`` in the users file, written 0600 whole."""
    check_user_name(name, "--add-user")
    entries: list[dict[str, Any]] = []
    if path.exists():
        entries = [
            {"name": u.name, "password": u.password, "owner": u.owner}
            for u in read_users(path).values()
            if u.name != name
        ]
    entries.append({"name": name, "password": hash_password(password), "owner": owner})
    write_private(path, json.dumps({"users": entries}, indent=2) + "\n")


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only, via a temporary file."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def server_secret(data_dir: Path) -> bytes:
    """The data directory's signing secret (made on first use, 0600)."""
    path = data_dir / ".secret"
    if not path.exists():
        write_private(path, secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


@dataclass(frozen=True)
class Session:
    user: str
    nonce: str


class Signer:
    """Session cookies and CSRF tokens under one secret; ``mode`` (token or users) is in
    every MAC, so a cookie of one way of logging in is worthless under the other."""

    def __init__(self, secret: bytes, mode: str = "token") -> None:
        self._secret = secret
        self._mode = mode

    def _mac(self, text: str) -> str:
        message = f"{self._mode}|{text}".encode(errors="surrogateescape")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def session_cookie(self, user: str) -> str:
        body = f"{user}|{int(time.time())}|{secrets.token_hex(16)}"
        return f"{body}|{self._mac(body)}"

    def read_session(self, cookie: str | None) -> Session | None:
        if not cookie or cookie.count("|") != 3:
            return None
        body, mac = cookie.rsplit("|", 1)
        if not _same(mac, self._mac(body)):
            return None
        user, issued, nonce = body.split("|")
        if not issued.isdigit() or time.time() - int(issued) > SESSION_HOURS * 3600:
            return None
        return Session(user, nonce)

    def sign(self, text: str) -> str:
        """A signature of ``text`` (a form's checked options: a launch must match them)."""
        return self._mac(f"form|{text}")

    def csrf_token(self, session: Session) -> str:
        return self._mac(f"csrf|{session.nonce}")

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return bool(token) and _same(str(token), self.csrf_token(session))


def token_ok(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of an access token."""
    return bool(given) and expected is not None and _same(str(given), expected)


def _same(given: str, expected: str) -> bool:
    """Constant-time equality of two strings of any characters (``hmac.compare_digest``
    takes only ASCII ``str``: compared as UTF-8 bytes)."""
    encode = lambda text: text.encode("utf-8", errors="surrogateescape")  # noqa: E731
    return hmac.compare_digest(encode(given), encode(expected))


@functools.cache
def dummy_hash() -> str:
    """A hash verified when a login names no known user, so that an unknown name takes as
    long as a wrong password (user names are not revealed by timing)."""
    return hash_password(secrets.token_hex(16))

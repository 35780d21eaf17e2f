"""Who may use a served annotator, and which files a search may read.

- :class:`TokenAuth`: beyond loopback, every request needs a secret token (``?token=``
  once, then a cookie), like Jupyter's; without it the answer is 403 for pages,
  sessions and websockets alike. Loopback stays token-free.
- :class:`PathPolicy`: a search by a typed path reads only inside the dataset's own
  folders (and roots given with ``--allow-path``), a URL only on the dataset's own
  hosts; a refusal reads the same whether the path exists or not.
"""
from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import socket
from urllib.parse import urlsplit

TOKEN_VARIABLE = "HOVER_AUDIO_TOKEN"
COOKIE = "hover_audio_token"
MAX_UPLOAD_BYTES = 40 * 2**20
REFUSED = ("only clips inside the dataset's folders (or --allow-path roots) and on its own "
           "hosts can be searched by path or URL")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and names that resolve only to them (``localhost``)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback
                                   for a in addresses)


def choose_token(host: str, token: str | None = None) -> str | None:
    """The token a server on ``host`` requires: the given one, ``$HOVER_AUDIO_TOKEN``, or a
    new random one; None on loopback unless one was given."""
    token = token or os.environ.get(TOKEN_VARIABLE) or None
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(24)
    return token


class TokenAuth:
    """A Bokeh auth provider requiring ``token`` on every request (403 without it)."""

    def __init__(self, token: str):
        from bokeh.server.auth_provider import AuthProvider

        expected = token.encode()

        async def get_user(handler):  # async: checked in prepare(), before a socket opens
            from tornado.web import HTTPError

            given = (handler.get_argument("token", None) or handler.get_cookie(COOKIE)
                     or handler.request.headers.get("Authorization", "").removeprefix("token "))
            if given and hmac.compare_digest(given.encode(), expected):
                if handler.get_cookie(COOKIE) != given:
                    handler.set_cookie(COOKIE, given, httponly=True, samesite="Strict")
                return "hover-audio"
            raise HTTPError(403, reason="a token is required (open the URL the server printed)")

        class Provider(AuthProvider):
            @property
            def get_user_async(self):
                return get_user

            @property
            def get_login_url(self):
                return lambda handler: "/"  # never used: a missing token is a 403

        self.provider = Provider()


class PathPolicy:
    """Which typed paths and URLs a search may read for one dataset.

    Parameters
    ----------
    keys
        The dataset's keys: their folders and hosts are allowed.
    allow
        More folders (recursively) whose files may be searched by path.
    """

    def __init__(self, keys, allow=()):
        folders: set[str] = set()
        self.hosts: set[str] = set()
        for key in keys:
            location = key.split("#t=")[0]
            if location[:7].lower() == "http://" or location[:8].lower() == "https://":
                self.hosts.add((urlsplit(location).hostname or "").lower())
            elif "://" not in location:
                folders.add(os.path.dirname(os.path.normpath(location)))
        # resolved once per folder, not per clip: 100,000 clips took ~1 s per page opened
        self.folders = {os.path.realpath(os.path.abspath(folder)) for folder in folders}
        self.roots = [os.path.realpath(os.path.abspath(root)) for root in allow]

    def check(self, query: str) -> None:
        """Raise PermissionError (always with the same message) unless ``query`` may be read."""
        location = query.split("#t=")[0]
        if location[:7].lower() == "http://" or location[:8].lower() == "https://":
            if (urlsplit(location).hostname or "").lower() in self.hosts:
                return
            raise PermissionError(REFUSED)
        if "://" in location and not location.lower().startswith("file://"):
            raise PermissionError(REFUSED)
        path = location[7:] if location.lower().startswith("file://") else location
        real = os.path.realpath(os.path.abspath(path))
        if os.path.dirname(real) in self.folders or any(
                real.startswith(root.rstrip(os.sep) + os.sep) for root in self.roots):
            return
        raise PermissionError(REFUSED)


def upload_problem(base64_text: str) -> str | None:
    """A message when an upload is over the size limit, else None."""
    size = len(base64_text) * 3 // 4
    if size > MAX_UPLOAD_BYTES:
        return (f"the upload is {size / 2**20:.1f} MB; search by files of at most "
                f"{MAX_UPLOAD_BYTES // 2**20} MB")
    return None


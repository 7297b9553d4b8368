"""Redis URLs: those naming several hosts, as Sentinel and Cluster deployments are given
(`scheme://[[user]:password@]host:port[,host:port...][/path...]`; the standard library
parses one host per URL, this reads the list), and any of them as it may be shown."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, unquote_plus


class UrlError(ValueError):
    """The URL cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class MultiHostUrl:
    scheme: str
    username: str | None
    password: str | None
    hosts: tuple[tuple[str, int], ...]
    path: tuple[str, ...]

    def display(self, path: str) -> str:
        """The URL with `path`, without its password."""
        user = ""
        if self.password is not None:
            user = f"{self.username or ''}:***@"
        elif self.username:
            user = f"{self.username}@"
        hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.hosts)
        return f"{self.scheme}://{user}{hosts}{path}"


def _host_port(text: str, default_port: int) -> tuple[str, int]:
    host, port = text, str(default_port)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif ":" in text:
        host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UrlError(f"address {text!r} is not host:port")
    return host, int(port)


def parse(url: str, default_port: int) -> MultiHostUrl:
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise UrlError("not a URL")
    netloc, _, path = rest.partition("/")
    netloc = netloc.partition("?")[0]
    username = password = None
    if "@" in netloc:
        credentials, _, netloc = netloc.rpartition("@")
        user, has_password, secret = credentials.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if has_password else None
    hosts = tuple(_host_port(part, default_port) for part in netloc.split(",") if part)
    if not hosts:
        raise UrlError("the URL names no host (host:port)")
    parts = tuple(unquote(part) for part in path.partition("?")[0].split("/") if part)
    return MultiHostUrl(scheme, username, password, hosts, parts)


def without_secrets(url: str, mask: str = "***") -> str:
    """`url` as logs and the commands may show it: the password of its user info and the
    value of any query parameter named like a password (redis-py's `from_url` takes
    `?password=`, and passes `?ssl_password=` on) replaced by `mask`; the rest verbatim."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    address, question, query = rest.partition("?")
    authority, slash, path = address.partition("/")
    userinfo, at, hosts = authority.rpartition("@")
    if at and ":" in userinfo:
        authority = f"{userinfo.partition(':')[0]}:{mask}@{hosts}"
    if query:
        query = "&".join(_masked_parameter(pair, mask) for pair in query.split("&"))
    return f"{scheme}://{authority}{slash}{path}{question}{query}"


def _masked_parameter(pair: str, mask: str) -> str:
    name, equals, _ = pair.partition("=")
    return f"{name}={mask}" if equals and "password" in unquote_plus(name).lower() else pair

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
    """A parsed URL; `query` holds its parameters (never shown by `display`)."""

    scheme: str
    username: str | None
    password: str | None
    hosts: tuple[tuple[str, int], ...]
    path: tuple[str, ...]
    query: dict[str, str]

    def display(self, path: str) -> str:
        """The URL with `path`, without its password."""
        user = ""
        if self.password is not None:
            user = f"{self.username or ''}:***@"
        elif self.username:
            user = f"{self.username}@"
        hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.hosts)
        return f"{self.scheme}://{user}{hosts}{path}"


def _host_port(text: str, default_port: int, index: int) -> tuple[str, int]:
    host, port = text, str(default_port)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif ":" in text:
        host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        # Not echoed: a URL typed without its `@` would show its password here.
        raise UrlError(f"address {index} of the URL is not host:port")
    return host, int(port)


def split_userinfo(url: str) -> tuple[str, str | None, str]:
    """`(scheme, user info or None, the rest)`. The user info ends at the URL's **last**
    `@`, since a password may hold one; a password holding `/`, `?` or `#` must be
    percent-encoded (else no parser can tell where it ends): UrlError, echoing nothing."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise UrlError("not a URL")
    userinfo, at, after = rest.rpartition("@")
    if not at:
        return scheme, None, rest
    if any(c in userinfo for c in "/?#"):
        raise UrlError(
            "the user info holds '/', '?' or '#' (or an '@' follows the host): "
            "percent-encode the password"
        )
    return scheme, userinfo, after


def parse(url: str, default_port: int) -> MultiHostUrl:
    scheme, userinfo, rest = split_userinfo(url)
    netloc, _, path = rest.partition("/")
    netloc, _, query = netloc.partition("?")
    path, _, path_query = path.partition("?")
    username = password = None
    if userinfo is not None:
        user, has_password, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if has_password else None
    parts = [part for part in netloc.split(",") if part]
    hosts = tuple(_host_port(part, default_port, i + 1) for i, part in enumerate(parts))
    if not hosts:
        raise UrlError("the URL names no host (host:port)")
    segments = tuple(unquote(part) for part in path.split("/") if part)
    return MultiHostUrl(scheme, username, password, hosts, segments, _query(query or path_query))


def _query(query: str) -> dict[str, str]:
    parameters = {}
    for pair in query.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            parameters[unquote_plus(name)] = unquote_plus(value)
    return parameters


def without_secrets(url: str, mask: str = "***") -> str:
    """`url` as logs and the commands may show it: the password of its user info and the
    value of any query parameter named like a password (redis-py's `from_url` takes
    `?password=`, and passes `?ssl_password=` on) replaced by `mask`; the rest verbatim.
    User info that cannot be told apart from the rest (see `split_userinfo`) is masked
    whole."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return mask if "@" in url else url
    try:
        _, userinfo, rest = split_userinfo(url)
    except UrlError:
        return f"{scheme}://{mask}@{rest.rpartition('@')[2]}"
    address, question, query = rest.partition("?")
    if query:
        query = "&".join(_masked_parameter(pair, mask) for pair in query.split("&"))
    user = ""
    if userinfo is not None:
        user = f"{userinfo.partition(':')[0]}:{mask}@" if ":" in userinfo else f"{userinfo}@"
    return f"{scheme}://{user}{address}{question}{query}"


def _masked_parameter(pair: str, mask: str) -> str:
    name, equals, _ = pair.partition("=")
    return f"{name}={mask}" if equals and "password" in unquote_plus(name).lower() else pair

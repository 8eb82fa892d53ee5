"""The egress guard: the only way a tool (and, later, a compensation handler) reaches the network.

Each request, and each redirect it leads to, is checked before anything is sent: http/https only, no user@host,
the host on the workflow's allowed domains, and every address its name resolves to public (loopback, private,
link-local, metadata and the like only when that exact IP, or "localhost", is listed). The name is resolved once,
here, and the connection goes to the checked address with the name as Host header and TLS server name, so a DNS
answer that changes between the check and the connection (rebinding) cannot move it."""

from __future__ import annotations

import asyncio
import dataclasses
import http.cookiejar
import logging
import re
import socket
import ssl
import zlib
from collections.abc import Collection, Iterable, Mapping

import httpx

from flowdeck.errors import FlowdeckError
from flowdeck.tools.addresses import IPAddress, blocked_reason, parse_ip_literal

__all__ = ["AllowedDomains", "Egress", "EgressError", "EgressLimits", "EgressRefused", "Response"]

_log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
_REDIRECTS = {301, 302, 303, 307, 308}
_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
# Names of cloud metadata services: refused whatever the list says (their addresses are reachable by IP only).
_METADATA_NAMES = {
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
}
_LOOPBACK = (parse_ip_literal("127.0.0.1"), parse_ip_literal("::1"))
# Headers that carry credentials: dropped when a redirect leaves the origin they were meant for.
_CREDENTIALS = {"authorization", "proxy-authorization", "cookie"}
_WHERE = "Workflow settings → Allowed domains"


class EgressError(FlowdeckError):
    """A tool's HTTP request failed or was refused; the message says why in words the model and a person read."""


class EgressRefused(EgressError):
    """The egress guard refused a request (or a redirect) before anything was sent to that address."""


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class EgressLimits:
    connect_timeout: float = 10.0  # seconds to open a connection to one address
    total_timeout: float = 30.0  # seconds for the whole request: DNS, redirects and the body
    max_response_bytes: int = 2_000_000  # the body is read up to this and cut there
    max_request_bytes: int = 1_000_000
    max_redirects: int = MAX_REDIRECTS


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Response:
    status: int
    reason: str
    headers: httpx.Headers
    url: str  # the last URL requested, after redirects, as written (the host name, not the address)
    body: bytes
    cut: bool  # the body was longer than max_response_bytes and was cut there
    charset: str | None
    redirects: int = 0  # how many redirects were followed to get here


class AllowedDomains:
    """A workflow's allowed domains: "example.org" (that host), "*.example.org" (its subdomains), an IP literal
    or "localhost" (the only way to reach that address or loopback). Empty: no network at all."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.entries = tuple(e.strip().lower().rstrip(".") for e in entries if e.strip())
        self.ips: set[IPAddress] = set()
        self.hosts: set[str] = set()
        self.suffixes: list[str] = []
        for entry in self.entries:
            try:
                ip = parse_ip_literal(entry.strip("[]"))
            except ValueError:
                continue  # the workflow's validation names bad entries; here they just allow nothing
            if ip is not None:
                self.ips.add(ip)
            elif entry.startswith("*."):
                self.suffixes.append(entry[1:])
            else:
                self.hosts.add(entry)

    def allows_name(self, name: str) -> bool:
        return name in self.hosts or any(name.endswith(s) for s in self.suffixes)

    def not_listed(self, host: str) -> str:
        if not self.entries:
            return f"this workflow may not use the network (its allowed domains are empty): add {host} under {_WHERE}"
        return f"{host} is not in this workflow's allowed domains: add it under {_WHERE}"


class Egress:
    """Sends a tool's HTTP requests for one workflow's allowed domains. Each request gets a fresh client: no
    cookies, connections or environment proxies carry over between calls."""

    def __init__(
        self, allowed: Iterable[str], limits: EgressLimits | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        self.allowed = AllowedDomains(allowed)
        self.limits = limits or EgressLimits()
        self._tls = tls  # the certificates trusted: certifi's, as everywhere httpx is used, unless given

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        private_headers: Collection[str] = (),
    ) -> Response:
        """Send one request, following up to max_redirects redirects (each one checked like the first).
        `private_headers` (lowercase names) are dropped, with credentials, when a redirect leaves the origin.
        Raises EgressRefused before sending anything refused, EgressError for a network failure or timeout."""
        if body is not None and len(body) > self.limits.max_request_bytes:
            raise EgressRefused(
                f"the request body is {len(body):,} bytes, over the {self.limits.max_request_bytes:,}-byte limit"
            )
        try:
            async with asyncio.timeout(self.limits.total_timeout):
                return await self._follow(method.upper(), url, dict(headers or {}), body, set(private_headers))
        except TimeoutError:
            raise EgressError(
                f"{_host_of(url)} did not answer within {self.limits.total_timeout:g} s (the tools' time limit)"
            ) from None

    async def _follow(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, private: set[str]
    ) -> Response:
        current = _parse(url)
        async with self._client() as client:
            for hop in range(self.limits.max_redirects + 1):
                addresses = await self.check(current, redirected=hop > 0)
                response = dataclasses.replace(
                    await self._send(client, method, current, addresses, headers, body), redirects=hop
                )
                location = response.headers.get("location")
                if response.status not in _REDIRECTS or not location:
                    return response
                target = _parse(str(current.join(location)), redirected=True)
                if (target.scheme, target.host, target.port) != (current.scheme, current.host, current.port):
                    headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIALS | private}
                if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                    method, body = ("HEAD" if method == "HEAD" else "GET"), None
                    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
                current = target
        raise EgressError(f"{url} redirected more than {self.limits.max_redirects} times: stopped there")

    async def check(self, url: httpx.URL, *, redirected: bool = False) -> list[IPAddress]:
        """The addresses this URL may be fetched from (all checked), or EgressRefused saying why not."""
        prefix = f"a redirect to {url}: " if redirected else ""
        host = _host(url, prefix)
        if not self.allowed.entries:
            raise _refused(prefix + self.allowed.not_listed(host))
        try:
            literal = parse_ip_literal(host)
        except ValueError as e:
            raise _refused(f"{prefix}{e}") from None
        if literal is not None:
            reason = blocked_reason(literal)
            if reason is not None and "metadata" in reason:  # cloud credentials: never, whatever the list says
                raise _refused(f"{prefix}{host} is {reason}: tools may never reach it")
            if literal in self.allowed.ips:
                return [literal]
            if reason is None:
                raise _refused(prefix + self.allowed.not_listed(str(literal)))
            means = "" if host == str(literal) else f" (it means {literal})"
            raise _refused(
                f'{prefix}{host}{means} is {reason}: refused unless "{literal}" is listed in the '
                f"workflow's allowed domains"
            )
        if host in _METADATA_NAMES:
            raise _refused(f"{prefix}{host} is a cloud metadata service: tools may not reach it by name")
        if not self.allowed.allows_name(host):
            raise _refused(prefix + self.allowed.not_listed(host))
        if host == "localhost":
            return [ip for ip in _LOOPBACK if ip is not None]  # never asked of DNS (RFC 6761)
        addresses = await self._resolve(host, url.port or (443 if url.scheme == "https" else 80))
        for ip in addresses:
            reason = blocked_reason(ip)
            if reason is not None and "metadata" in reason:
                raise _refused(f"{prefix}{host} resolves to {ip}, {reason}: tools may never reach it")
            if reason is not None and ip not in self.allowed.ips:
                raise _refused(
                    f'{prefix}{host} resolves to {ip}, {reason}: refused unless "{ip}" is listed in the '
                    f"workflow's allowed domains"
                )
        return addresses

    async def _resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            infos = await asyncio.to_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as e:
            raise EgressError(f"{host} could not be found (DNS: {e})") from None
        found: list[IPAddress] = []
        for info in infos:
            ip = parse_ip_literal(str(info[4][0]))
            if ip is not None and ip not in found:
                found.append(ip)
        if not found:
            raise EgressError(f"{host} could not be found (DNS gave no address)")
        return found

    async def _send(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: httpx.URL,
        addresses: list[IPAddress],
        headers: dict[str, str],
        body: bytes | None,
    ) -> Response:
        host = _host(url, "")
        default_port = url.port is None or url.port == {"http": 80, "https": 443}[url.scheme]
        host_header = (f"[{host}]" if ":" in host else host) + ("" if default_port else f":{url.port}")
        extensions = {} if parse_ip_literal(host) is not None else {"sni_hostname": host}
        failure: Exception | None = None
        for ip in addresses:  # every one was checked; the next is tried only when one refuses the connection
            request = client.build_request(
                method,
                url.copy_with(host=str(ip)),
                headers={**headers, "Host": host_header},
                content=body,
                extensions=extensions,
            )
            try:
                response = await client.send(request, stream=True)
            except httpx.ConnectTimeout:
                failure = EgressError(f"could not connect to {host} within {self.limits.connect_timeout:g} s")
                continue
            except httpx.ConnectError as e:
                where = host if host == str(ip) else f"{host} ({ip})"
                failure = EgressError(f"could not connect to {where}: {e}")
                continue
            except httpx.TimeoutException:
                raise EgressError(f"{host} did not answer within {self.limits.total_timeout:g} s") from None
            except httpx.HTTPError as e:
                raise EgressError(f"the request to {host} failed: {e}") from None
            try:
                content, cut = await self._read(response, host)
            finally:
                await response.aclose()
            return Response(
                status=response.status_code,
                reason=response.reason_phrase,
                headers=response.headers,
                url=str(url),
                body=content,
                cut=cut,
                charset=response.charset_encoding,
            )
        assert failure is not None
        raise failure

    async def _read(self, response: httpx.Response, host: str) -> tuple[bytes, bool]:
        """The body, decoded (gzip/deflate, bounded: a small compressed body cannot inflate past the cap) and cut
        at max_response_bytes."""
        cap = self.limits.max_response_bytes
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            inflate = zlib.decompressobj(wbits=47)  # zlib or gzip framing, whichever the header says
        elif encoding not in ("identity", ""):
            raise EgressError(f"{host} sent its answer compressed with {encoding!r}, which tools do not read")
        else:
            inflate = None
        parts: list[bytes] = []
        size = 0
        try:
            async for raw in response.aiter_raw():
                chunk = inflate.decompress(raw, cap + 1 - size) if inflate is not None else raw
                parts.append(chunk)
                size += len(chunk)
                if size > cap:
                    return b"".join(parts)[:cap], True
            if inflate is not None:
                parts.append(inflate.flush(cap + 1 - size))  # what a complete stream still holds
                size += len(parts[-1])
        except zlib.error as e:
            raise EgressError(f"{host} sent a body that could not be decompressed ({e})") from None
        except httpx.TimeoutException:
            raise EgressError(f"{host} stopped sending before its answer was complete (timeout)") from None
        except httpx.HTTPError as e:
            raise EgressError(f"reading the answer of {host} failed: {e}") from None
        body = b"".join(parts)
        return (body[:cap], True) if size > cap else (body, False)

    def _client(self) -> httpx.AsyncClient:
        if self._tls is None:
            self._tls = httpx.create_ssl_context(trust_env=False)
        no_cookies = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        timeout = httpx.Timeout(self.limits.total_timeout, connect=self.limits.connect_timeout)
        return httpx.AsyncClient(
            verify=self._tls,
            trust_env=False,  # no HTTP(S)_PROXY, .netrc or SSL_CERT_FILE from the environment
            follow_redirects=False,  # followed here, each one checked
            cookies=no_cookies,
            timeout=timeout,
            limits=httpx.Limits(max_keepalive_connections=0),  # a connection is never reused for another name
            headers={"User-Agent": "flowdeck-tools", "Accept-Encoding": "identity", "Accept": "*/*"},
        )


def _parse(url: str, *, redirected: bool = False) -> httpx.URL:
    prefix = f"a redirect to {url}: " if redirected else ""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as e:
        raise _refused(f"{prefix}{url!r} is not a valid URL ({e})") from None
    if parsed.scheme not in ("http", "https"):
        scheme = parsed.scheme or "no scheme"
        raise _refused(f"{prefix}only http:// and https:// URLs are allowed, not {scheme}: write a full https:// URL")
    if parsed.userinfo:
        raise _refused(
            f"{prefix}URLs with a user name or password before the host (user@host) are refused: the host would be "
            f"{parsed.host or 'empty'}; send credentials in a header instead"
        )
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise _refused(f"{prefix}port {parsed.port} is not a valid port (1 to 65535)")
    return parsed


def _host(url: httpx.URL, prefix: str) -> str:
    """The host as the resolver would see it: IDNA-encoded, lowercase, without a trailing dot."""
    host = url.raw_host.decode("ascii", "replace").lower().rstrip(".")
    if not host:
        raise _refused(f"{prefix}the URL has no host: write a full URL like https://example.org/page")
    try:
        literal = ":" in host or parse_ip_literal(host) is not None
    except ValueError:
        literal = True  # check() refuses it with the parser's reason
    if not literal and not _NAME.match(host):
        raise _refused(f"{prefix}{host!r} is not a valid host name")
    return host


def _host_of(url: str) -> str:
    try:
        return httpx.URL(url).host or url
    except (httpx.InvalidURL, TypeError, ValueError):
        return url


def _refused(reason: str) -> EgressRefused:
    _log.warning("egress refused: %s", reason)
    return EgressRefused(reason)

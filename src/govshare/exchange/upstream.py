"""Reaching a provider's endpoint for an API-service call: the address guard and the bounded exchange.

Address guard (SSRF): only http and https; the host is resolved by the platform and every address it
resolves to must be outside the loopback, link-local, multicast and unspecified ranges (0.0.0.0/8
counts as unspecified), unless it lies in `GOVSHARE_SERVICE_ALLOWED_NETWORKS`. The connection is
then made to the address that was checked — the URL keeps its name for the Host header and for TLS
(SNI and certificate) — so a name cannot resolve to an allowed address at the check and to a
forbidden one at the connection (DNS rebinding).

Exchange: no redirects followed, no proxy from the environment, one deadline for the whole answer,
the body read as it arrives and abandoned beyond the size limit.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
USER_AGENT = "GovShare-API-Service/1"
# Media types relayed as the upstream declared them; anything else (HTML, scripts …) goes out as
# application/octet-stream, so that an answer never runs as a page of the platform's origin.
RELAYED_TYPES = ("application/json", "text/plain", "text/csv", "application/xml", "text/xml")


class TargetRefused(ValueError):
    """An endpoint the platform will not reach; the message (Chinese) says why."""


@dataclass(frozen=True)
class Target:
    """A checked endpoint: its URL and the address the connection goes to."""

    url: str
    host: str  # as sent in TLS (IDNA)
    address: str

    def pinned(self) -> httpx.URL:
        """The URL with the checked address in place of the name."""
        return httpx.URL(self.url).copy_with(host=self.address)


def endpoint(url: str) -> httpx.URL:
    """A registrable endpoint URL (http or https, a host, no user or fragment); raises TargetRefused."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, ValueError):
        raise TargetRefused("接口地址不是有效的网址。") from None
    if parsed.scheme not in ("http", "https"):
        raise TargetRefused("接口地址只能以 http:// 或 https:// 开头。")
    if not parsed.host:
        raise TargetRefused("接口地址缺少主机名。")
    if parsed.userinfo:
        raise TargetRefused("接口地址中不能包含用户名或密码，请把凭据填在“上游凭据”中（加密保存）。")
    if parsed.fragment:
        raise TargetRefused("接口地址不能包含 # 片段。")
    return parsed


def _networks(allowed: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(cidr.strip(), strict=False) for cidr in allowed if cidr.strip()]


def refused_kind(address: IPAddress) -> str | None:
    """Why the platform does not connect to `address` by default, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "本机回环地址"
    if address.is_link_local:
        return "链路本地地址"
    if address.is_multicast:
        return "组播地址"
    if address.is_unspecified or address in _THIS_NETWORK:
        return "未指定地址"
    return None


class Unresolvable(ValueError):
    """A host name that does not resolve."""


def addresses_of(host: str, port: int) -> list[IPAddress]:
    """The addresses `host` resolves to (itself when it is an address); Unresolvable on failure."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Unresolvable(host) from None
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


def refused_among(addresses: list[IPAddress], allowed_networks: list[str]) -> tuple[IPAddress, str] | None:
    """The first of `addresses` the platform does not connect to (see `refused_kind`) and why, unless
    it lies in one of `allowed_networks` (CIDRs); None when all may be reached. API services and
    front-end database syncs share this guard, each with its own setting."""
    networks = _networks(allowed_networks)
    for address in addresses:
        kind = refused_kind(address)
        if kind is not None and not any(address in net for net in networks):
            return address, kind
    return None


def resolve(url: str, allowed_networks: list[str]) -> Target:
    """Check `url` and the addresses its host resolves to; raises TargetRefused."""
    parsed = endpoint(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses = addresses_of(parsed.host, port)
    except Unresolvable:
        raise TargetRefused(
            f"无法解析接口地址的主机名“{parsed.host}”，请检查地址或平台的域名解析。"
        ) from None
    if not addresses:
        raise TargetRefused(f"接口地址的主机名“{parsed.host}”没有解析到任何地址。")
    refused = refused_among(addresses, allowed_networks)
    if refused is not None:
        address, kind = refused
        raise TargetRefused(
            f"接口地址指向{kind}（{address}），平台不会访问。如确属本单位内部服务，"
            "请联系平台运维在 GOVSHARE_SERVICE_ALLOWED_NETWORKS 中放行该网段。"
        )
    return Target(url=str(parsed), host=parsed.raw_host.decode("ascii"), address=str(addresses[0]))


@dataclass(frozen=True)
class Exchange:
    """One request to an upstream: where, what, and within which limits."""

    method: str
    url: str
    allowed_networks: list[str]
    query: list[tuple[str, str]]
    body: dict[str, Any] | None
    headers: dict[str, str] = field(repr=False)  # may carry the credential
    timeout: float
    max_bytes: int


@dataclass(frozen=True)
class Answer:
    """What came back, or why nothing usable did."""

    outcome: Literal["ok", "timeout", "upstream_error"]
    status: int | None = None
    media_type: str | None = None
    body: bytes = b""
    reason: str | None = None
    duration_ms: int = 0


def relayed_type(content_type: str | None) -> str:
    """The media type an answer is relayed with (see RELAYED_TYPES)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in RELAYED_TYPES or (media.startswith("application/") and media.endswith("+json")):
        return (content_type or media).strip()
    return "application/octet-stream"


async def send(exchange: Exchange) -> Answer:
    """Check the endpoint's addresses again (they may have changed since the registration), then
    carry out `exchange`; every failure comes back as an Answer, never as an exception."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = await anyio.to_thread.run_sync(resolve, exchange.url, exchange.allowed_networks)
    except TargetRefused as exc:
        return Answer("upstream_error", reason=f"调用时检查：{exc}", duration_ms=took())
    headers = {
        "User-Agent": USER_AGENT,
        "Accept-Encoding": "identity",
        **exchange.headers,
        "Host": httpx.URL(target.url).netloc.decode("ascii"),
    }
    extensions = {"sni_hostname": target.host} if httpx.URL(target.url).scheme == "https" else {}
    try:
        with anyio.fail_after(exchange.timeout):
            async with (
                httpx.AsyncClient(
                    follow_redirects=False, trust_env=False, timeout=httpx.Timeout(exchange.timeout)
                ) as client,
                client.stream(
                    exchange.method,
                    target.pinned(),
                    params=_query(exchange.query),
                    json=exchange.body,
                    headers=headers,
                    extensions=extensions,
                ) as response,
            ):
                declared = response.headers.get("content-length", "")
                if declared.isdecimal() and int(declared) > exchange.max_bytes:
                    return _too_large(response.status_code, exchange.max_bytes, took())
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > exchange.max_bytes:
                        return _too_large(response.status_code, exchange.max_bytes, took())
                    chunks.append(chunk)
                return Answer(
                    "ok",
                    status=response.status_code,
                    media_type=response.headers.get("content-type"),
                    body=b"".join(chunks),
                    duration_ms=took(),
                )
    except (TimeoutError, httpx.TimeoutException):
        return Answer(
            "timeout", reason=f"上游接口在 {exchange.timeout:g} 秒内没有完成应答。", duration_ms=took()
        )
    except httpx.HTTPError as exc:
        return Answer(
            "upstream_error", reason=f"无法连接上游接口（{type(exc).__name__}）。", duration_ms=took()
        )


def _query(pairs: list[tuple[str, str]]) -> httpx.QueryParams | None:
    """The pairs to add to the endpoint's own query string (which stays)."""
    primitive: list[tuple[str, str | int | float | bool | None]] = list(pairs)
    return httpx.QueryParams(primitive) if primitive else None


def _too_large(status: int, limit: int, duration_ms: int) -> Answer:
    return Answer(
        "upstream_error",
        status=status,
        reason=f"上游接口的应答超过平台允许的 {limit} 字节，已中止读取。",
        duration_ms=duration_ms,
    )

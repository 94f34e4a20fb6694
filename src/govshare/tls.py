"""TLS served by `govshare serve` itself (S17 encrypted transport): check the certificate and key.

uvicorn would only find a missing file, an unreadable key or a key of another certificate once the
first worker starts, with an OpenSSL traceback. `check_tls` loads the pair with the `ssl` module
before anything is served and explains the problem in Chinese and English.
"""

from __future__ import annotations

import ssl
from pathlib import Path


class TLSConfigError(RuntimeError):
    """The configured certificate or key cannot be used; the message says which and why."""


def _no_password() -> bytes:
    # Called by OpenSSL only for an encrypted key: refuse instead of prompting on the terminal.
    raise TLSConfigError("encrypted")


def _readable(path: Path, what: str, english: str, setting: str) -> None:
    if not path.is_file():
        raise TLSConfigError(
            f"{what}文件不存在：{path}（{setting}）/ {english} file not found: {path} ({setting})"
        )
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise TLSConfigError(
            f"{what}文件无法读取：{path}（{exc.strerror}）/ cannot read {english} file {path}: {exc.strerror}"
        ) from None


def check_tls(cert: Path, key: Path) -> ssl.SSLContext:
    """Load `cert` and `key` as a server would; raise TLSConfigError with a clear reason when unusable."""
    _readable(cert, "证书", "certificate", "GOVSHARE_TLS_CERT / --tls-cert")
    _readable(key, "私钥", "private key", "GOVSHARE_TLS_KEY / --tls-key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile=str(cert), keyfile=str(key), password=_no_password)
    except TLSConfigError:
        raise TLSConfigError(
            f"私钥已加密，请提供未加密的私钥文件：{key} / the private key {key} is encrypted; "
            "give an unencrypted key file (protect it with file permissions)"
        ) from None
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        if reason == "KEY_VALUES_MISMATCH":
            raise TLSConfigError(
                f"私钥与证书不匹配：{key} 不是 {cert} 的私钥 / the private key {key} does not belong to "
                f"the certificate {cert}"
            ) from None
        raise TLSConfigError(
            f"证书或私钥无法使用（{reason}）：{cert}、{key} / cannot use the certificate {cert} with the key "
            f"{key}: {reason} (both must be PEM)"
        ) from None
    return context

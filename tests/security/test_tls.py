"""`govshare serve` serves TLS itself (S17): a real process, a real handshake, Secure cookies, HSTS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from govshare.demo.city import DEMO_PASSWORD
from govshare.settings import Settings
from govshare.tls import TLSConfigError, check_tls


def _key_pem(key: ec.EllipticCurvePrivateKey, password: bytes | None = None) -> bytes:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def make_self_signed(directory: Path, name: str = "server") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost and its key, written as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "govshare.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(_key_pem(key))
    key_path.chmod(0o600)
    return cert_path, key_path


def _env(data_dir: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GOVSHARE_")}
    environ.update(GOVSHARE_DATA_DIR=str(data_dir), GOVSHARE_RUN_JOBS="false", COLUMNS="200")
    return environ


def _cli(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "govshare", *args],
        env=_env(data_dir) | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def stop(process: subprocess.Popen[str], timeout: float = 40) -> None:
    """Stop a server as an operator would (SIGTERM: it finishes its requests), killing it if stuck."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`govshare serve --tls-cert … --tls-key …` on a free port, with the demo city loaded."""
    data_dir = tmp_path_factory.mktemp("tls")
    demo = _cli(data_dir, "demo", "--rows", "0")
    assert demo.returncode == 0, demo.stderr
    cert, key = make_self_signed(data_dir)
    port = _free_port()
    command = [sys.executable, "-m", "govshare", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--tls-cert", str(cert), "--tls-key", str(key)],
        env=_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"https://127.0.0.1:{port}"
    context = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                if httpx.get(f"{base}/healthz", verify=context, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.3)
        yield base, cert
    finally:
        stop(process)


def test_healthz_over_https_trusting_only_that_certificate(served: tuple[str, Path]) -> None:
    base, cert = served
    with httpx.Client(verify=ssl.create_default_context(cafile=str(cert))) as client:
        response = client.get(f"{base}/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    # The same server refuses a client that does not trust the certificate: the handshake is real.
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{base}/healthz", verify=ssl.create_default_context())
    # and plain HTTP on the TLS port gets no answer from the app.
    with pytest.raises(httpx.HTTPError):
        httpx.get(base.replace("https://", "http://") + "/healthz", timeout=5)


def test_login_over_https_sets_secure_cookies(served: tuple[str, Path]) -> None:
    base, cert = served
    with httpx.Client(base_url=base, verify=ssl.create_default_context(cafile=str(cert))) as client:
        page = client.get("/login")
        assert page.status_code == 200
        assert "secure" in page.headers["set-cookie"].lower()  # the login form's double-submit cookie
        login_csrf = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
        assert login_csrf is not None
        response = client.post(
            "/login",
            data={"username": "police_user", "password": DEMO_PASSWORD, "login_csrf": login_csrf.group(1)},
        )
        assert response.status_code == 303, response.text
        session = next(
            c for c in response.headers.get_list("set-cookie") if c.startswith("govshare_session=")
        )
        attributes = {part.strip().split("=")[0].lower() for part in session.split(";")}
        assert {"secure", "httponly"} <= attributes
        assert response.headers["strict-transport-security"].startswith("max-age=")
        home = client.get("/")  # the Secure cookie is sent back over HTTPS: logged in, no redirect
        assert home.status_code == 200


def test_serve_refuses_a_key_of_another_certificate(tmp_path: Path) -> None:
    cert, _ = make_self_signed(tmp_path, "one")
    _, other_key = make_self_signed(tmp_path, "two")
    result = _cli(
        tmp_path, "serve", "--port", str(_free_port()), "--tls-cert", str(cert), "--tls-key", str(other_key)
    )
    assert result.returncode == 1
    assert "私钥与证书不匹配" in result.stderr and "does not belong" in result.stderr


def test_serve_refuses_missing_files_and_half_a_pair(tmp_path: Path) -> None:
    cert, _ = make_self_signed(tmp_path)
    missing = tmp_path / "absent.key"
    result = _cli(tmp_path, "serve", "--tls-cert", str(cert), "--tls-key", str(missing))
    assert result.returncode == 1 and "私钥文件不存在" in result.stderr and "absent.key" in result.stderr
    result = _cli(tmp_path, "serve", "--tls-cert", str(cert))
    assert result.returncode == 1 and "--tls-key" in result.stderr
    result = _cli(tmp_path, "serve", GOVSHARE_TLS_CERT=str(cert))
    assert result.returncode == 1 and "GOVSHARE_TLS_KEY" in result.stderr


def test_check_tls_explains_unreadable_encrypted_and_garbage_files(tmp_path: Path) -> None:
    cert, key = make_self_signed(tmp_path)
    assert isinstance(check_tls(cert, key), ssl.SSLContext)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        _key_pem(
            serialization.load_pem_private_key(key.read_bytes(), None),  # type: ignore[arg-type]
            b"secret-pass",
        )
    )
    with pytest.raises(TLSConfigError, match="私钥已加密"):
        check_tls(cert, encrypted)
    garbage = tmp_path / "garbage.crt"
    garbage.write_text("not a certificate")
    with pytest.raises(TLSConfigError, match="证书或私钥无法使用"):
        check_tls(garbage, key)
    if os.geteuid() != 0:  # root reads any file
        key.chmod(0)
        with pytest.raises(TLSConfigError, match="私钥文件无法读取"):
            check_tls(cert, key)
    with pytest.raises(TLSConfigError, match="证书文件不存在"):
        check_tls(tmp_path / "nope.crt", key)


def test_tls_settings_come_in_pairs_and_imply_secure_cookies(tmp_path: Path) -> None:
    cert, key = make_self_signed(tmp_path)
    assert not Settings(data_dir=tmp_path).cookies_secure
    settings = Settings(data_dir=tmp_path, tls_cert=cert, tls_key=key, secure_cookies=False)
    assert settings.tls_enabled and settings.cookies_secure
    with pytest.raises(ValueError, match="GOVSHARE_TLS_KEY"):
        Settings(data_dir=tmp_path, tls_cert=cert)

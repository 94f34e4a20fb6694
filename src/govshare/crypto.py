"""国密 primitives used across the platform.

SM3 and SM4 come from `cryptography` (OpenSSL, fast enough for bulk data); SM2 signatures from
`gmalglib` (C, about 0.1 ms a signature and 0.5 ms a verification). We still sign digests and
checkpoints, never rows.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from gmalglib.sm2 import SM2

SM2_UID = b"govshare-audit"


# hashlib reaches the same OpenSSL SM3 with less overhead per call (ingest hashes every row twice);
# `cryptography` is the fallback where the local OpenSSL build does not expose it to hashlib.
_HASHLIB_SM3 = "sm3" in hashlib.algorithms_available
# Copying an empty hash object skips hashlib.new's lookup by name on every call.
_SM3_EMPTY = hashlib.new("sm3") if _HASHLIB_SM3 else None


def sm3(data: bytes) -> bytes:
    if _SM3_EMPTY is not None and _HASHLIB_SM3:
        fast = _SM3_EMPTY.copy()
        fast.update(data)
        return fast.digest()
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def sm3_hex(data: bytes) -> str:
    if _SM3_EMPTY is not None and _HASHLIB_SM3:
        digest = _SM3_EMPTY.copy()
        digest.update(data)
        return digest.hexdigest()
    return sm3(data).hex()


def sm3_hex_texts(texts: Iterable[str]) -> list[str]:
    """`sm3_hex` of each text's UTF-8, without a call per text (ingest hashes every row twice)."""
    if _SM3_EMPTY is None or not _HASHLIB_SM3:
        return [sm3_hex(t.encode()) for t in texts]
    copy = _SM3_EMPTY.copy
    out: list[str] = []
    append = out.append
    for t in texts:
        h = copy()
        h.update(t.encode())
        append(h.hexdigest())
    return out


def hmac_sm3(key: bytes, data: bytes) -> str:
    """Keyed SM3 (HMAC construction), hex."""
    from cryptography.hazmat.primitives import hmac as chmac

    mac = chmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize().hex()


SM4_NONCE = 12
SM4_TAG = 16


def sm4_gcm_encrypt(key: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    """SM4 in GCM mode (GB/T 32907, authenticated): nonce (12 bytes) + ciphertext + tag (16 bytes)."""
    nonce = os.urandom(SM4_NONCE)
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    return nonce + encryptor.update(plaintext) + encryptor.finalize() + encryptor.tag


def sm4_blocks(key: bytes, data: bytes, *, decrypt: bool = False) -> bytes:
    """SM4 on whole 16-byte blocks, each on its own (ECB): deterministic, so only for values that are
    themselves uniformly random, such as digests — a row's SM3 key turned into an identifier that
    only the platform can turn back."""
    if len(data) % 16:
        raise ValueError("SM4 blocks are 16 bytes")
    cipher = Cipher(algorithms.SM4(key), modes.ECB())  # noqa: S305  # random input, see above  # nosec B305
    worker = cipher.decryptor() if decrypt else cipher.encryptor()
    return worker.update(data) + worker.finalize()


def sm4_gcm_decrypt(key: bytes, blob: bytes, aad: bytes = b"") -> bytes:
    """The plaintext of `sm4_gcm_encrypt`; ValueError when the blob, its key or its `aad` is wrong."""
    if len(blob) < SM4_NONCE + SM4_TAG:
        raise ValueError("SM4-GCM blob too short")
    nonce, body, tag = blob[:SM4_NONCE], blob[SM4_NONCE:-SM4_TAG], blob[-SM4_TAG:]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(aad)
    try:
        return decryptor.update(body) + decryptor.finalize()
    except InvalidTag:
        raise ValueError("SM4-GCM authentication failed") from None


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class SM2Signer:
    """Signs and verifies with one SM2 key pair; keys are hex (private 32 bytes, public 65 bytes)."""

    def __init__(self, private_key_hex: str) -> None:
        try:
            sk = bytes.fromhex(private_key_hex)
        except ValueError as exc:
            raise ValueError("SM2 private key must be hex") from exc
        if len(sk) != 32 or not SM2.is_sk_valid(sk):
            raise ValueError("SM2 private key must be 32 bytes (64 hex digits) below the curve order")
        self.public_key: bytes = SM2.get_pk(sk)
        # The nonce of every signature comes from the operating system's CSPRNG, named here rather
        # than left to the library's default.
        self._sm2 = SM2(sk=sk, uid=SM2_UID, rnd_fn=secrets.token_bytes)

    @property
    def public_key_hex(self) -> str:
        return self.public_key.hex()

    def sign(self, message: bytes) -> str:
        """r and s, 32 bytes each, as 128 hex digits."""
        signature: bytes = self._sm2.sign(message)
        return signature.hex()


def sm2_verify(public_key_hex: str, message: bytes, signature_hex: str) -> bool:
    try:
        pk = bytes.fromhex(public_key_hex)
        sig = bytes.fromhex(signature_hex)
    except ValueError:
        return False
    if len(sig) == 64:
        candidates = [sig]
    elif len(sig) == 63:
        # Written by the pure-Python library used before, which dropped a leading zero byte of r
        # or s (about one signature in 100): either component may be the short one.
        candidates = [b"\0" + sig, sig[:32] + b"\0" + sig[32:]]
    else:
        return False
    try:
        verifier = SM2(pk=pk, uid=SM2_UID)
        return any(verifier.verify(message, candidate) for candidate in candidates)
    except (ValueError, TypeError):  # malformed point or key: not a valid signature
        return False

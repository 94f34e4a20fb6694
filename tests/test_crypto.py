"""国密 primitives: SM3 against the GB/T 32905 examples on both code paths, SM4-GCM, and sealing."""

from __future__ import annotations

import pytest

from govshare import crypto, sealing
from tests.conftest import settings_override

# GB/T 32905-2016 Appendix A.
SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SM3_ABCD16 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


@pytest.mark.parametrize("hashlib_sm3", [True, False])
def test_sm3_matches_the_standard_on_both_paths(monkeypatch, hashlib_sm3: bool) -> None:
    monkeypatch.setattr(crypto, "_HASHLIB_SM3", hashlib_sm3 and crypto._HASHLIB_SM3)
    assert crypto.sm3_hex(b"abc") == SM3_ABC
    assert crypto.sm3(b"abcd" * 16).hex() == SM3_ABCD16


def test_sm4_gcm_round_trip_and_tamper_detection() -> None:
    key = bytes(range(16))
    blob = crypto.sm4_gcm_encrypt(key, "前置库口令".encode(), b"record-1")
    assert crypto.sm4_gcm_decrypt(key, blob, b"record-1").decode() == "前置库口令"
    assert blob != crypto.sm4_gcm_encrypt(key, "前置库口令".encode(), b"record-1")  # a fresh nonce each time
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    for bad_key, bad_blob, aad in (
        (key, flipped, b"record-1"),
        (key, blob, b"record-2"),
        (bytes(16), blob, b"record-1"),
    ):
        with pytest.raises(ValueError):
            crypto.sm4_gcm_decrypt(bad_key, bad_blob, aad)
    with pytest.raises(ValueError):
        crypto.sm4_gcm_decrypt(key, blob[:20], b"record-1")


def test_sealed_values_open_only_with_their_purpose_context_and_master_key() -> None:
    sealed = sealing.seal("postgresql://u:p@h/db", purpose="p1", context="c1")
    assert sealed.startswith("sm4gcm1:") and "p@h" not in sealed
    assert sealing.unseal(sealed, purpose="p1", context="c1") == "postgresql://u:p@h/db"
    for purpose, context in (("p2", "c1"), ("p1", "c2")):
        with pytest.raises(sealing.SealError):
            sealing.unseal(sealed, purpose=purpose, context=context)
    with pytest.raises(sealing.SealError):
        sealing.unseal("plain text", purpose="p1", context="c1")
    with (
        settings_override(master_key="ab" * 32),
        pytest.raises(sealing.SealError, match="another master key"),
    ):
        sealing.unseal(sealed, purpose="p1", context="c1")


def test_derived_keys_follow_the_master_key() -> None:
    """Derived keys are kept per master key: another master key derives other keys at once."""
    with settings_override(master_key="ab" * 32):
        first = sealing.hmac_key("rows"), sealing.key_id()
        assert (sealing.hmac_key("rows"), sealing.key_id()) == first
        assert sealing.hmac_key("other") != first[0]
    with settings_override(master_key="cd" * 32):
        second = sealing.hmac_key("rows"), sealing.key_id()
    assert second[0] != first[0] and second[1] != first[1]
    assert first[0] == bytes.fromhex(crypto.hmac_sm3(bytes.fromhex("ab" * 32), b"govshare/hmac/rows"))


def test_sm2_signatures_with_a_short_component_still_verify(monkeypatch) -> None:
    """gmalg drops leading zero bytes of r or s (about one signature in 100); ours are 64 bytes."""
    signer = crypto.SM2Signer("1f" * 32)
    real_sign = signer._sm2.sign
    for n in range(5000):  # a short component turns up within a few hundred tries
        message = f"checkpoint {n}".encode()
        r, s = real_sign(message)
        if len(r) < 32 or len(s) < 32:
            break
    else:
        pytest.fail("no signature with a short r or s in 5000 tries")
    monkeypatch.setattr(signer._sm2, "sign", lambda _m: (r, s))
    signature = signer.sign(message)
    assert len(bytes.fromhex(signature)) == 64
    assert crypto.sm2_verify(signer.public_key_hex, message, signature)
    assert not crypto.sm2_verify(signer.public_key_hex, message + b"!", signature)
    # A signature stored before the padding (63 bytes) still verifies, and only for its message.
    legacy = (bytes(r) + bytes(s)).hex()
    assert len(bytes.fromhex(legacy)) == 63
    assert crypto.sm2_verify(signer.public_key_hex, message, legacy)
    assert not crypto.sm2_verify(signer.public_key_hex, message + b"!", legacy)
    assert not crypto.sm2_verify(signer.public_key_hex, message, legacy[:-2])  # 62 bytes: never

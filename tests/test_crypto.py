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


# Signatures made with key "1f" * 32 by the pure-Python library used before (gmalg 1.1.2), which
# dropped a leading zero byte of r or s. Checkpoints and backups signed then must still verify.
_OLD_PUBLIC_KEY = (
    "043b197c580db912c1592fd823eb6477be46c71272f542ec7f0a230bbbdfadaee2"
    "ac6eef87a5ddaef666b3c2a77cc86cf20f199e9ec64174566d5701396cd16e01"
)
_OLD_SIGNATURES = {
    "checkpoint 0": "e7bba7ab17e7e613dba025f7fee611c019d20e7b212d09e3e003d03a47d3532f"
    "bdce9631924a8f97ebdfcb66a19ce9167ae30459129b7c1b41d42c7879c6e8a7",
    "checkpoint 15": "4fe1759c216add7849e904542834d32f3813fa28ab5a45ebbad0461591f852f6"
    "b5a3a68f91014d3f333b251964bd5bf66a27e3129d0c1721405fc281ca3289",  # s is 31 bytes
    "checkpoint 308": "86058488d6ed5e338eee126e2f29818d4ccba03f300eec962e796c9232d578"
    "02964c1dfda502a20cff11f9201d9311471a8bc7dc40b59c5ebd18f96968254b",  # r is 31 bytes
}


def test_signatures_made_by_the_earlier_library_still_verify() -> None:
    signer = crypto.SM2Signer("1f" * 32)
    assert signer.public_key_hex == _OLD_PUBLIC_KEY
    for message, signature in _OLD_SIGNATURES.items():
        assert crypto.sm2_verify(_OLD_PUBLIC_KEY, message.encode(), signature), message
        assert not crypto.sm2_verify(_OLD_PUBLIC_KEY, (message + "!").encode(), signature)
    assert [len(bytes.fromhex(s)) for s in _OLD_SIGNATURES.values()] == [64, 63, 63]
    assert not crypto.sm2_verify(_OLD_PUBLIC_KEY, b"checkpoint 15", _OLD_SIGNATURES["checkpoint 15"][:-2])


def test_sm2_signatures_are_64_bytes_random_and_bound_to_message_and_key() -> None:
    signer = crypto.SM2Signer("1f" * 32)
    other = crypto.SM2Signer("2e" * 32)
    message = b"checkpoint 42"
    first, second = signer.sign(message), signer.sign(message)
    assert len(bytes.fromhex(first)) == 64 and first != second  # a fresh nonce each time
    assert crypto.sm2_verify(signer.public_key_hex, message, first)
    assert crypto.sm2_verify(signer.public_key_hex, message, second)
    assert not crypto.sm2_verify(signer.public_key_hex, message + b"!", first)
    assert not crypto.sm2_verify(other.public_key_hex, message, first)
    # Malformed keys and signatures are "not valid", never an exception.
    assert not crypto.sm2_verify("04" + "01" * 64, message, first)
    assert not crypto.sm2_verify("zz", message, first)
    assert not crypto.sm2_verify(signer.public_key_hex, message, "ab" * 10)
    assert not crypto.sm2_verify(signer.public_key_hex, message, "not hex")
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.SM2Signer("ff" * 32)  # above the curve order
    with pytest.raises(ValueError, match="hex"):
        crypto.SM2Signer("xyz")

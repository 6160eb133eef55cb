"""AES-256-GCM token encryption (issue #2): key ring parsing, binding to row and column, sandbox key file."""

from __future__ import annotations

import base64
import logging
import stat
import threading
import traceback
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from dashboard.errors import ConfigurationError, CryptoError, KeyNotFoundError
from dashboard.models import DEFAULT_APP, Portal
from dashboard.security import vault
from dashboard.security.crypto import (
    KeyRing,
    TokenCipher,
    associated_data,
    build_cipher,
    generate_key_entry,
    load_or_create_sandbox_key,
    sandbox_key_file,
)

PLAIN = "pat-na1-PLAINTEXT-7f3c9e1b-distinctive"
AAD = associated_data(101, vault.ACCESS)
RAW_A = bytes(range(32))
B64_A = base64.b64encode(RAW_A).decode()
ENTRY_A = f"a:{B64_A}"
ENTRY_B = generate_key_entry("b")


def make_cipher(*entries: str) -> TokenCipher:
    return TokenCipher(KeyRing.parse(",".join(entries)))


def assert_reveals_nothing(exc: BaseException, *secrets: str) -> None:
    shown = str(exc) + "".join(traceback.format_exception(exc))
    for secret in (PLAIN, B64_A, repr(RAW_A), *secrets):
        assert secret not in shown


# --- round trip ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("plaintext", [PLAIN, "", "ünïcødé ✓ token", "x" * 4000])
def test_round_trip(plaintext: str) -> None:
    cipher = make_cipher(ENTRY_A)
    key_id, stored = cipher.encrypt(plaintext, aad=AAD)
    assert key_id == "a"
    if plaintext:
        assert plaintext not in stored
    assert cipher.decrypt(key_id, stored, aad=AAD) == plaintext


def test_fresh_nonce_per_value() -> None:
    cipher = make_cipher(ENTRY_A)
    first, second = (cipher.encrypt(PLAIN, aad=AAD)[1] for _ in range(2))
    assert first != second
    assert base64.b64decode(first)[:12] != base64.b64decode(second)[:12]


def test_first_key_encrypts_every_key_decrypts() -> None:
    old = make_cipher(ENTRY_A)
    _, stored = old.encrypt(PLAIN, aad=AAD)
    rotated = make_cipher(ENTRY_B, ENTRY_A)
    assert rotated.primary_key_id == "b"
    assert rotated.encrypt(PLAIN, aad=AAD)[0] == "b"
    assert rotated.decrypt("a", stored, aad=AAD) == PLAIN


# --- every failure is a CryptoError that shows nothing -------------------------------------------------

def _flip(stored: str, index: int) -> str:
    blob = bytearray(base64.b64decode(stored))
    blob[index] ^= 0x01
    return base64.b64encode(bytes(blob)).decode()


@pytest.mark.parametrize("tamper", [
    lambda s: _flip(s, 0),       # nonce
    lambda s: _flip(s, 12),      # ciphertext
    lambda s: _flip(s, -1),      # tag
    lambda s: base64.b64encode(base64.b64decode(s)[:-1]).decode(),  # truncated
    lambda s: base64.b64encode(base64.b64decode(s)[:20]).decode(),  # shorter than nonce + tag
    lambda s: s[:-4],            # broken base64
    lambda s: s + "!",
    lambda s: "",
], ids=["nonce", "ciphertext", "tag", "truncated", "too-short", "bad-base64", "junk", "empty"])
def test_tampered_ciphertext(tamper) -> None:
    cipher = make_cipher(ENTRY_A)
    _, stored = cipher.encrypt(PLAIN, aad=AAD)
    with pytest.raises(CryptoError) as info:
        cipher.decrypt("a", tamper(stored), aad=AAD)
    assert "'a'" in str(info.value)
    assert_reveals_nothing(info.value, stored)


def test_wrong_key_with_the_same_id() -> None:
    _, stored = make_cipher(ENTRY_A).encrypt(PLAIN, aad=AAD)
    impostor = generate_key_entry("a")
    with pytest.raises(CryptoError) as info:
        make_cipher(impostor).decrypt("a", stored, aad=AAD)
    assert not isinstance(info.value, KeyNotFoundError)
    assert "key id 'a'" in str(info.value)
    assert_reveals_nothing(info.value, impostor.split(":", 1)[1])


def test_unknown_key_id_names_the_id() -> None:
    _, stored = make_cipher(ENTRY_A).encrypt(PLAIN, aad=AAD)
    with pytest.raises(KeyNotFoundError) as info:
        make_cipher(ENTRY_B).decrypt("a", stored, aad=AAD)
    assert "key id 'a'" in str(info.value)
    assert "DASHBOARD_ENCRYPTION_KEYS" in str(info.value)
    assert_reveals_nothing(info.value)


def _row(hub_id: int, values: dict[str, object]) -> Portal:
    return Portal(hub_id=hub_id, **values)


def test_ciphertext_moved_to_another_portal_fails() -> None:
    cipher = make_cipher(ENTRY_A)
    pair = vault.TokenPair(access_token=PLAIN, refresh_token="refresh-" + PLAIN)
    sealed_a = vault.seal(cipher, 111, pair, app=DEFAULT_APP)
    assert vault.open_tokens(cipher, _row(111, sealed_a)) == pair
    with pytest.raises(CryptoError) as info:
        vault.open_tokens(cipher, _row(222, sealed_a))
    assert_reveals_nothing(info.value)


def test_access_and_refresh_columns_swapped_fails() -> None:
    cipher = make_cipher(ENTRY_A)
    sealed = vault.seal(cipher, 111, vault.TokenPair(access_token=PLAIN, refresh_token="refresh-" + PLAIN),
                        app=DEFAULT_APP)
    swapped = {**sealed, "access_token_ct": sealed["refresh_token_ct"],
               "refresh_token_ct": sealed["access_token_ct"]}
    with pytest.raises(CryptoError) as info:
        vault.open_tokens(cipher, _row(111, swapped))
    assert_reveals_nothing(info.value, "refresh-" + PLAIN)


def test_token_pair_repr_hides_tokens() -> None:
    pair = vault.TokenPair(access_token=PLAIN, refresh_token="refresh-" + PLAIN)
    assert PLAIN not in repr(pair)


# --- KeyRing.parse -------------------------------------------------------------------------------------

def _b64(n: int, salt: int = 0) -> str:
    """``n`` bytes of key text, the same in every process: pytest-xdist workers must collect equal test ids."""
    return base64.b64encode(bytes((i * 151 + n * 7 + salt * 31) % 256 for i in range(n))).decode()


GOOD_B64 = _b64(32)


@pytest.mark.parametrize(("text", "hint"), [
    ("", "is empty"),
    (" , ,", "is empty"),
    (GOOD_B64, "entry 1 is not 'key_id:base64-of-32-bytes'"),
    (f"a:{GOOD_B64},{GOOD_B64}", "entry 2 is not 'key_id:base64-of-32-bytes'"),
    (f":{GOOD_B64}", "entry 1 is not"),
    (f"bad id!:{GOOD_B64}", "entry 1 is not"),
    (f"{'k' * 33}:{GOOD_B64}", "entry 1 is not"),
    (f"a:{_b64(16)}", "key 'a' is 16 bytes; AES-256 needs exactly 32"),
    (f"a:{_b64(31)}", "key 'a' is 31 bytes"),
    (f"a:{_b64(33)}", "key 'a' is 33 bytes"),
    ("a:", "key 'a' is 0 bytes"),
    ("a:not*base64!", "key 'a' is not valid base64"),
    (f"a:{GOOD_B64[:-2]}", "key 'a' is not valid base64"),
    (f"a:{GOOD_B64.replace('+', '-').replace('/', '_')}x", "key 'a' is not valid base64"),
    (f"a:{GOOD_B64},b:{_b64(32, 1)},a:{_b64(32, 2)}", "key id 'a' appears twice"),
])
def test_keyring_parse_refuses(text: str, hint: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        KeyRing.parse(text)
    message = str(info.value)
    assert message.startswith("DASHBOARD_ENCRYPTION_KEYS: ")
    assert hint in message
    assert "\n" not in message
    for entry in text.split(","):
        material = entry.partition(":")[2].strip() or entry.strip()
        if len(material) >= 8:
            assert material[:8] not in message  # never echoes key material, not even a prefix


def test_keyring_parse_tolerates_spaces_and_trailing_commas() -> None:
    ring = KeyRing.parse(f" new : {GOOD_B64} , {ENTRY_A} ,")
    assert ring.key_ids == ("new", "a")
    assert ring.primary == "new"


def test_generated_entries_parse() -> None:
    entry = generate_key_entry()
    ring = KeyRing.parse(entry)
    assert len(ring.key_ids) == 1
    assert entry.startswith(ring.primary + ":")
    assert len(base64.b64decode(entry.split(":", 1)[1])) == 32
    assert generate_key_entry("2026-q1").startswith("2026-q1:")


def test_generate_refuses_a_bad_key_id() -> None:
    with pytest.raises(ConfigurationError, match="key id"):
        generate_key_entry("has space")


def test_repr_shows_key_ids_only() -> None:
    ring = KeyRing.parse(f"{ENTRY_A},{ENTRY_B}")
    cipher = TokenCipher(ring)
    for text in (repr(ring), str(ring), repr(cipher), str(cipher)):
        assert "'a'" in text
        assert "'b'" in text
        assert B64_A not in text
        assert ENTRY_B.split(":", 1)[1] not in text
        assert repr(RAW_A) not in text
        assert "\\x" not in text
    assert repr(ring) == "KeyRing(key_ids=['a', 'b'])"


# --- sandbox key file ----------------------------------------------------------------------------------

def test_sandbox_key_generated_once_private_and_announced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    data_dir = tmp_path / "data"
    caplog.set_level(logging.WARNING, logger="dashboard.security.crypto")
    first = load_or_create_sandbox_key(data_dir)
    path = sandbox_key_file(data_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KeyRing.parse(first).key_ids == ("sandbox",)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert str(path) in message
    assert "DASHBOARD_ENCRYPTION_KEYS" in message
    assert first.split(":", 1)[1] not in caplog.text

    caplog.clear()
    assert load_or_create_sandbox_key(data_dir) == first
    assert not caplog.records  # reused silently
    assert sorted(p.name for p in data_dir.iterdir()) == [path.name]


def test_sandbox_cipher_survives_a_restart(tmp_path: Path) -> None:
    key_id, stored = build_cipher(None, sandbox_mode=True, data_dir=tmp_path).encrypt(PLAIN, aad=AAD)
    again = build_cipher("", sandbox_mode=True, data_dir=tmp_path)
    assert key_id == "sandbox"
    assert again.decrypt(key_id, stored, aad=AAD) == PLAIN


def test_sandbox_key_created_once_under_concurrency(tmp_path: Path) -> None:
    results: list[str | BaseException] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        try:
            results.append(load_or_create_sandbox_key(tmp_path))
        except BaseException as exc:  # collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(map(str, results))) == 1
    assert isinstance(results[0], str)
    assert KeyRing.parse(results[0]).key_ids == ("sandbox",)
    assert [p.name for p in tmp_path.iterdir()] == ["sandbox-encryption.key"]  # no temp files left


def test_configured_keys_create_no_sandbox_file(tmp_path: Path) -> None:
    assert build_cipher(ENTRY_A, sandbox_mode=True, data_dir=tmp_path).primary_key_id == "a"
    assert not sandbox_key_file(tmp_path).exists()


@pytest.mark.parametrize("keys", [None, "", "   "])
def test_missing_key_outside_sandbox_is_a_clear_error(tmp_path: Path, keys: str | None) -> None:
    with pytest.raises(ConfigurationError) as info:
        build_cipher(keys, sandbox_mode=False, data_dir=tmp_path)
    message = str(info.value)
    assert message.startswith("DASHBOARD_ENCRYPTION_KEYS: required when HUBSPOT_CLIENT_ID is set")
    assert "python -m dashboard keys generate" in message
    assert not sandbox_key_file(tmp_path).exists()


# --- property: decrypting what we did not encrypt never succeeds ---------------------------------------

PROPERTY_CIPHER = make_cipher(ENTRY_A, ENTRY_B)


@hypothesis_settings(max_examples=300, deadline=None)
@given(key_id=st.sampled_from(["a", "b"]) | st.text(max_size=10), blob=st.binary(max_size=120))
def test_arbitrary_bytes_never_decrypt(key_id: str, blob: bytes) -> None:
    with pytest.raises(CryptoError):
        PROPERTY_CIPHER.decrypt(key_id, base64.b64encode(blob).decode(), aad=AAD)


@hypothesis_settings(max_examples=300, deadline=None)
@given(key_id=st.sampled_from(["a", "b"]), stored=st.text(max_size=120))
def test_arbitrary_text_never_decrypts(key_id: str, stored: str) -> None:
    with pytest.raises(CryptoError):
        PROPERTY_CIPHER.decrypt(key_id, stored, aad=AAD)

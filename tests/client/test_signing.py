"""The signature of contract §2, checked against digests worked out outside our code."""

from __future__ import annotations

import hashlib

from mediapost.signing import signature

SEED_UPLOAD = {
    "method": "up.photos.upload",
    "api_key": "77a52842357422fadd912a2600e6e53c",
    "community": "mycommunity",
    "session_key": "489727d0ab2efc6e8003018c-i2LLkn8BDb2s.",
    "call_id": "1172623588.023010",
    "caption": "Under the sunset",
    "aid": "940915667462717",
}


def test_seed_upload_parameters_sign_to_the_hand_computed_digest() -> None:
    """The seed's upload arguments, sorted by name, then the secret, MD5 in lower-case hex."""
    # printf '%s' 'aid=940915667462717api_key=77a52842357422fadd912a2600e6e53ccall_id=1172623588.023010caption=Under the sunsetcommunity=mycommunitymethod=up.photos.uploadsession_key=489727d0ab2efc6e8003018c-i2LLkn8BDb2s.mysecret' | md5sum  # noqa: E501
    assert signature(SEED_UPLOAD, "mysecret") == "eba81bbe09d750f9d5bd5a551720a099"


def test_signature_equals_md5_of_the_explicit_concatenation() -> None:
    """Written out in full: no separator between pairs, the secret appended last."""
    text = (
        "aid=940915667462717"
        "api_key=77a52842357422fadd912a2600e6e53c"
        "call_id=1172623588.023010"
        "caption=Under the sunset"
        "community=mycommunity"
        "method=up.photos.upload"
        "session_key=489727d0ab2efc6e8003018c-i2LLkn8BDb2s."
        "mysecret"
    )
    assert signature(SEED_UPLOAD, "mysecret") == hashlib.md5(text.encode()).hexdigest()


def test_non_ascii_and_reserved_characters_are_signed_raw_as_utf8() -> None:
    """é, ☀, 日本, &, = and spaces are hashed as UTF-8 bytes, never URL-encoded."""
    params = {
        "method": "up.photos.upload",
        "api_key": "k",
        "caption": "Caf\u00e9 & cr\u00e8me = \u2600 \u65e5\u672c",
    }
    # printf '%s' 'api_key=kcaption=Café & crème = ☀ 日本method=up.photos.uploads' | md5sum
    assert signature(params, "s") == "1be28b86e79e2e6b6af274c19f25767f"


def test_percent_and_plus_in_a_value_are_not_decoded() -> None:
    """A literal ``%20`` and ``+`` are part of the value as sent."""
    params = {
        "method": "up.photos.upload",
        "api_key": "k",
        "community": "c",
        "call_id": "1000000000.000001",
        "caption": "a%20b+c",
    }
    # printf '%s' 'api_key=kcall_id=1000000000.000001caption=a%20b+ccommunity=cmethod=up.photos.uploads' | md5sum  # noqa: E501
    assert signature(params, "s") == "6f376c9d0c6577022226c6f47976b144"


def test_create_token_spelling_api_key_and_api_sig() -> None:
    """``apiKey`` is signed under its own name and ``apiSig`` is left out."""
    params = {
        "method": "up.auth.createToken",
        "apiKey": "77a52842357422fadd912a2600e6e53c",
        "community": "mycommunity",
        "call_id": "1172623588.023010",
        "expires": "0",
        "apiSig": "must-not-be-signed",
    }
    # printf '%s' 'apiKey=77a52842357422fadd912a2600e6e53ccall_id=1172623588.023010community=mycommunityexpires=0method=up.auth.createTokenmysecret' | md5sum  # noqa: E501
    assert signature(params, "mysecret") == "e399bd627f2f13b059d5893bcbd440d8"


def test_sig_and_data_are_excluded() -> None:
    """Adding ``sig`` or ``data`` changes nothing."""
    with_extras = {**SEED_UPLOAD, "sig": "0" * 32, "data": "raw image bytes"}
    assert signature(with_extras, "mysecret") == "eba81bbe09d750f9d5bd5a551720a099"


def test_names_sort_in_byte_order_so_upper_case_comes_first() -> None:
    """``Zeta`` sorts before ``alpha`` and ``pageNumber`` before ``pageSize`` (byte order)."""
    params = {"pids": "3,4", "pageSize": "10", "alpha": "2", "pageNumber": "1", "Zeta": "1"}
    # printf '%s' 'Zeta=1alpha=2pageNumber=1pageSize=10pids=3,4s' | md5sum
    assert signature(params, "s") == "14ea5f41b6058397976413edf6f8d0bd"

"""flackcli.address: the one parser of server addresses (plain and ``tls://``), their
written form, and the client's TLS context (system store, or a private CA with --ca)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from flackcli.address import Address, parse_address, tls_context


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:7777", Address("127.0.0.1", 7777)),
        ("chat.example", Address("chat.example", 7777)),
        ("  chat.example:7000 ", Address("chat.example", 7000)),
        ("[::1]:8000", Address("::1", 8000)),
        ("[::1]", Address("::1", 7777)),
        ("tcp://chat.example", Address("chat.example", 7777)),
        ("tls://chat.example", Address("chat.example", 7778, tls=True)),
        ("TLS://chat.example:9000", Address("chat.example", 9000, tls=True)),
        ("tls://[::1]", Address("::1", 7778, tls=True)),
        ("tls://127.0.0.1:7779", Address("127.0.0.1", 7779, tls=True)),
    ],
)
def test_parse_address(text: str, expected: Address) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "not HOST:PORT"),
        (":7777", "not HOST:PORT"),
        ("host:", "port must be a number"),
        ("host:0", "port must be a number"),
        ("host:70000", "port must be a number"),
        ("::1", "brackets"),
        ("a b:1", "not HOST:PORT"),
        ("tls://", "not HOST:PORT"),
        ("https://chat.example", "unknown scheme 'https'"),
        ("ssl://chat.example", "unknown scheme"),
        ("tls://chat.example/path", "not HOST:PORT"),
        ("tls://user@chat.example", "not HOST:PORT"),
    ],
)
def test_parse_address_refuses(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_address(text)


@pytest.mark.parametrize(
    "text",
    ["127.0.0.1:7777", "[::1]:7777", "tls://chat.example:7778", "tls://[::1]:9000", "h:1"],
)
def test_written_form_reads_back_the_same(text: str) -> None:
    address = parse_address(text)
    assert str(address) == text
    assert parse_address(str(address)) == address


def test_plain_address_has_no_context_and_refuses_a_ca() -> None:
    assert tls_context(parse_address("chat.example")) is None
    with pytest.raises(ValueError, match=r"--ca is for TLS.*TLS: tls://chat.example:7778"):
        tls_context(parse_address("chat.example"), "/some/ca.pem")


def test_tls_context_checks_the_certificate_and_the_name() -> None:
    context = tls_context(parse_address("tls://chat.example"))
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_ca_file_replaces_the_system_store(tmp_path: Path) -> None:
    ca = trustme.CA()
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    context = tls_context(parse_address("tls://chat.example"), str(pem))
    assert context is not None
    assert len(context.get_ca_certs()) == 1  # only the private CA, not the system's


def test_unusable_ca_file_is_a_clear_error(tmp_path: Path) -> None:
    where = parse_address("tls://chat.example")
    with pytest.raises(ValueError, match="no such file"):
        tls_context(where, str(tmp_path / "missing.pem"))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ValueError, match=r"junk\.pem"):
        tls_context(where, str(junk))

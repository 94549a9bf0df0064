"""Every redaction pattern fires, and the numbers agents need survive."""

import pytest

from warmline.empathy.redaction import dni_ok, iban_ok, luhn_ok, redact


@pytest.mark.parametrize(
    ("text", "kind", "secret"),
    [
        ("my card is 4111 1111 1111 1111 thanks", "card_number", "4111 1111 1111 1111"),
        ("card 5500-0000-0000-0004", "card_number", "5500-0000-0000-0004"),
        ("pay with 378282246310005", "card_number", "378282246310005"),
        ("IBAN ES91 2100 0418 4502 0005 1332 please", "iban", "ES91 2100 0418 4502 0005 1332"),
        ("send to GB82WEST12345698765432", "iban", "GB82WEST12345698765432"),
        ("my SSN is 123-45-6789", "national_id", "123-45-6789"),
        ("mi DNI es 12345678Z", "national_id", "12345678Z"),
        ("NIE X1234567L", "national_id", "X1234567L"),
        ("my password is Hunter2!", "password", "Hunter2!"),
        ("password: s3cr3t-pass", "password", "s3cr3t-pass"),
        ("mi contraseña es Gato1234", "password", "Gato1234"),
        ("contraseña: secreto99", "password", "secreto99"),
    ],
)
def test_each_pattern_is_redacted(text, kind, secret):
    result = redact(text)
    assert secret not in result.text
    assert result.kinds == [kind]


def test_security_code_next_to_card_is_redacted():
    result = redact("4111 1111 1111 1111 exp 12/26 cvv 123")
    assert "123" not in result.text.replace("[", " ")
    assert result.kinds == ["card_number", "card_security_code"]


def test_bare_security_code_after_card_and_expiry_is_redacted():
    result = redact("card 4111111111111111, 09/27, 456")
    assert "456" not in result.text
    assert "card_security_code" in result.kinds


def test_spanish_security_code_keyword():
    assert "987" not in redact("código de seguridad: 987").text


@pytest.mark.parametrize(
    "text",
    [
        "where is my order #W1234567?",
        "order ORD-2024-001234 never arrived",
        "call me on +1 415 555 0100",
        "mi móvil es 600 123 456",
        "tracking 1Z999AA10123456784",
        "invoice 2024-000123, total 1234.56 EUR",
        "4111 1111 1111 1112 is not a valid card",  # fails Luhn
        "ES00 2100 0418 4502 0005 1332",  # fails mod-97
        "DNI 12345678A",  # wrong check letter
        "my password is wrong",
        "I forgot my password",
    ],
)
def test_no_false_redaction(text):
    result = redact(text)
    assert result.text == text
    assert result.kinds == []


def test_kinds_never_contain_the_original():
    result = redact("card 4111 1111 1111 1111 and password: abc12345")
    assert all("4111" not in k and "abc" not in k for k in result.kinds)


def test_checksums():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("DE89 3704 0044 0532 0130 00") and not iban_ok("DE88 3704 0044 0532 0130 00")
    assert dni_ok("12345678Z") and dni_ok("Y1234567X") and not dni_ok("12345678A")


def test_html_is_redacted_without_eating_tags():
    result = redact("<p>password: abc12345</p><b>4111 1111 1111 1111</b>")
    assert result.text == "<p>password: [redacted password]</p><b>[redacted card number]</b>"

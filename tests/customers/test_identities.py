import pytest

from warmline.customers.identities import normalise
from warmline.errors import InvalidInput


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Ana.Lopez@Example.COM", "ana.lopez@example.com"),
        ("  mailto:Bob@Example.org ", "bob@example.org"),
    ],
)
def test_emails_are_lower_cased_and_trimmed(raw, expected):
    assert normalise("email", raw) == expected


@pytest.mark.parametrize(
    "raw, region, expected",
    [
        ("+34 600 11 12 22", "US", "+34600111222"),
        ("0034600111222", "US", "+34600111222"),
        ("600 111 222", "ES", "+34600111222"),
        ("(415) 555-0100", "US", "+14155550100"),
        ("whatsapp:+14155550100", "US", "+14155550100"),
        ("tel:+44 20 7946 0958", "US", "+442079460958"),
    ],
)
def test_phones_become_e164(raw, region, expected):
    assert normalise("phone", raw, default_region=region) == expected


@pytest.mark.parametrize(
    "kind, raw", [("email", "not-an-email"), ("phone", "12"), ("phone", "call me")]
)
def test_bad_values_are_rejected_naming_the_field(kind, raw):
    with pytest.raises(InvalidInput) as exc:
        normalise(kind, raw)
    assert exc.value.field == kind


def test_social_handles_drop_the_at_sign_and_case():
    assert normalise("social", "@AnaLopez") == "analopez"

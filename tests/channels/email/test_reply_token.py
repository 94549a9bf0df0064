"""Reply tokens survive in the reply address when clients drop threading headers."""

import pytest

from warmline.channels.email import extract_reply_token, make_reply_address, split_reply_address


def test_make_reply_address_adds_a_plus_tag():
    assert make_reply_address("help@brand.example", "k3x9q") == "help+r-k3x9q@brand.example"


def test_make_reply_address_keeps_an_existing_subaddress_and_replaces_an_old_token():
    assert make_reply_address("help+sales@brand.example", "abc") == "help+sales+r-abc@brand.example"
    assert make_reply_address("help+r-old1@brand.example", "new2") == "help+r-new2@brand.example"


@pytest.mark.parametrize("token", ["", "UPPER", "has space", "under_score", "x" * 65, "-lead"])
def test_make_reply_address_refuses_tokens_an_mta_could_mangle(token):
    with pytest.raises(ValueError):
        make_reply_address("help@brand.example", token)


def test_make_reply_address_refuses_a_non_address():
    with pytest.raises(ValueError):
        make_reply_address("help.brand.example", "abc")


def test_round_trip_through_a_display_name_header_value():
    address = make_reply_address("help@brand.example", "7f3k9q2m")
    assert extract_reply_token([f'"Acme Support" <{address}>']) == "7f3k9q2m"


def test_extract_finds_the_first_token_in_order_and_folds_case():
    addresses = ["someone@else.example", "HELP+R-AB12@BRAND.EXAMPLE", "help+r-zz99@brand.example"]
    assert extract_reply_token(addresses) == "ab12"


def test_extract_ignores_other_plus_tags():
    assert extract_reply_token(["help+sales@brand.example", "jane+r@x.example", ""]) is None


def test_split_reply_address_gives_the_routable_base_address():
    assert split_reply_address("Help+r-ab12@Brand.example") == ("help@brand.example", "ab12")
    assert split_reply_address("help@brand.example") == ("help@brand.example", None)

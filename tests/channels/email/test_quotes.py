"""Splitting the new text of a reply from the history its client quoted."""

import pytest

from warmline.channels.email import split_reply


def test_outlook_underscore_header_block():
    text = (
        "Works now, thanks.\n\n"
        "________________________________\n"
        "From: Acme Support <help@brand.example>\n"
        "Sent: Monday, March 2, 2026 10:00\n"
        "To: Jane <jane@example.com>\n"
        "Subject: Re: login\n\n"
        "Please try again."
    )
    split = split_reply(text)
    assert split.new_text == "Works now, thanks."
    assert split.quoted_text.startswith("________________________________\nFrom: Acme Support")


@pytest.mark.parametrize(
    "attribution",
    [
        "On Mon, 2 Mar 2026 at 10:00, Acme <help@brand.example> wrote:",
        "El lun, 2 mar 2026 a las 10:00, Acme (<help@brand.example>) escribió:",
        "Le lun. 2 mars 2026 à 10:00, Acme <help@brand.example> a écrit :",
        "Am Mo., 2. März 2026 um 10:00 Uhr schrieb Acme <help@brand.example>:",
        "Acme Support <help@brand.example> wrote:",
        "2026-03-02 10:00 GMT+01:00 Acme <help@brand.example>:",
    ],
)
def test_attribution_lines_in_several_languages(attribution):
    split = split_reply(f"Thanks!\n\n{attribution}\n\n> Earlier message\n")
    assert split.new_text == "Thanks!"
    assert split.quoted_text.startswith(attribution.split()[0])
    assert "> Earlier message" in split.quoted_text


def test_attribution_wrapped_over_three_lines():
    text = "Yes.\n\nOn Mon, Mar 2, 2026 at 10:00 AM Very Long Name of the\nSupport Team <\nhelp@brand.example> wrote:\n\n> Hi"
    assert split_reply(text).new_text == "Yes."


def test_a_sentence_starting_with_on_is_not_an_attribution():
    text = "On Monday the parcel arrived damaged.\nOn the box it says fragile, and I wrote: please help."
    split = split_reply(text)
    assert split.new_text == text
    assert split.quoted_text == ""


def test_a_from_line_without_sent_or_date_is_not_a_header_block():
    text = "From: the warehouse, I think.\nTo: be honest I am not sure where it went."
    assert split_reply(text).new_text == text


def test_spanish_outlook_header_block():
    text = "Gracias.\n\nDe: Soporte <help@brand.example>\nEnviado: lunes\nPara: Ana\nAsunto: RE: x\n\nHola"
    split = split_reply(text)
    assert split.new_text == "Gracias."
    assert split.quoted_text.startswith("De: Soporte")


def test_quoted_lines_without_attribution_are_history():
    split = split_reply("> what size?\nLarge, please.\n> and colour?\nBlue.")
    assert split.new_text == "Large, please.\nBlue."
    assert split.quoted_text == "> what size?\n> and colour?"


def test_top_posted_reply_above_an_unquoted_original():
    text = "New question.\n\nOn Mon, 2 Mar 2026, Acme <help@brand.example> wrote:\nOld answer.\nMore old."
    split = split_reply(text)
    assert split.new_text == "New question."
    assert split.quoted_text.endswith("More old.")


def test_outlook_forward_keeps_the_forwarded_message_and_its_sender():
    text = (
        "See below.\n\n"
        "________________________________\n"
        "From: Jane Doe [mailto:jane@example.com]\n"
        "Sent: Monday, March 2, 2026 10:00\n"
        "To: Bob\n"
        "Subject: broken\n\n"
        "It broke.\n\n"
        "-----Original Message-----\n"
        "From: Acme\nSent: Sunday\nTo: Jane\n\nOlder."
    )
    split = split_reply(text, forwarded=True)
    assert split.has_forward_marker
    assert split.forwarded_from_email == "jane@example.com"
    assert split.forwarded_from_name == "Jane Doe"
    assert "It broke." in split.new_text
    assert split.quoted_text.startswith("-----Original Message-----")
    assert "Older." not in split.new_text


def test_apple_begin_forwarded_message():
    text = "FYI\n\nBegin forwarded message:\n\nFrom: Ana <ana@example.es>\nSubject: hola\n\nHola."
    split = split_reply(text)
    assert split.has_forward_marker
    assert split.forwarded_from_email == "ana@example.es"
    assert split.new_text.endswith("Hola.")


def test_empty_text():
    split = split_reply("")
    assert (split.new_text, split.quoted_text) == ("", "")

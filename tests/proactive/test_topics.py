"""Topic store: online assignment, labels, rename/merge/split, and quality on Banking77."""

from __future__ import annotations

import csv
import random

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from warmline.proactive.topics import TopicEncoder, TopicStore, default_encoder
from warmline.proactive.train_topics import banking77_split

CARD = [
    "my card has not arrived",
    "when will my card arrive",
    "card still not delivered",
    "where is my new card",
]
PIN = ["how do i change my pin", "i forgot my pin", "reset my pin please", "change the pin code"]


def filled_store() -> TopicStore:
    store = TopicStore()
    for n, text in enumerate(CARD + PIN):
        store.add(id=n, customer=f"c{n}", text=text, time=float(n))
    return store


def test_encoder_gives_unit_vectors_and_similar_texts_are_close():
    v = default_encoder().encode(["my card has not arrived", "card not arrived yet", "change pin"])
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_similar_messages_share_a_topic_and_new_issues_open_one():
    store = filled_store()
    assert len(set(store.topic_of[:4])) <= 2
    assert not set(store.topic_of[:4]) & set(store.topic_of[4:])
    before = len(store.topics)
    store.add(id="x", customer="z", text="the app crashes when scanning a cheque", time=9.0)
    assert len(store.topics) == before + 1


def test_label_and_representatives_come_from_members():
    store = filled_store()
    topic = store.topic_of[4]
    assert "pin" in store.label(topic)
    reps = store.representatives(topic, n=2)
    assert all(store.topic_of[i] == topic for i in reps)


def test_rename_merge_split():
    store = filled_store()
    card, pin = store.topic_of[0], store.topic_of[4]
    store.rename(card, "Card delivery")
    assert store.label(card) == "Card delivery"
    with pytest.raises(ValueError):
        store.rename(card, "  ")
    for i in range(8):  # one topic per message is the worst case to merge from
        if store.topic_of[i] not in (card, pin) and store.topic_of[i] in store.topics:
            store.merge(card if i < 4 else pin, store.topic_of[i])
    kept = store.merge(card, pin)
    assert kept == card and pin not in store.topics
    assert set(store.topic_of) == {card}
    assert store.label(card) == "Card delivery"
    parts = store.split(card, 2)
    assert parts[0] == card and len(parts) == 2
    groups = [{store.texts[i] for i in store.topics[t].members} for t in parts]
    assert set(CARD) in groups and set(PIN) in groups  # the split undoes the merge
    # centroids follow the edits: a new pin question joins the pin part
    pin_part = parts[groups.index(set(PIN))]
    assert store.add(id="y", customer="q", text="i need to change my pin", time=10.0) == pin_part


def test_merge_into_itself_is_refused():
    store = filled_store()
    with pytest.raises(ValueError):
        store.merge(store.topic_of[0], store.topic_of[0])


# Measured 0.767 / 0.508 on this sample with the distilled encoder (0.7165 / 0.438 with the
# LDA encoder it replaced): the floor sits above the LDA encoder's figures.
NMI_3000, ARI_3000 = 0.74, 0.47


def test_topic_quality_on_banking77(datasets_dir):
    """Online pass + full re-clustering, scored against the gold intents, on the half of
    Banking77's intents the shipped encoder never saw (see train_topics.banking77_split)."""
    with open(datasets_dir / "banking77" / "train.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    _, unseen = banking77_split(r["category"] for r in rows)
    rows = [r for r in rows if r["category"] in set(unseen)]
    rows = random.Random(0).sample(rows, 3000)  # most of the half; keeps the test fast
    store = TopicStore()
    store.add_many(
        {"id": n, "customer": "c", "text": r["text"], "time": float(n)} for n, r in enumerate(rows)
    )
    store.recluster()
    gold = [r["category"] for r in rows]
    nmi = normalized_mutual_info_score(gold, store.topic_of)
    ari = adjusted_rand_score(gold, store.topic_of)
    assert nmi >= NMI_3000 and ari >= ARI_3000, (nmi, ari)


def test_distilled_encoder_learns_what_the_teacher_calls_the_same():
    """The student only sees n-grams; the teacher's vectors say "refund" and "money back"
    mean the same request, "card" and "card delivery" do not. After fitting, a new
    phrasing that shares no word with its intent's other phrasing lands next to it."""
    rng = np.random.default_rng(0)
    intents = {
        "refund": (["refund", "reimbursement"], ["money back", "repayment"]),
        "delivery": (["delivery", "shipping"], ["arrive", "post"]),
        "pin": (["pin", "passcode"], ["unlock code", "secret number"]),
    }
    fillers = ["please help with my", "question about the", "i need the", "what about my"]
    teacher = {k: rng.normal(size=32) for k in intents}
    texts, targets = [], []
    for name, (a, b) in intents.items():
        for word in a + b:
            for filler in fillers:
                texts.append(f"{filler} {word}")
                y = teacher[name] + 0.1 * rng.normal(size=32)
                targets.append(y / np.linalg.norm(y))
    encoder = TopicEncoder.fit_distilled(texts, np.array(targets), svd_dims=40, dims=8)
    assert encoder.supervised and encoder.dims == 8
    v = encoder.encode(["refund", "money back", "delivery", "arrive", "pin", "unlock code"])
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    sims = v @ v.T
    for i in (0, 2, 4):  # each word is closest to its partner from the other word list
        others = [j for j in range(6) if j not in (i, i + 1)]
        assert sims[i, i + 1] > max(sims[i, j] for j in others) + 0.3

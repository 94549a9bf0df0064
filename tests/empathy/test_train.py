"""``warmline signals train`` on a small data folder of the shared layout: runs, is
deterministic (same seed, same arrays), and the analyser loads what it wrote."""

import numpy as np
from django.core.management import call_command

from warmline.empathy import analyser, train

POSITIVE = ["thank you so much, this is great", "love it, wonderful help", "awesome, thanks a lot"]
NEGATIVE = ["this is awful and I am angry", "terrible service, so annoyed", "worst ever, furious"]
NEUTRAL = ["the parcel is at the depot", "my order number is 123", "I called on monday"]
CONFUSED = ["I don't understand how this works?", "confused, what does this mean?"]
SCARED = ["I am worried and scared about the charge", "nervous that it will fail"]
SAD = ["so sad, I miss it", "heartbroken and sad"]


def small_datasets(root):
    labels = ["admiration", "amusement", "anger", "annoyance", "approval", "caring",
              "confusion", "curiosity", "desire", "disappointment", "disapproval", "disgust",
              "embarrassment", "excitement", "fear", "gratitude", "grief", "joy", "love",
              "nervousness", "optimism", "pride", "realization", "relief", "remorse",
              "sadness", "surprise", "neutral"]  # fmt: skip
    ge = root / "goemotions"
    ge.mkdir(parents=True)
    (ge / "labels.txt").write_text("\n".join(labels) + "\n")
    groups = [
        (POSITIVE, ["gratitude", "joy"]),
        (NEGATIVE, ["anger"]),
        (NEUTRAL, ["neutral"]),
        (CONFUSED, ["confusion"]),
        (SCARED, ["fear"]),
        (SAD, ["sadness"]),
    ]
    rows = []
    for n in range(12):
        for texts, names in groups:
            ids = ",".join(str(labels.index(x)) for x in names)
            rows.append(f"{texts[n % len(texts)]} {n}\t{ids}\tid{n}")
    (ge / "train.tsv").write_text("\n".join(rows) + "\n")
    (ge / "dev.tsv").write_text("\n".join(rows[:12]) + "\n")
    se = root / "sentiment"
    se.mkdir()
    for name in train.datasets.GROUND_TRUTHS.values():
        lines = [f"{i}\t{r}\t{t} {i}" for i, (t, r) in enumerate(
            [(t, 2.5) for t in POSITIVE] + [(t, -2.5) for t in NEGATIVE] + [(t, 0.0) for t in NEUTRAL]
        )]  # fmt: skip
        (se / name).write_text("\n".join(lines) + "\n")
    tweets, tlabels = [], []
    for n in range(10):
        for texts, label in ((NEGATIVE, 0), (NEUTRAL, 1), (POSITIVE, 2)):
            tweets.append(f"@user {texts[n % 3]} #{n}")
            tlabels.append(str(label))
    (se / "tweeteval_val_text.txt").write_text("\n".join(tweets) + "\n")
    (se / "tweeteval_val_labels.txt").write_text("\n".join(tlabels) + "\n")


def test_train_is_deterministic_and_loadable(tmp_path):
    data = tmp_path / "datasets"
    small_datasets(data)
    for out in ("a", "b"):
        call_command("signals", "train", "--datasets", str(data), "--out", str(tmp_path / out))
    with (
        np.load(tmp_path / "a" / train.MODEL_FILE) as a,
        np.load(tmp_path / "b" / train.MODEL_FILE) as b,
    ):
        assert set(a.files) == set(b.files)
        for key in a.files:
            if a[key].dtype.kind == "f":  # the same fit, to solver round-off
                assert np.allclose(a[key], b[key], rtol=1e-6, atol=1e-6), key
            else:
                assert np.array_equal(a[key], b[key]), key
    fresh = analyser.Analyser(models_dir=tmp_path / "a")
    assert fresh.analyse("love it, wonderful help")["label"] == "positive"
    assert fresh.analyse("terrible service, so annoyed")["label"] == "negative"


def test_shipped_model_is_small_and_complete():
    files = list(analyser.MODELS_DIR.iterdir())
    assert sum(f.stat().st_size for f in files) < 25_000_000
    with np.load(analyser.MODELS_DIR / train.MODEL_FILE) as z:
        assert z["weights"].shape[1] == 1 + len(train.CUES) + 3 + 3  # text, cues, tweet, polarity

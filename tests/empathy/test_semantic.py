"""The optional semantic analyser (skipped unless the ``semantic`` extra is installed)."""

import numpy as np
import pytest

from warmline.empathy import analyser, semantic

pytestmark = pytest.mark.skipif(not semantic.available(), reason="semantic extra not installed")


@pytest.fixture(scope="module")
def encoder():
    return semantic.Encoder()


def test_embeddings_are_unit_vectors_and_closer_for_the_same_meaning(encoder):
    v = encoder.encode(
        ["My parcel never arrived", "The package did not get delivered", "I love the new colour"]
    )
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_batching_does_not_change_a_vector(encoder):
    texts = ["short", "a much longer message about a refund that has not arrived yet", "ok"]
    together = encoder.encode(texts)
    alone = np.vstack([encoder.encode([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-4)


@pytest.mark.skipif(
    not (analyser.MODELS_DIR / semantic.SEMANTIC_FILE).is_file(), reason="no semantic stacker"
)
@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Thank you so much, you fixed it in minutes!", "positive"),
        ("This is the third time my order is late. Unacceptable.", "negative"),
        ("My order number is 12345.", "neutral"),
    ],
)
def test_semantic_sentiment_on_clear_cases(text, label):
    result = semantic.get().analyse(text)
    assert result["label"] == label
    # Everything else is the default analyser's.
    base = analyser.analyse(text)
    assert result["emotions"] == base["emotions"] and result["language"] == base["language"]


def test_spanish_keeps_the_default_sentiment():
    text = "Muchas gracias, excelente atención"
    assert semantic.get().analyse(text)["sentiment"] == analyser.analyse(text)["sentiment"]


def test_score_command_with_semantic(tmp_path):
    import io
    import json

    from django.core.management import call_command

    src = tmp_path / "in.txt"
    src.write_text("Thank you, wonderful help!\nThis is a disaster, I want my money back\n")
    out = io.StringIO()
    call_command("signals", "score", "--semantic", "--input", str(src), stdout=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["label"] for r in rows] == ["positive", "negative"]

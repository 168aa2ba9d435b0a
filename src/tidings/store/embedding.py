"""How an article's embedding is stored: int8 values with one float32 scale.

The enrichment stage writes embeddings in this form, storage keeps them as they are, and
ranking and the vector index read them back; this module is the one place that knows the
layout. It imports nothing of Tidings, so every stage can use it.

Layout: byte 0 is the format (:data:`INT8`), bytes 1-4 a little-endian float32 scale, then
one signed byte per dimension. The scale does not matter once a vector is normalised to unit
length, which is how every reader uses it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

#: First byte of a stored vector: the format, so it can change without guessing.
INT8 = 1
HEADER = struct.Struct("<Bf")

Vector = npt.NDArray[np.float32]


def to_bytes(vector: npt.NDArray[np.floating[Any]]) -> bytes:
    """Store a vector in 1 + 4 + n bytes: int8 values with one float32 scale.

    Symmetric per-vector quantisation (the largest magnitude maps to 127). Measured on the
    1,000 STS dev news sentences: cosine loss of a round trip 2.7e-5 mean, 6.5e-5 worst, and
    the similarity Spearman unchanged to three decimals; 389 bytes against float16's 768
    (loss 1e-7) and float32's 1,536.
    """
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    peak = float(np.max(np.abs(v))) if v.size else 0.0
    scale = peak / 127.0 if peak > 0 else 1.0
    q: npt.NDArray[np.int8] = np.clip(np.rint(v / scale), -127, 127).astype(np.int8)
    return HEADER.pack(INT8, scale) + q.tobytes()


def from_bytes(data: bytes) -> Vector:
    """Read a vector written by :func:`to_bytes`, rescaled to unit length."""
    if len(data) < HEADER.size:
        raise ValueError("not a stored vector: too short")
    kind, scale = HEADER.unpack_from(data)
    if kind != INT8:
        raise ValueError(f"unknown stored vector format {kind}")
    q = np.frombuffer(data, dtype=np.int8, offset=HEADER.size)
    return normalize(q.astype(np.float32) * np.float32(scale))


def int8_rows(blobs: Sequence[bytes | None], dimensions: int) -> npt.NDArray[np.int8]:
    """Stored vectors as one int8 matrix (a row of zeros where there is none, or where a
    vector has another length than ``dimensions``): decoded as one array, since decoding a
    row at a time cost 30 us each."""
    size = HEADER.size + dimensions
    out = np.zeros((len(blobs), dimensions), dtype=np.int8)
    if not blobs:
        return out
    ok = [i for i, b in enumerate(blobs) if b is not None and len(b) == size and b[0] == INT8]
    if ok:
        raw = np.frombuffer(b"".join(blobs[i] or b"" for i in ok), dtype=np.uint8)
        out[ok] = raw.reshape(len(ok), size)[:, HEADER.size :].view(np.int8)
    return out


def normalize(vectors: npt.NDArray[np.float32]) -> Vector:
    """Scale each row (or a single vector) to unit length; zeros stay zero."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    scaled: Vector = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return scaled

"""Lake parts as bytes, in one place: how every part is encoded, and a part encoded
where its frame was made (a worker process) to travel as bytes, not as a frame."""

from __future__ import annotations

import io
from dataclasses import dataclass

import polars as pl


def to_parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", statistics=True)
    return buffer.getvalue()


@dataclass(frozen=True)
class EncodedPart:
    """A frame already written as a lake part (parquet bytes), and its row count."""

    content: bytes
    rows: int

    @classmethod
    def of(cls, frame: pl.DataFrame) -> EncodedPart:
        return cls(to_parquet_bytes(frame), frame.height)

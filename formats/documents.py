"""Raw BSON documents from MongoDB: decoded in batches, rendered for people."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import bson
from bson import json_util
from bson.errors import InvalidBSON


@contextmanager
def paused_gc() -> Iterator[None]:
    """Decoding a batch creates millions of small acyclic objects; the cyclic garbage
    collector would scan them again and again (decoding runs 3x slower with it on)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def decode_batch(raw: list[bytes]) -> tuple[list[Mapping], list[str | None]]:
    """Every document decoded, in one call to pymongo's C decoder when the batch is
    sound; a corrupt document becomes `{}` with a problem, never a crash or a gap."""
    try:
        return bson.decode_all(b"".join(raw)), [None] * len(raw)
    except (InvalidBSON, TypeError, ValueError):
        pass
    decoded: list[Mapping] = []
    problems: list[str | None] = []
    for document in raw:
        try:
            decoded.append(bson.decode(document))
            problems.append(None)
        except (InvalidBSON, TypeError, ValueError) as exc:
            decoded.append({})
            problems.append(f"not a valid BSON document: {exc}"[:200])
    return decoded, problems


def readable(raw: bytes) -> str:
    """A document as relaxed Extended JSON (the hex of its bytes if it is not BSON)."""
    try:
        return json_util.dumps(bson.decode(raw), json_options=json_util.RELAXED_JSON_OPTIONS)
    except (InvalidBSON, TypeError, ValueError):
        return raw.hex()

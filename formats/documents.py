"""Raw BSON documents from MongoDB: decoded in batches, rendered for people."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import bson
from bson import json_util
from bson.codec_options import CodecOptions
from bson.errors import InvalidBSON

# Text that is not UTF-8 is read with U+FFFD in place of the bad bytes: one mangled
# user agent must not cost a whole event, and the event says it was repaired.
_REPAIR = CodecOptions(unicode_decode_error_handler="replace")
NOT_UTF8 = "text that was not UTF-8 (bad bytes replaced)"
LONGEST_RAW = 20_000  # characters of a rejected document kept beside its reason


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


@dataclass(frozen=True)
class Decoded:
    """A batch decoded: each document (`{}` when its bytes are not a document), what was
    wrong with it (None: nothing) and whether text in it had to be repaired."""

    documents: list[Mapping]
    problems: list[str | None]
    repaired: list[bool]


def decode_batch(raw: list[bytes]) -> Decoded:
    """Every document decoded, in one call to pymongo's C decoder when the batch is
    sound; a corrupt document becomes `{}` with a problem, never a crash or a gap."""
    try:
        return Decoded(bson.decode_all(b"".join(raw)), [None] * len(raw), [False] * len(raw))
    except (InvalidBSON, TypeError, ValueError, IndexError):
        pass
    decoded = Decoded([], [], [])
    for document in raw:
        problem, repaired = None, False
        try:
            value = bson.decode(document)
        except (InvalidBSON, TypeError, ValueError, IndexError) as exc:
            try:
                value, repaired = bson.decode(document, codec_options=_REPAIR), True
            except (InvalidBSON, TypeError, ValueError, IndexError):
                value, problem = {}, f"not a valid BSON document: {exc}"[:200]
        decoded.documents.append(value)
        decoded.problems.append(problem)
        decoded.repaired.append(repaired)
    return decoded


def readable(raw: bytes) -> str:
    """A document as relaxed Extended JSON; text that is not a document as itself (a
    mongoexport line that is not JSON), bytes as hex. At most `LONGEST_RAW` characters."""
    try:
        text = json_util.dumps(
            bson.decode(raw, codec_options=_REPAIR), json_options=json_util.RELAXED_JSON_OPTIONS
        )
    except (InvalidBSON, TypeError, ValueError, IndexError):
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            text = ""
        if not text or not all(c.isprintable() or c.isspace() for c in text):
            text = raw.hex()
    if len(text) > LONGEST_RAW:
        return f"{text[:LONGEST_RAW]}… ({len(raw):,} bytes in all)"
    return text

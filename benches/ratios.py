#!/usr/bin/env python3
"""Ratios of medians from the last `cargo bench --bench throughput` run.

Reads criterion's target/criterion/<group>/<function>/new/estimates.json
and prints, for each vendor group, `verify_and_parse` against the lower
bound and against the naive path, plus the size and batch-length scans.
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"


def median(group, function):
    path = ROOT / group / function / "new" / "estimates.json"
    try:
        return json.loads(path.read_text())["median"]["point_estimate"]
    except FileNotFoundError:
        sys.exit(f"no result at {path}: run `cargo bench --bench throughput` first")


def ns(x):
    return f"{x / 1000:.2f} µs" if x >= 1000 else f"{x:.0f} ns"


print("| group | lower bound | naive | verify | parse | verify_and_parse | vs lower bound | vs naive |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for group in ["smartcomply_iu_exceedance", "smarterwx_referral", "smarterwx_batch_100"]:
    m = {f: median(group, f) for f in ["lower_bound", "naive", "verify", "parse", "verify_and_parse"]}
    print(
        f"| {group} | {ns(m['lower_bound'])} | {ns(m['naive'])} | {ns(m['verify'])} | {ns(m['parse'])} "
        f"| {ns(m['verify_and_parse'])} | {m['verify_and_parse'] / m['lower_bound']:.2f}x "
        f"| {m['verify_and_parse'] / m['naive']:.2f}x |"
    )

print()
print("| body size | SHA-256 | verify | verify / SHA-256 |")
print("| --- | --- | --- | --- |")
for size in [256, 4096, 65536, 1048576]:
    sha = median("verify_by_size", f"sha256/{size}")
    ver = median("verify_by_size", f"verify/{size}")
    print(f"| {size} B | {ns(sha)} | {ns(ver)} | {ver / sha:.2f}x |")

print()
print("| notifications | parse | per notification |")
print("| --- | --- | --- |")
for n in [1, 10, 100, 1000]:
    t = median("parse_by_batch_length", f"parse/{n}")
    print(f"| {n} | {ns(t)} | {ns(t / n)} |")

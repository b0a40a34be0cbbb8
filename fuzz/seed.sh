#!/usr/bin/env bash
# Rebuild the seed corpora and the dictionary from ../fixtures (needs python3).
#
#   fuzz/seed.sh
#   cargo +nightly fuzz run smartcomply_parse -- -dict=fuzz/webhooks.dict -max_total_time=150 -max_len=8192
#
# Seeds are named after their source, so running this again refreshes them
# without touching what the fuzzer has added to the corpora.
set -euo pipefail
cd "$(dirname "$0")"

python3 - <<'PY'
import hashlib, hmac, json, pathlib

root = pathlib.Path("..") / "fixtures"
corpus = pathlib.Path("corpus")

# Must match the constants in fuzz_targets/.
SC_SECRET, SWX_SECRET, NOW = b"whsec_fuzz", b"swx_fuzz", 1777989600
HEADER_BODY = (root / "smartcomply" / "test.submitted.json").read_bytes()

def write(target, name, data):
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    (d / f"seed-{name}").write_bytes(data)

def sc_sign(secret, t, body):
    mac = hmac.new(secret, str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}".encode()

def swx_sign(secret, body):
    return b"sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest().encode()

sc = sorted((root / "smartcomply").glob("*.json"))
swx = sorted((root / "smarterwx").glob("*.json"))

for f in sc:
    body = f.read_bytes()
    write("smartcomply_parse", f.stem, body)
    write("smartcomply_parse", f.stem + "-compact", json.dumps(json.loads(body), separators=(",", ":")).encode())
    write("differential", "smartcomply-" + f.stem, body)
    write("drift", "smartcomply-" + f.stem, body)
    write("smartcomply_verify", f.stem, sc_sign(SC_SECRET, NOW, body) + b"\n" + body)
for f in swx:
    body = f.read_bytes()
    write("smarterwx_parse", f.stem, body)
    write("smarterwx_parse", f.stem + "-compact", json.dumps(json.loads(body), separators=(",", ":")).encode())
    write("differential", "smarterwx-" + f.stem, body)
    write("drift", "smarterwx-" + f.stem, body)
    write("smarterwx_verify", f.stem, swx_sign(SWX_SECRET, body) + b"\n" + body)

# The independent signature vectors: headers of every form, with their bodies.
for vendor, target in (("smartcomply", "smartcomply_verify"), ("smarterwx", "smarterwx_verify")):
    for v in json.loads((root / "signatures" / f"{vendor}.json").read_text())["vectors"]:
        header = v["header"].encode()
        write(target, "vector-" + v["name"], header + b"\n" + bytes.fromhex(v["body_hex"]))
        if vendor == "smartcomply":
            write("smartcomply_header", "vector-" + v["name"], header)

# Headers over the header target's fixed body: inside and outside the window,
# and in the forms the format allows.
good = sc_sign(SC_SECRET, NOW, HEADER_BODY).decode()
t, v1 = good.split(",")
for name, header in {
    "good": good,
    "upper": f"{t},{v1.upper()}",
    "spaced": f" {t} , {v1.replace('=', ' = ')} ",
    "v1-first": f"{v1},{t}",
    "several": f"{t},v0=abc,v1={'0' * 64},{v1},",
    "oldest": sc_sign(SC_SECRET, NOW - 300, HEADER_BODY).decode(),
    "too-old": sc_sign(SC_SECRET, NOW - 301, HEADER_BODY).decode(),
    "too-new": sc_sign(SC_SECRET, NOW + 301, HEADER_BODY).decode(),
}.items():
    write("smartcomply_header", name, header.encode())

# A dictionary: JSON punctuation, every key, and short string values.
tokens = {"{", "}", "[", "]", ":", ",", '"', "null", "true", "false", "-0", "1e308",
          "\\u0000", "\\ud800", "t=", "v1=", "v0=", "sha256=", "SHA256=",
          "2026-05-05", "2026-05-05T14:30:00Z", "2020-11-28 06:08:01.000Z", "+10:00", ".000Z"}
def walk(x):
    if isinstance(x, dict):
        for k, v in x.items():
            tokens.add(f'"{k}"')
            walk(v)
    elif isinstance(x, list):
        for v in x:
            walk(v)
    elif isinstance(x, str) and len(x) <= 40:
        tokens.add(json.dumps(x))
for f in sc + swx:
    walk(json.loads(f.read_bytes()))
def escape(tok):
    return "".join(c if c.isprintable() and c not in '"\\' else "\\x%02x" % ord(c) for c in tok)
pathlib.Path("webhooks.dict").write_text("".join(f'"{escape(t)}"\n' for t in sorted(tokens)))

for d in sorted(corpus.iterdir()):
    print(f"{d}: {sum(1 for _ in d.iterdir())} files")
PY

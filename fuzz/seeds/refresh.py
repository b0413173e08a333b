#!/usr/bin/env python3
"""Rebuilds the fuzz seeds that come from this repository's own files: policy
snippets, doc chunks, diffs of real commits and small GGUF models (docs/fuzzing.md).

The receipt seeds are copies of engine/receipts/*.json and a few hand-made ones;
the report seeds come from the report tests (see docs/fuzzing.md). Seeds stay
small (a few KiB; the largest GGUF is about 100 KiB): libFuzzer's input size
limit follows the largest seed, and small inputs run faster.

usage: python3 fuzz/seeds/refresh.py   (from anywhere; needs git and PyPI gguf)
"""
import pathlib
import re
import subprocess

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEEDS = ROOT / "fuzz" / "seeds"
CHUNK = 4096


def write(target, name, data):
    path = SEEDS / target / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def docs():
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def chunks(text):
    """Cut at blank lines into pieces of at most CHUNK bytes (longer paragraphs whole)."""
    out, cur = [], ""
    for para in text.split("\n\n"):
        if cur and len(cur) + len(para) + 2 > CHUNK:
            out.append(cur)
            cur = ""
        cur = f"{cur}\n\n{para}" if cur else para
    return out + ([cur] if cur else [])


def policy_seeds():
    files = ["policy/default-policy.toml", "policy/starter-policy.toml", "ci/receipt-policy.toml",
             "docs/examples/adopting/before/ci/receipt-policy.toml"]
    for f in files:
        write("policy", f.replace("/", "_"), (ROOT / f).read_text())
    for doc in docs():
        blocks = re.findall(r"```toml\n(.*?)```", doc.read_text(), re.S)
        for i, block in enumerate(blocks):
            write("policy", f"{doc.stem}-{i}.toml", block)


def claims_seeds():
    # The target reads the first byte as the syntax: '0' markdown, '1' Rust, '2' plain.
    for doc in docs():
        for i, piece in enumerate(chunks(doc.read_text())):
            # Neither README* nor *.md: `claims --filter all` would scan them as our docs.
            write("claims", f"{doc.stem.lower()}-{i}.markdown-seed", "0" + piece)
    for rs in ["policy/src/lib.rs", "policy/src/check.rs", "engine/src/lib.rs"]:
        write("claims", pathlib.Path(rs).stem + ".rs-seed", "1" + (ROOT / rs).read_text()[:CHUNK])
    write("claims", "readme.txt-seed", "2" + chunks((ROOT / "README.md").read_text())[0])


def diff_seeds():
    # As policy/src/diff.rs asks git for them; only the docs and policies, to stay small.
    log = subprocess.run(["git", "-C", ROOT, "log", "--format=%h", "-n", "40", "--", "README.md", "docs", "ci"],
                         capture_output=True, text=True, check=True).stdout.split()
    kept = 0
    for sha in log:
        out = subprocess.run(["git", "-C", ROOT, "-c", "core.quotepath=off", "diff", "--no-color",
                              "--no-ext-diff", "--unified=0", "--full-index", "-M", f"{sha}~1", sha,
                              "--", "README.md", "docs", "ci"], capture_output=True, check=True).stdout
        if 0 < len(out) <= 8192:
            write("diff", f"{sha}.diff", out)
            kept += 1
        if kept == 8:
            break
    # What git writes for cases a doc change rarely shows: a rename, a deletion, a
    # binary file, a submodule, a quoted path, CRLF lines, a file with no newline.
    write("diff", "shapes.diff", (
        "diff --git a/docs/old.md b/docs/new.md\nsimilarity index 90%\nrename from docs/old.md\n"
        "rename to docs/new.md\nindex 1111111..2222222 100644\n--- a/docs/old.md\n+++ b/docs/new.md\n"
        "@@ -3,0 +4,2 @@\n+Now 15.2 tok/s <!-- receipt: engine/receipts/bench-2b-4t-i2s.json -->\n+more\n"
        "diff --git a/gone.md b/gone.md\ndeleted file mode 100644\nindex 3333333..0000000\n"
        "--- a/gone.md\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-old\n"
        "diff --git a/img.png b/img.png\nnew file mode 100644\nindex 0000000..4444444\n"
        "Binary files /dev/null and b/img.png differ\n"
        "diff --git a/vendor/sub b/vendor/sub\nindex 5555555..6666666 160000\n--- a/vendor/sub\n"
        "+++ b/vendor/sub\n@@ -1 +1 @@\n-Subproject commit 5555555\n+Subproject commit 6666666\n"
        "diff --git \"a/docs/\\303\\251 x.md\" \"b/docs/\\303\\251 x.md\"\nindex 7777777..8888888 100644\n"
        "--- \"a/docs/\\303\\251 x.md\"\n+++ \"b/docs/\\303\\251 x.md\"\n@@ -10 +10,2 @@\n-a\n+b 3 ms/token\r\n+c\n"
        "\\ No newline at end of file\n"
    ))


def gguf_seeds():
    import gguf  # PyPI `gguf`, the same independent writer the engine tests use

    rng = np.random.default_rng(7)
    I2_S = 36

    def model(name, fmt, hidden, ffn, heads, kv_heads, head_dim, vocab):
        arch = "bitnet-b1.58"
        path = SEEDS / "gguf" / f"{name}.gguf"
        path.parent.mkdir(parents=True, exist_ok=True)
        w = gguf.GGUFWriter(str(path), arch)
        for key, v in [("embedding_length", hidden), ("feed_forward_length", ffn), ("block_count", 1),
                       ("attention.head_count", heads), ("attention.head_count_kv", kv_heads),
                       ("rope.dimension_count", head_dim), ("context_length", 64)]:
            w.add_uint32(f"{arch}.{key}", v)
        w.add_float32(f"{arch}.rope.freq_base", 500000.0)
        w.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", 1e-5)
        w.add_string(f"{arch}.hidden_activation", "relu2")
        if fmt in ("qk256", "bitnet32f16"):
            w.add_string("bitnet-engine.format", fmt)
        w.add_tensor("token_embd.weight", rng.standard_normal((vocab, hidden)).astype(np.float16))
        w.add_tensor("output_norm.weight", np.ones(hidden, dtype=np.float32))
        q, kv = heads * head_dim, kv_heads * head_dim
        norms = [("attn_norm", hidden), ("attn_sub_norm", q), ("ffn_norm", hidden), ("ffn_sub_norm", ffn)]
        for n, size in norms:
            w.add_tensor(f"blk.0.{n}.weight", np.ones(size, dtype=np.float32))
        mats = [("attn_q", q, hidden), ("attn_k", kv, hidden), ("attn_v", kv, hidden), ("attn_output", hidden, q),
                ("ffn_gate", ffn, hidden), ("ffn_up", ffn, hidden), ("ffn_down", hidden, ffn)]
        for n, rows, cols in mats:
            if fmt == "tq2_0":
                data = rng.integers(0, 256, rows * cols // 256 * 66, dtype=np.uint8)
                data.view(np.uint8)[64::66] = 0  # keep each block's f16 scale finite
                data.view(np.uint8)[65::66] = 0x3C
                w.add_tensor(f"blk.0.{n}.weight", data.reshape(rows, cols // 256 * 66),
                             raw_dtype=gguf.GGMLQuantizationType.TQ2_0)
                continue
            if fmt == "i2s":
                size = rows * cols // 4 + 32
            elif fmt == "qk256":
                size = rows * cols // 4
            else:  # bitnet32f16: 8 code bytes and an f16 scale per 32 weights
                size = rows * cols // 32 * 10
            data = rng.integers(0, 256, size, dtype=np.uint8)
            if fmt == "bitnet32f16":  # keep each block's f16 scale finite (1.0)
                data[8::10] = 0
                data[9::10] = 0x3C
            w.add_tensor(f"blk.0.{n}.weight", data.view(np.int8), raw_shape=(rows, cols), raw_dtype=I2_S)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        return path

    model("bitnet32f16", "bitnet32f16", hidden=32, ffn=32, heads=2, kv_heads=1, head_dim=16, vocab=8)
    model("i2s", "i2s", hidden=128, ffn=128, heads=1, kv_heads=1, head_dim=128, vocab=8)
    model("qk256", "qk256", hidden=256, ffn=256, heads=2, kv_heads=1, head_dim=128, vocab=4)
    full = model("tq2_0", "tq2_0", hidden=256, ffn=256, heads=2, kv_heads=1, head_dim=128, vocab=4)
    # The header alone: every tensor then lies beyond the end of the file.
    data = full.read_bytes()
    write("gguf", "tq2_0-header-only.gguf", data[:data.index(b"token_embd.weight") + 200])


if __name__ == "__main__":
    policy_seeds()
    claims_seeds()
    diff_seeds()
    gguf_seeds()

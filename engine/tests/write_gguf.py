#!/usr/bin/env python3
"""Writes a BitNet b1.58 GGUF with the independent PyPI `gguf` package.

Input: a manifest (JSON) and a values file written by engine/tests/gguf.rs. Ternary
tensors arrive as float32 weight values (block scales applied, the per-tensor scale
separately); this script lays out their bytes itself from DESIGN section 12, except
TQ2_0, which it hands to gguf.quants to quantise. Nothing here is shared with the
Rust code, so a layout misunderstanding on either side shows up as different logits.

usage: write_gguf.py MANIFEST.json VALUES.bin OUT.gguf
"""
import json
import sys

import numpy as np
import gguf

I2_S = 36


def pack_i2s(values, scale):
    """bitnet.cpp I2_S: 128-weight blocks of 32 bytes; byte g holds weights
    g, g+32, g+64, g+96 at bits 7:6, 5:4, 3:2, 1:0; code = w + 1; f32 scale in a
    32-byte tail."""
    codes = (np.rint(values).astype(np.int8) + 1).astype(np.uint8).reshape(-1, 4, 32)
    packed = (codes[:, 0] << 6) | (codes[:, 1] << 4) | (codes[:, 2] << 2) | codes[:, 3]
    tail = np.zeros(32, dtype=np.uint8)
    tail[:4] = np.frombuffer(np.float32(scale).tobytes(), dtype=np.uint8)
    return np.concatenate([packed.reshape(-1).astype(np.uint8), tail])


def pack_bitnet32f16(values):
    """BitNet32-F16: 32 weights per 10 bytes: 8 code bytes (weight 4k+n at bits 2n
    of byte k), then the f16 block scale; value = (code - 2) * scale."""
    blocks = values.reshape(-1, 32)
    d = np.abs(blocks).max(axis=1)
    safe = np.where(d == 0, 1, d)
    codes = (np.rint(blocks / safe[:, None]).astype(np.int8) + 2).astype(np.uint8).reshape(-1, 8, 4)
    qs = codes[:, :, 0] | (codes[:, :, 1] << 2) | (codes[:, :, 2] << 4) | (codes[:, :, 3] << 6)
    scales = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    return np.concatenate([qs.astype(np.uint8), scales], axis=1).reshape(-1)


def pack_qk256(values):
    """QK256: 256 weights per 64 bytes, weight 4k+n at bits 2n of byte k,
    codes 0..3 for the values -2, -1, +1, +2."""
    lut = {-2: 0, -1: 1, 1: 2, 2: 3}
    v = np.rint(values).astype(np.int8).reshape(-1, 4)
    codes = np.vectorize(lut.get)(v).astype(np.uint8)
    return (codes[:, 0] | (codes[:, 1] << 2) | (codes[:, 2] << 4) | (codes[:, 3] << 6)).astype(np.uint8)


def main():
    manifest_path, values_path, out_path = sys.argv[1:4]
    manifest = json.load(open(manifest_path))
    blob = open(values_path, "rb").read()
    arch = manifest["arch"]
    fmt = manifest["format"]
    cfg = manifest["config"]

    w = gguf.GGUFWriter(out_path, arch)
    w.add_uint32(f"{arch}.embedding_length", cfg["hidden"])
    w.add_uint32(f"{arch}.feed_forward_length", cfg["ffn"])
    w.add_uint32(f"{arch}.block_count", cfg["layers"])
    w.add_uint32(f"{arch}.attention.head_count", cfg["heads"])
    w.add_uint32(f"{arch}.attention.head_count_kv", cfg["kv_heads"])
    w.add_uint32(f"{arch}.rope.dimension_count", cfg["head_dim"])
    w.add_uint32(f"{arch}.context_length", cfg["context"])
    w.add_float32(f"{arch}.rope.freq_base", cfg["rope_theta"])
    w.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", cfg["norm_eps"])
    w.add_string(f"{arch}.hidden_activation", cfg["activation"])
    if fmt in ("qk256", "bitnet32f16"):
        w.add_string("bitnet-engine.format", fmt)

    for t in manifest["tensors"]:
        name, kind, shape = t["name"], t["kind"], t["shape"]
        raw = blob[t["offset"]:t["offset"] + t["bytes"]]
        if kind == "f32":
            w.add_tensor(name, np.frombuffer(raw, dtype=np.float32).reshape(shape))
        elif kind == "f16":
            w.add_tensor(name, np.frombuffer(raw, dtype=np.float16).reshape(shape))
        elif kind == "ternary":
            values = np.frombuffer(raw, dtype=np.float32).reshape(shape)
            rows, cols = shape
            if fmt == "tq2_0":
                q = gguf.quants.quantize(values, gguf.GGMLQuantizationType.TQ2_0)
                w.add_tensor(name, q, raw_dtype=gguf.GGMLQuantizationType.TQ2_0)
            else:
                if fmt == "i2s":
                    data = pack_i2s(values, t["scale"])
                elif fmt == "bitnet32f16":
                    data = pack_bitnet32f16(values)
                elif fmt == "qk256":
                    data = pack_qk256(values)
                else:
                    raise SystemExit(f"unknown format {fmt}")
                # The writer only needs the bytes and the logical shape; a non-uint8
                # view keeps it from reinterpreting the byte shape for a known type.
                w.add_tensor(name, data.view(np.int8), raw_shape=(rows, cols), raw_dtype=I2_S)
                if fmt == "qk256" and t["scale"] != 1.0:
                    w.add_tensor(name.replace(".weight", ".scale"), np.array([t["scale"]], dtype=np.float32))
        else:
            raise SystemExit(f"unknown tensor kind {kind}")

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()

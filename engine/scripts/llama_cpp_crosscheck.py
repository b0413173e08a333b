#!/usr/bin/env python3
"""Cross-check bitnet-engine against llama.cpp on the same TQ2_0 weights.

bitnet-engine exports a small synthetic model as a GGUF with llama.cpp's `bitnet`
architecture (TQ2_0 weights, F16 tied embedding, SiLU FFN, no tokenizer). Then:
  1. greedy generation in both engines from the same prompt: the token ids must agree;
  2. teacher-forced logits at every position (llama.cpp fed bitnet-engine's tokens):
     cosine similarity must be >= 0.99. llama.cpp quantises activations per 256-block
     (Q8_K); by default bitnet-engine is asked to do the same (`--act-quant q8_k`), so
     the remaining differences are llama.cpp's F16 KV cache and F16 lm_head input and
     summation order. `--act-quant per-token` compares BitNet b1.58's own quantisation.

llama.cpp is reached through the ctypes bindings of llama-cpp-python's source tree
and a libllama.so built from its vendored llama.cpp (see docs/engine.md):
  python3 engine/scripts/llama_cpp_crosscheck.py --engine target/release/bitnet-engine \
      --bindings /path/llama_cpp_python-0.3.36 --lib /path/llama.cpp/build/bin
Prints one JSON object; exits 1 if a check fails.
"""
import argparse
import importlib
import json
import math
import os
import subprocess
import sys
import tempfile
import types

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", required=True)
    ap.add_argument("--bindings", required=True, help="llama-cpp-python source dir (has llama_cpp/)")
    ap.add_argument("--lib", required=True, help="directory with libllama.so")
    ap.add_argument("--model", default="synthetic:tiny")
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--seed", default="42")
    ap.add_argument("--prompt", default="1,2,3,4")
    ap.add_argument("--act-quant", choices=["q8_k", "per-token"], default="q8_k",
                    help="bitnet-engine's activation quantisation: q8_k is llama.cpp's per-256-block "
                         "Q8_K (what its TQ2_0 matmul uses); per-token is BitNet b1.58's own")
    ap.add_argument("--kv-cache", choices=["f32", "f16"], default="f32",
                    help="llama.cpp's KV cache type (f32 as bitnet-engine's; f16 is llama.cpp's default)")
    ap.add_argument("--flash-attn", choices=["off", "auto"], default="off",
                    help="llama.cpp's flash attention (auto is its default; on the CPU it "
                         "accumulates V in F16, off keeps f32)")
    args = ap.parse_args()

    os.environ["LLAMA_CPP_LIB_PATH"] = args.lib
    # Only the ctypes layer is needed: register the package without running its
    # __init__ (which imports the high-level API and its extra dependencies).
    pkg = types.ModuleType("llama_cpp")
    pkg.__path__ = [os.path.join(args.bindings, "llama_cpp")]
    sys.modules["llama_cpp"] = pkg
    L = importlib.import_module("llama_cpp.llama_cpp")

    tmp = tempfile.mkdtemp(prefix="bitnet-xcheck-")
    gguf_path = os.path.join(tmp, "model.gguf")
    env = dict(os.environ, BITNET_SEED=args.seed)
    subprocess.run([args.engine, "export", "--model", args.model, "--format", "tq2_0",
                    "--activation", "silu", "--arch", "bitnet", "--out", gguf_path], check=True, env=env)
    logits_path = os.path.join(tmp, "ours.f32")
    out = subprocess.run([args.engine, "generate", "--model", gguf_path, "--prompt-ids", args.prompt,
                          "--tokens", str(args.steps), "--dump-logits", logits_path,
                          "--act-quant", args.act_quant],
                         check=True, env=env, capture_output=True, text=True)
    ours = [int(t) for t in out.stdout.strip().split(",")]
    prompt = [int(t) for t in args.prompt.split(",")]

    L.llama_backend_init()
    mp = L.llama_model_default_params()
    model = L.llama_model_load_from_file(gguf_path.encode(), mp)
    if not model:
        raise SystemExit("llama.cpp could not load the model")
    vocab = L.llama_model_get_vocab(model)
    n_vocab = L.llama_vocab_n_tokens(vocab)
    our_logits = np.fromfile(logits_path, dtype=np.float32).reshape(-1, n_vocab)

    def context():
        cp = L.llama_context_default_params()
        cp.n_ctx = 256
        cp.n_batch = 256
        cp.n_threads = cp.n_threads_batch = os.cpu_count() or 1
        kv = L.GGML_TYPE_F32 if args.kv_cache == "f32" else L.GGML_TYPE_F16
        cp.type_k = cp.type_v = kv
        if args.flash_attn == "off":
            cp.flash_attn_type = L.LLAMA_FLASH_ATTN_TYPE_DISABLED
        return L.llama_init_from_model(model, cp)

    def step(ctx, token):
        arr = (L.llama_token * 1)(token)
        if L.llama_decode(ctx, L.llama_batch_get_one(arr, 1)) != 0:
            raise SystemExit("llama_decode failed")
        ptr = L.llama_get_logits_ith(ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(n_vocab,)).copy()

    # 1. Free greedy generation in llama.cpp.
    ctx = context()
    for t in prompt:
        last = step(ctx, t)
    theirs = []
    for _ in range(args.steps):
        nxt = int(np.argmax(last))
        theirs.append(nxt)
        if len(theirs) < args.steps:
            last = step(ctx, nxt)
    L.llama_free(ctx)

    # 2. Teacher-forced logits on bitnet-engine's sequence.
    ctx = context()
    seq = prompt + ours[:-1]
    cos = []
    forced = []
    for i, t in enumerate(seq):
        lg = step(ctx, t)
        forced.append(lg)
        a, b = our_logits[i].astype(np.float64), lg.astype(np.float64)
        cos.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
    L.llama_free(ctx)
    L.llama_model_free(model)

    agree = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), len(ours))
    divergence = None
    if agree < len(ours):
        # Same history up to here, so the teacher-forced logits are llama.cpp's own.
        row = len(prompt) - 1 + agree
        mine, its = our_logits[row], forced[row]
        a, b = ours[agree], theirs[agree]
        divergence = {
            "step": agree,
            "bitnet_engine": {"picks": a, "logit_gap_to_other": float(mine[a] - mine[b])},
            "llama_cpp": {"picks": b, "logit_gap_to_other": float(its[b] - its[a])},
            "logit_std": float(np.std(mine)),
        }
    result = {
        "model": args.model, "seed": args.seed, "format": "tq2_0", "activation": "silu",
        "steps": args.steps, "bitnet_engine_act_quant": args.act_quant,
        "llama_cpp_kv_cache": args.kv_cache, "llama_cpp_flash_attn": args.flash_attn,
        "prompt": prompt, "bitnet_engine_tokens": ours, "llama_cpp_tokens": theirs,
        "tokens_identical": ours == theirs, "agreeing_prefix": agree, "first_divergence": divergence,
        "cosine_min": min(cos), "cosine_mean": sum(cos) / len(cos), "positions": len(cos),
        "cosine_per_position": [round(c, 7) for c in cos],
    }
    print(json.dumps(result, indent=1))
    ok = result["tokens_identical"] and result["cosine_min"] >= 0.99 and not math.isnan(result["cosine_min"])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

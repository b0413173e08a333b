// CUDA C kernels of bitnet-engine's `cuda` backend, compiled at run time by NVRTC
// (engine/src/cuda/compile.rs). No #include: NVRTC's builtins are enough, so the PyPI
// libnvrtc compiles this file with no CUDA toolkit installed.
//
// Each kernel mirrors a CPU scalar reference (named next to it). Where the CPU result
// is exact (quantisation, integer GEMV accumulation, scales) the GPU uses the same
// operations in the same order with explicit round-to-nearest intrinsics, so NVRTC
// cannot contract them into FMAs; reductions (norms, attention, lm_head) differ only
// in summation order.

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;

#define NEG_INF __int_as_float(0xff800000)

// f16 bits -> f32 without cuda_fp16.h.
__device__ __forceinline__ float f16_to_f32(u16 h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ int warp_sum_i(int v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Block-wide reductions; `sh` holds 32 floats. Every thread gets the result.
__device__ float block_sum(float v, float* sh) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();  // a previous reduction may still be reading sh
    if (lane == 0) sh[w] = v;
    __syncthreads();
    if (w == 0) {
        v = lane < nw ? sh[lane] : 0.0f;
        v = warp_sum(v);
        if (lane == 0) sh[0] = v;
    }
    __syncthreads();
    return sh[0];
}

__device__ float block_max(float v, float* sh) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    if (w == 0) {
        v = lane < nw ? sh[lane] : NEG_INF;
        v = warp_max(v);
        if (lane == 0) sh[0] = v;
    }
    __syncthreads();
    return sh[0];
}

__device__ int block_sum_i(int v, int* sh) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_sum_i(v);
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    if (w == 0) {
        v = lane < nw ? sh[lane] : 0;
        v = warp_sum_i(v);
        if (lane == 0) sh[0] = v;
    }
    __syncthreads();
    return sh[0];
}

// embedding_f16 / _f32 (CPU: Embedding::row_f32): x = E[token]. The token is read
// from device memory, where argmax left it.
extern "C" __global__ void embedding_f16(const u16* __restrict__ e, const int* __restrict__ tok,
                                         float* __restrict__ x, int hidden) {
    size_t row = (size_t)(*tok) * hidden;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < hidden; i += gridDim.x * blockDim.x)
        x[i] = f16_to_f32(e[row + i]);
}

extern "C" __global__ void embedding_f32(const float* __restrict__ e, const int* __restrict__ tok,
                                         float* __restrict__ x, int hidden) {
    size_t row = (size_t)(*tok) * hidden;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < hidden; i += gridDim.x * blockDim.x)
        x[i] = e[row + i];
}

// rmsnorm + quantize_i8_absmax in one block (CPU: ops::rmsnorm then
// ops::quantize_i8_absmax). y = (x * inv) * w with inv = 1 / sqrt(ss/n + eps);
// s = 127 / max(absmax(y), 1e-5); q = clamp(rint_half_even(y * s)). Writes q, the
// activation's inv_scale = 1/s and Σq (the I2_S GEMV subtracts it once per row).
extern "C" __global__ void rmsnorm_quantize(const float* __restrict__ x, const float* __restrict__ w,
                                            int n, float eps, signed char* __restrict__ q,
                                            float* __restrict__ qscale, int* __restrict__ qsum) {
    __shared__ float sh[32];
    __shared__ int shi[32];
    float ss = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) ss = fmaf(x[i], x[i], ss);
    ss = block_sum(ss, sh);
    float inv = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(__fdiv_rn(ss, (float)n), eps)));
    float amax = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        amax = fmaxf(amax, fabsf(__fmul_rn(__fmul_rn(x[i], inv), w[i])));
    amax = fmaxf(block_max(amax, sh), 1e-5f);
    float s = __fdiv_rn(127.0f, amax);
    int local = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        float y = __fmul_rn(__fmul_rn(x[i], inv), w[i]);
        int v = min(max(__float2int_rn(__fmul_rn(y, s)), -128), 127);
        q[i] = (signed char)v;
        local += v;
    }
    int total = block_sum_i(local, shi);
    if (threadIdx.x == 0) {
        *qscale = __fdiv_rn(1.0f, s);
        *qsum = total;
    }
}

// rmsnorm without quantisation (CPU: ops::rmsnorm), for the lm_head's input.
extern "C" __global__ void rmsnorm(const float* __restrict__ x, const float* __restrict__ w, int n,
                                   float eps, float* __restrict__ out) {
    __shared__ float sh[32];
    float ss = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) ss = fmaf(x[i], x[i], ss);
    ss = block_sum(ss, sh);
    float inv = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(__fdiv_rn(ss, (float)n), eps)));
    for (int i = threadIdx.x; i < n; i += blockDim.x) out[i] = __fmul_rn(__fmul_rn(x[i], inv), w[i]);
}

// Up to three matrices that share one activation (q/k/v, gate/up) in one launch: the
// global warp index walks the rows of matrix 0, then 1, then 2. One warp per row.
struct Gemv3 {
    const u8* w[3];
    float* out[3];
    int rows[3];
    float scale[3];
};

__device__ __forceinline__ bool pick_row(const Gemv3& m, int rr, const u8** w, float** out,
                                         float* scale, int* r) {
    for (int i = 0; i < 3; i++) {
        if (rr < m.rows[i]) {
            *w = m.w[i];
            *out = m.out[i];
            *scale = m.scale[i];
            *r = rr;
            return true;
        }
        rr -= m.rows[i];
    }
    return false;
}

// y = (Σ code·q − Σq) · (inv_scale · scale); with `accumulate`, out += y (the
// residual add). CPU: i2s::dot_scalar. I2_S block: byte g of 32 holds weights g,
// g+32, g+64, g+96 in bits 7:6, 5:4, 3:2, 1:0, so one u32 of codes, masked per bit
// pair, lines up with four contiguous activations: one __dp4a each. The integer
// sum is exact, so the result equals the CPU's bit for bit.
extern "C" __global__ void i2s_gemv(Gemv3 m, int cols, const signed char* __restrict__ q,
                                    const float* __restrict__ qscale, const int* __restrict__ qsum,
                                    int accumulate) {
    int warps = blockDim.x >> 5, lane = threadIdx.x & 31;
    int rr = blockIdx.x * warps + (threadIdx.x >> 5);
    const u8* w;
    float* out;
    float scale;
    int r;
    if (!pick_row(m, rr, &w, &out, &scale, &r)) return;
    // A row is cols/4 bytes, a multiple of 32, so 16-byte loads stay aligned.
    const uint4* row = (const uint4*)(w + (size_t)r * (cols >> 2));
    const int* qa = (const int*)q;
    int n16 = cols >> 6;  // 16-byte pieces: two per 128-weight block
    int acc = 0;
    for (int t = lane; t < n16; t += 32) {
        uint4 v = __ldg(row + t);
        u32 words[4] = {v.x, v.y, v.z, v.w};
        int b = t >> 1, g4 = (t & 1) * 4;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            u32 wv = words[j];
            // Activation word of weights 4(g4+j)..+3 (+32n) in block b.
            const int* qb = qa + b * 32 + g4 + j;
            acc = __dp4a((int)((wv >> 6) & 0x03030303u), __ldg(qb), acc);
            acc = __dp4a((int)((wv >> 4) & 0x03030303u), __ldg(qb + 8), acc);
            acc = __dp4a((int)((wv >> 2) & 0x03030303u), __ldg(qb + 16), acc);
            acc = __dp4a((int)(wv & 0x03030303u), __ldg(qb + 24), acc);
        }
    }
    acc = warp_sum_i(acc);
    if (lane == 0) {
        float y = __fmul_rn((float)(acc - *qsum), __fmul_rn(*qscale, scale));
        out[r] = accumulate ? __fadd_rn(out[r], y) : y;
    }
}

// TQ2_0 (CPU: tq2_0::dot_scalar): 66-byte blocks {qs[64]; f16 d}; in half j, byte
// 32j+m holds weight 128j+m+32n at bits 2n. A unit is 4 code bytes (2-byte aligned,
// as blocks are 66 bytes), i.e. 16 weights against 4 activation words; codes become
// signed with __vsub4 so every unit's integer sum is exact, then scaled by d.
extern "C" __global__ void tq2_gemv(Gemv3 m, int cols, const signed char* __restrict__ q,
                                    const float* __restrict__ qscale, const int* __restrict__ qsum,
                                    int accumulate) {
    (void)qsum;
    int warps = blockDim.x >> 5, lane = threadIdx.x & 31;
    int rr = blockIdx.x * warps + (threadIdx.x >> 5);
    const u8* w;
    float* out;
    float scale;
    int r;
    if (!pick_row(m, rr, &w, &out, &scale, &r)) return;
    int nb = cols >> 8;
    const u8* row = w + (size_t)r * nb * 66;
    const int* qa = (const int*)q;
    float acc = 0.0f;
    for (int u = lane; u < nb * 16; u += 32) {
        int b = u >> 4, k = u & 15;
        const u8* blk = row + b * 66;
        const u16* p = (const u16*)(blk + 4 * k);
        u32 wv = (u32)__ldg(p) | ((u32)__ldg(p + 1) << 16);
        int j = k >> 3, m0 = (k & 7) * 4;
        const int* qb = qa + ((b * 256 + 128 * j + m0) >> 2);
        int isum = 0;
#pragma unroll
        for (int n = 0; n < 4; n++) {
            u32 c = (wv >> (2 * n)) & 0x03030303u;
            isum = __dp4a((int)__vsub4(c, 0x01010101u), __ldg(qb + 8 * n), isum);
        }
        float d = f16_to_f32(__ldg((const u16*)(blk + 64)));
        acc = fmaf(d, (float)isum, acc);
    }
    acc = warp_sum(acc);
    if (lane == 0) {
        float y = __fmul_rn(acc, __fmul_rn(*qscale, scale));
        out[r] = accumulate ? __fadd_rn(out[r], y) : y;
    }
}

// RoPE NeoX on q and k (CPU: ops::rope_neox), then k and v stored at this position
// of the layer's KV cache (`kc`, `vc` point at the position's row). Angles in double,
// as the CPU computes them, then rounded to f32.
extern "C" __global__ void rope_store(float* __restrict__ q, float* __restrict__ k,
                                      const float* __restrict__ v, float* __restrict__ kc,
                                      float* __restrict__ vc, int heads, int kv_heads, int hd,
                                      int pos, float theta) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int half = hd >> 1;
    int kv_dim = kv_heads * hd;
    if (i < (heads + kv_heads) * half) {
        int h = i / half, p = i % half;
        float* vec = h < heads ? q + h * hd : k + (h - heads) * hd;
        double freq = pow((double)theta, -2.0 * (double)p / (double)hd);
        double sd, cd;
        sincos((double)pos * freq, &sd, &cd);
        float c = (float)cd, s = (float)sd;
        float u = vec[p], x = vec[p + half];
        float a = __fsub_rn(__fmul_rn(u, c), __fmul_rn(x, s));
        float b = __fadd_rn(__fmul_rn(u, s), __fmul_rn(x, c));
        vec[p] = a;
        vec[p + half] = b;
        if (h >= heads) {
            int o = (h - heads) * hd;
            kc[o + p] = a;
            kc[o + p + half] = b;
        }
    }
    if (i < kv_dim) vc[i] = v[i];
}

// Causal GQA decode attention over an f32 KV cache (CPU: ops::attention). One block
// per query head; query head h reads KV head h / (heads / kv_heads). Dynamic shared
// memory: head_dim + seq floats.
extern "C" __global__ void attention(const float* __restrict__ q, const float* __restrict__ kc,
                                     const float* __restrict__ vc, float* __restrict__ out,
                                     int heads, int kv_heads, int hd, int seq, float inv_sqrt) {
    extern __shared__ float sm[];
    __shared__ float red[32];
    float* qs = sm;
    float* sc = sm + hd;
    int h = blockIdx.x, kvh = h / (heads / kv_heads), kv_dim = kv_heads * hd;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int i = threadIdx.x; i < hd; i += blockDim.x) qs[i] = q[h * hd + i];
    __syncthreads();
    for (int t = warp; t < seq; t += nw) {
        const float* kr = kc + (size_t)t * kv_dim + kvh * hd;
        float d = 0.0f;
        for (int i = lane; i < hd; i += 32) d = fmaf(qs[i], kr[i], d);
        d = warp_sum(d);
        if (lane == 0) sc[t] = d * inv_sqrt;
    }
    __syncthreads();
    float mx = NEG_INF;
    for (int t = threadIdx.x; t < seq; t += blockDim.x) mx = fmaxf(mx, sc[t]);
    mx = block_max(mx, red);
    float sum = 0.0f;
    for (int t = threadIdx.x; t < seq; t += blockDim.x) {
        float e = expf(sc[t] - mx);
        sc[t] = e;
        sum += e;
    }
    sum = block_sum(sum, red);  // its barriers also publish sc
    float inv = 1.0f / sum;
    for (int i = threadIdx.x; i < hd; i += blockDim.x) {
        const float* vcol = vc + kvh * hd + i;
        float o = 0.0f;
        for (int t = 0; t < seq; t++) o = fmaf(sc[t], vcol[(size_t)t * kv_dim], o);
        out[h * hd + i] = o * inv;
    }
}

// gate = relu(gate)^2 * up (CPU: ops::relu2_gate).
extern "C" __global__ void relu2_gate(float* __restrict__ g, const float* __restrict__ u, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float r = fmaxf(g[i], 0.0f);
        g[i] = __fmul_rn(__fmul_rn(r, r), u[i]);
    }
}

// gate = silu(gate) * up (CPU: ops::silu_gate).
extern "C" __global__ void silu_gate(float* __restrict__ g, const float* __restrict__ u, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float x = g[i];
        g[i] = __fmul_rn(__fdiv_rn(x, __fadd_rn(1.0f, expf(-x))), u[i]);
    }
}

// logits = E · x over the tied F16 embedding (CPU: lm_head::dot_f16_scalar). One warp
// per row; 16-byte loads of eight halves when hidden % 8 == 0.
extern "C" __global__ void lm_head_f16(const u16* __restrict__ e, const float* __restrict__ x,
                                       float* __restrict__ out, int vocab, int hidden) {
    int warps = blockDim.x >> 5, lane = threadIdx.x & 31;
    int r = blockIdx.x * warps + (threadIdx.x >> 5);
    if (r >= vocab) return;
    const u16* row = e + (size_t)r * hidden;
    float acc = 0.0f;
    if ((hidden & 7) == 0) {
        const uint4* rp = (const uint4*)row;
        for (int i = lane; i < (hidden >> 3); i += 32) {
            uint4 v = __ldg(rp + i);
            const float4* xp = (const float4*)(x + i * 8);
            float4 a = __ldg(xp), b = __ldg(xp + 1);
            acc = fmaf(f16_to_f32((u16)(v.x & 0xffff)), a.x, acc);
            acc = fmaf(f16_to_f32((u16)(v.x >> 16)), a.y, acc);
            acc = fmaf(f16_to_f32((u16)(v.y & 0xffff)), a.z, acc);
            acc = fmaf(f16_to_f32((u16)(v.y >> 16)), a.w, acc);
            acc = fmaf(f16_to_f32((u16)(v.z & 0xffff)), b.x, acc);
            acc = fmaf(f16_to_f32((u16)(v.z >> 16)), b.y, acc);
            acc = fmaf(f16_to_f32((u16)(v.w & 0xffff)), b.z, acc);
            acc = fmaf(f16_to_f32((u16)(v.w >> 16)), b.w, acc);
        }
    } else {
        for (int i = lane; i < hidden; i += 32) acc = fmaf(f16_to_f32(row[i]), x[i], acc);
    }
    acc = warp_sum(acc);
    if (lane == 0) out[r] = acc;
}

// logits = E · x over an F32 embedding (CPU: lm_head::dot_f32_scalar).
extern "C" __global__ void lm_head_f32(const float* __restrict__ e, const float* __restrict__ x,
                                       float* __restrict__ out, int vocab, int hidden) {
    int warps = blockDim.x >> 5, lane = threadIdx.x & 31;
    int r = blockIdx.x * warps + (threadIdx.x >> 5);
    if (r >= vocab) return;
    const float* row = e + (size_t)r * hidden;
    float acc = 0.0f;
    for (int i = lane; i < hidden; i += 32) acc = fmaf(__ldg(row + i), __ldg(x + i), acc);
    acc = warp_sum(acc);
    if (lane == 0) out[r] = acc;
}

// Index of the largest logit, the first on ties (CPU: ops::argmax). One block; the
// token goes to device memory for the next step's embedding and to the host.
extern "C" __global__ void argmax(const float* __restrict__ x, int n, int* __restrict__ tok) {
    __shared__ float sv[32];
    __shared__ int si[32];
    float bv = NEG_INF;
    int bi = 0x7fffffff;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        float v = x[i];
        if (v > bv || bi == 0x7fffffff) {
            bv = v;
            bi = i;
        }
    }
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, bv, o);
        int oi = __shfl_xor_sync(0xffffffffu, bi, o);
        if (ov > bv || (ov == bv && oi < bi)) {
            bv = ov;
            bi = oi;
        }
    }
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    if (lane == 0) {
        sv[w] = bv;
        si[w] = bi;
    }
    __syncthreads();
    if (w == 0) {
        bv = lane < nw ? sv[lane] : NEG_INF;
        bi = lane < nw ? si[lane] : 0x7fffffff;
        for (int o = 16; o > 0; o >>= 1) {
            float ov = __shfl_xor_sync(0xffffffffu, bv, o);
            int oi = __shfl_xor_sync(0xffffffffu, bi, o);
            if (ov > bv || (ov == bv && oi < bi)) {
                bv = ov;
                bi = oi;
            }
        }
        if (lane == 0) *tok = bi;
    }
}

// Calibration: streams `n16` 16-byte pieces once (the weights a token reads), so the
// receipt's roofline comes from this device's measured read bandwidth.
extern "C" __global__ void stream_read(const uint4* __restrict__ p, unsigned long long n16,
                                       u32* __restrict__ sink) {
    u32 acc = 0;
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n16;
         i += (unsigned long long)gridDim.x * blockDim.x) {
        uint4 v = __ldg(p + i);
        acc ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    for (int o = 16; o > 0; o >>= 1) acc ^= __shfl_xor_sync(0xffffffffu, acc, o);
    if ((threadIdx.x & 31) == 0) atomicXor(sink, acc);
}

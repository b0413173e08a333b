//! `CudaBackend`: the decoder of `model::forward` on one CUDA device. Packed weights
//! are uploaded once into one device arena (so calibration can stream exactly the
//! bytes a token reads); every step is one named kernel launch, counted by id, with
//! its device time taken from CUDA events.
//!
//! Timing: an event is recorded on the stream before every counted launch and after
//! the last launch of a step; a kernel's time is the interval from its event to the
//! next one. The stream runs one kernel at a time, so the intervals tile the step's
//! device time (an idle gap while the host is still launching counts to the kernel
//! before it). Events are resolved outside the timed steps (`kernel_stats`, `begin`).

use std::collections::HashMap;
use std::sync::Arc;

use cudarc::driver::{
    CudaContext, CudaEvent, CudaFunction, CudaModule, CudaSlice, CudaStream, DevicePtr, DeviceRepr,
    DriverError, LaunchConfig, PushKernelArg, sys,
};

use super::compile;
use super::ids::GpuKernel;
use super::probe::GpuInfo;
use crate::bench::{Calibration, Decoder};
use crate::error::{EngineError, Result};
use crate::formats::{EmbeddingType, Format, TernaryMatrix};
use crate::kernels::KernelStat;
use crate::model::{Activation, Config, Model};

fn cuda(place: &'static str) -> impl Fn(DriverError) -> EngineError {
    move |e| EngineError::Cuda {
        place: place.to_string(),
        detail: format!("{e:?}"),
    }
}

/// `struct Gemv3` of kernels.cu: up to three matrices sharing one activation.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct Gemv3 {
    w: [u64; 3],
    out: [u64; 3],
    rows: [i32; 3],
    scale: [f32; 3],
}

// SAFETY: plain #[repr(C)] data with the field order, types and layout of the CUDA
// struct (3×8 + 3×8 + 3×4 + 3×4 bytes, 8-byte aligned).
unsafe impl DeviceRepr for Gemv3 {}

/// A kernel argument, as the kernels declare them.
enum Arg {
    Ptr(u64),
    Int(i32),
    F32(f32),
    U64(u64),
    Gemv(Gemv3),
}

#[derive(Clone, Copy, Debug)]
struct Mat {
    ptr: u64,
    rows: usize,
    scale: f32,
}

#[derive(Clone, Copy, Debug)]
struct LayerPtrs {
    attn_norm: u64,
    attn_sub_norm: u64,
    ffn_norm: u64,
    ffn_sub_norm: u64,
    wq: Mat,
    wk: Mat,
    wv: Mat,
    wo: Mat,
    gate: Mat,
    up: Mat,
    down: Mat,
}

/// Threads per block of the one-block reductions (norms, argmax).
const REDUCE_THREADS: u32 = 1024;
/// Warps (so rows) per block of the GEMVs and the lm_head.
const ROWS_PER_BLOCK: u32 = 8;
/// The static shared memory a block may use without opting in.
const SHARED_LIMIT: usize = 48 * 1024;

fn raw<T>(s: &CudaSlice<T>, stream: &CudaStream) -> u64 {
    let (p, _sync) = s.device_ptr(stream);
    p
}

fn grid(n: usize, per_block: u32) -> u32 {
    n.div_ceil(per_block as usize).max(1) as u32
}

fn cfg(grid: u32, block: u32, shared: u32) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (grid, 1, 1),
        block_dim: (block, 1, 1),
        shared_mem_bytes: shared,
    }
}

pub struct CudaBackend {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    _module: Arc<CudaModule>,
    funcs: HashMap<&'static str, CudaFunction>,
    pub info: GpuInfo,
    pub arch: &'static str,
    c: Config,
    format: Format,
    activation: Activation,
    emb_dtype: EmbeddingType,
    // Owned device memory; kernels get raw pointers into it.
    arena: CudaSlice<u8>,
    _norms: CudaSlice<f32>,
    _acts: Vec<CudaSlice<u8>>,
    cache: Option<(CudaSlice<f32>, CudaSlice<f32>)>,
    max_seq: usize,
    arena_ptr: u64,
    emb: u64,
    output_norm: u64,
    layers: Vec<LayerPtrs>,
    x: u64,
    xb: u64,
    q: u64,
    k: u64,
    v: u64,
    att: u64,
    gate: u64,
    up: u64,
    qa: u64,
    qscale: u64,
    qsum: u64,
    logits: u64,
    logits_buf: CudaSlice<f32>,
    tok: CudaSlice<i32>,
    sink: u64,
    kc: u64,
    vc: u64,
    /// The token id the device's `tok` buffer holds (argmax leaves it there).
    device_token: Option<u32>,
    counters: Vec<(u64, u64)>,
    events: Vec<CudaEvent>,
    /// Recorded events of the steps not yet resolved: (kernel, event index); `None`
    /// closes a step.
    marks: Vec<(Option<GpuKernel>, usize)>,
    sm_count: u32,
}

impl CudaBackend {
    /// Compiles the kernels for this device and uploads `m`'s packed weights.
    pub fn new(m: &Model, ctx: Arc<CudaContext>, info: GpuInfo) -> Result<Self> {
        let c = m.config.clone();
        match m.format {
            Format::I2s | Format::Tq2_0 => {}
            other => {
                return Err(EngineError::DeviceUnavailable(format!(
                    "the cuda backend has kernels for i2s and tq2_0; this model is {} (use --backend cpu)",
                    other.name()
                )));
            }
        }
        // One stream, raw pointers: cudarc's cross-stream event tracking only adds
        // work to every launch.
        // SAFETY: this backend uses a single stream, so no cross-stream ordering is lost.
        unsafe { ctx.disable_event_tracking() };
        let stream = ctx.default_stream();
        let (major, minor) = info.compute_capability;
        let arch = compile::arch_for(major, minor)?;
        let ptx = compile::ptx(arch)?;
        let module = ctx
            .load_module(ptx)
            .map_err(cuda("loading the PTX module"))?;
        let mut funcs = HashMap::new();
        for &name in super::KERNEL_NAMES {
            funcs.insert(
                name,
                module
                    .load_function(name)
                    .map_err(cuda("loading a kernel"))?,
            );
        }
        let sm_count = ctx
            .attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
            .map_err(cuda("reading the SM count"))? as u32;

        // The weight arena: every ternary matrix and the embedding, 256-byte aligned.
        let mut pieces: Vec<&[u8]> = Vec::new();
        for l in &m.layers {
            for (_, w) in l.matrices() {
                pieces.push(&w.data);
            }
        }
        pieces.push(&m.embedding.data);
        let mut offsets = Vec::with_capacity(pieces.len());
        let mut total = 0usize;
        for p in &pieces {
            offsets.push(total);
            total += p.len().next_multiple_of(256);
        }
        let mut arena = stream
            .alloc_zeros::<u8>(total)
            .map_err(cuda("allocating the weight arena"))?;
        for (p, &off) in pieces.iter().zip(&offsets) {
            stream
                .memcpy_htod(*p, &mut arena.slice_mut(off..off + p.len()))
                .map_err(cuda("uploading weights"))?;
        }
        let arena_ptr = raw(&arena, &stream);

        // Norm weights, f32, one buffer.
        let mut norms: Vec<f32> = Vec::new();
        let norm_off = |v: &[f32], norms: &mut Vec<f32>| {
            let at = norms.len();
            norms.extend_from_slice(v);
            norms.resize(norms.len().next_multiple_of(64), 0.0);
            at
        };
        let mut layer_norms = Vec::new();
        for l in &m.layers {
            let n = l.norms().map(|(_, v)| norm_off(v, &mut norms));
            layer_norms.push(n);
        }
        let out_norm_at = norm_off(&m.output_norm, &mut norms);
        let norms_d = stream
            .clone_htod(&norms)
            .map_err(cuda("uploading norm weights"))?;
        let norms_ptr = raw(&norms_d, &stream);
        let nptr = |at: usize| norms_ptr + 4 * at as u64;

        let mut next = 0usize;
        let mut mat = |w: &TernaryMatrix| {
            let ptr = arena_ptr + offsets[next] as u64;
            next += 1;
            Mat {
                ptr,
                rows: w.rows,
                scale: w.scale,
            }
        };
        let mut layers = Vec::with_capacity(m.layers.len());
        for (l, n) in m.layers.iter().zip(&layer_norms) {
            // Same order as `Layer::matrices`: q, k, v, o, gate, up, down.
            layers.push(LayerPtrs {
                attn_norm: nptr(n[0]),
                attn_sub_norm: nptr(n[1]),
                ffn_norm: nptr(n[2]),
                ffn_sub_norm: nptr(n[3]),
                wq: mat(&l.wq),
                wk: mat(&l.wk),
                wv: mat(&l.wv),
                wo: mat(&l.wo),
                gate: mat(&l.w_gate),
                up: mat(&l.w_up),
                down: mat(&l.w_down),
            });
        }
        let emb = arena_ptr + offsets[pieces.len() - 1] as u64;

        // Activations: f32 vectors, the int8 activation, its scale and sum, the logits.
        let widest = c.hidden.max(c.q_dim()).max(c.ffn);
        let sizes = [
            4 * c.hidden,                // x
            4 * widest,                  // xb
            4 * c.q_dim(),               // q
            4 * c.kv_dim(),              // k
            4 * c.kv_dim(),              // v
            4 * c.q_dim(),               // att
            4 * c.ffn,                   // gate
            4 * c.ffn,                   // up
            widest.next_multiple_of(16), // qa (int8)
            4,                           // qscale
            4,                           // qsum
            4,                           // sink
        ];
        let mut acts = Vec::with_capacity(sizes.len());
        let mut ptrs = Vec::with_capacity(sizes.len());
        for s in sizes {
            let b = stream
                .alloc_zeros::<u8>(s.next_multiple_of(256))
                .map_err(cuda("allocating activations"))?;
            ptrs.push(raw(&b, &stream));
            acts.push(b);
        }
        let logits_buf = stream
            .alloc_zeros::<f32>(c.vocab)
            .map_err(cuda("allocating the logits"))?;
        let logits_ptr = raw(&logits_buf, &stream);
        let tok = stream
            .alloc_zeros::<i32>(1)
            .map_err(cuda("allocating the token buffer"))?;
        Ok(CudaBackend {
            ctx,
            stream,
            _module: module,
            funcs,
            info,
            arch,
            format: m.format,
            activation: c.activation,
            emb_dtype: m.embedding.dtype,
            c,
            arena,
            _norms: norms_d,
            _acts: acts,
            cache: None,
            max_seq: 0,
            arena_ptr,
            emb,
            output_norm: nptr(out_norm_at),
            layers,
            x: ptrs[0],
            xb: ptrs[1],
            q: ptrs[2],
            k: ptrs[3],
            v: ptrs[4],
            att: ptrs[5],
            gate: ptrs[6],
            up: ptrs[7],
            qa: ptrs[8],
            qscale: ptrs[9],
            qsum: ptrs[10],
            logits: logits_ptr,
            logits_buf,
            sink: ptrs[11],
            tok,
            kc: 0,
            vc: 0,
            device_token: None,
            counters: vec![(0, 0); GpuKernel::ALL.len()],
            events: Vec::new(),
            marks: Vec::new(),
            sm_count,
        })
    }

    /// Records a timing event on the stream (see the module doc).
    fn mark(&mut self, id: Option<GpuKernel>) -> Result<()> {
        let i = self.marks.len();
        if i == self.events.len() {
            let e = self
                .ctx
                .new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT))
                .map_err(cuda("creating a timing event"))?;
            self.events.push(e);
        }
        self.events[i]
            .record(&self.stream)
            .map_err(cuda("recording a timing event"))?;
        self.marks.push((id, i));
        Ok(())
    }

    /// Adds the recorded intervals to the counters (waits for the stream).
    fn resolve_timing(&mut self) -> Result<()> {
        if self.marks.is_empty() {
            return Ok(());
        }
        self.stream
            .synchronize()
            .map_err(cuda("waiting for the stream"))?;
        for w in self.marks.windows(2) {
            if let (Some(id), a, b) = (w[0].0, w[0].1, w[1].1) {
                let ms = self.events[a]
                    .elapsed_ms(&self.events[b])
                    .map_err(cuda("reading a timing event"))?;
                self.counters[id as usize].1 += (ms as f64 * 1e6).round() as u64;
            }
        }
        self.marks.clear();
        Ok(())
    }

    /// Launches kernel `name` and counts it under `id`.
    fn launch(&mut self, id: GpuKernel, name: &str, lc: LaunchConfig, args: &[Arg]) -> Result<()> {
        self.mark(Some(id))?;
        self.counters[id as usize].0 += 1;
        self.launch_uncounted(name, lc, args)
    }

    fn launch_uncounted(&self, name: &str, lc: LaunchConfig, args: &[Arg]) -> Result<()> {
        let f = self.funcs.get(name).ok_or_else(|| EngineError::Cuda {
            place: "launch".into(),
            detail: format!("kernel {name} was not loaded"),
        })?;
        let mut b = self.stream.launch_builder(f);
        for a in args {
            match a {
                Arg::Ptr(v) | Arg::U64(v) => b.arg(v),
                Arg::Int(v) => b.arg(v),
                Arg::F32(v) => b.arg(v),
                Arg::Gemv(v) => b.arg(v),
            };
        }
        // SAFETY: every argument list below matches its kernel's signature in
        // kernels.cu, and every pointer points into a live buffer of this backend
        // sized for the model's shapes.
        unsafe { b.launch(lc) }.map_err(cuda("launching a kernel"))?;
        Ok(())
    }

    fn rmsnorm_quantize(&mut self, x: u64, w: u64, n: usize) -> Result<()> {
        let args = [
            Arg::Ptr(x),
            Arg::Ptr(w),
            Arg::Int(n as i32),
            Arg::F32(self.c.norm_eps),
            Arg::Ptr(self.qa),
            Arg::Ptr(self.qscale),
            Arg::Ptr(self.qsum),
        ];
        self.launch(
            GpuKernel::RmsnormQuantize,
            "rmsnorm_quantize",
            cfg(1, REDUCE_THREADS, 0),
            &args,
        )
    }

    /// out_i = W_i · qa for up to three matrices sharing the activation (one launch).
    fn gemv(&mut self, jobs: &[(Mat, u64)], cols: usize, accumulate: bool) -> Result<()> {
        let mut g = Gemv3::default();
        for (i, (m, out)) in jobs.iter().enumerate() {
            g.w[i] = m.ptr;
            g.out[i] = *out;
            g.rows[i] = m.rows as i32;
            g.scale[i] = m.scale;
        }
        let rows: usize = jobs.iter().map(|(m, _)| m.rows).sum();
        let (id, name) = match self.format {
            Format::Tq2_0 => (GpuKernel::Tq2Gemv, "tq2_gemv"),
            _ => (GpuKernel::I2sGemv, "i2s_gemv"),
        };
        let args = [
            Arg::Gemv(g),
            Arg::Int(cols as i32),
            Arg::Ptr(self.qa),
            Arg::Ptr(self.qscale),
            Arg::Ptr(self.qsum),
            Arg::Int(accumulate as i32),
        ];
        self.launch(
            id,
            name,
            cfg(grid(rows, ROWS_PER_BLOCK), 32 * ROWS_PER_BLOCK, 0),
            &args,
        )
    }

    /// x = embedding row of the token at device pointer `tok`.
    fn embedding(&mut self, tok: u64) -> Result<()> {
        let hidden = self.c.hidden;
        let name = match self.emb_dtype {
            EmbeddingType::F16 => "embedding_f16",
            EmbeddingType::F32 => "embedding_f32",
        };
        let args = [
            Arg::Ptr(self.emb),
            Arg::Ptr(tok),
            Arg::Ptr(self.x),
            Arg::Int(hidden as i32),
        ];
        self.launch(
            GpuKernel::Embedding,
            name,
            cfg(grid(hidden, 256), 256, 0),
            &args,
        )
    }

    /// RoPE on q and k, and k, v stored as row `pos` of the layer's caches.
    fn rope_store(&mut self, kc: u64, vc: u64, pos: usize) -> Result<()> {
        let c = &self.c;
        let (hd, kv_dim) = (c.head_dim, c.kv_dim());
        let row = (pos * kv_dim * 4) as u64;
        let pairs = (c.heads + c.kv_heads) * hd / 2;
        let args = [
            Arg::Ptr(self.q),
            Arg::Ptr(self.k),
            Arg::Ptr(self.v),
            Arg::Ptr(kc + row),
            Arg::Ptr(vc + row),
            Arg::Int(c.heads as i32),
            Arg::Int(c.kv_heads as i32),
            Arg::Int(hd as i32),
            Arg::Int(pos as i32),
            Arg::F32(c.rope_theta),
        ];
        self.launch(
            GpuKernel::Rope,
            "rope_store",
            cfg(grid(pairs.max(kv_dim), 256), 256, 0),
            &args,
        )
    }

    /// att = softmax(q·K/√d)·V over the layer's first `seq` cached rows, one block per
    /// head (its scores in shared memory).
    fn attention(&mut self, kc: u64, vc: u64, seq: usize) -> Result<()> {
        let c = &self.c;
        let hd = c.head_dim;
        let args = [
            Arg::Ptr(self.q),
            Arg::Ptr(kc),
            Arg::Ptr(vc),
            Arg::Ptr(self.att),
            Arg::Int(c.heads as i32),
            Arg::Int(c.kv_heads as i32),
            Arg::Int(hd as i32),
            Arg::Int(seq as i32),
            Arg::F32(1.0 / (hd as f32).sqrt()),
        ];
        self.launch(
            GpuKernel::Attention,
            "attention",
            cfg(c.heads as u32, 128, ((hd + seq) * 4) as u32),
            &args,
        )
    }

    /// gate = act(gate) · up, the model's activation.
    fn ffn_gate(&mut self) -> Result<()> {
        let ffn = self.c.ffn;
        let (id, name) = match self.activation {
            Activation::Relu2 => (GpuKernel::Relu2Gate, "relu2_gate"),
            Activation::Silu => (GpuKernel::SiluGate, "silu_gate"),
        };
        let args = [Arg::Ptr(self.gate), Arg::Ptr(self.up), Arg::Int(ffn as i32)];
        self.launch(id, name, cfg(grid(ffn, 256), 256, 0), &args)
    }

    /// out = rmsnorm(x) · w over `n` values (unquantised: the lm_head's input).
    fn rmsnorm(&mut self, x: u64, w: u64, n: usize, out: u64) -> Result<()> {
        let args = [
            Arg::Ptr(x),
            Arg::Ptr(w),
            Arg::Int(n as i32),
            Arg::F32(self.c.norm_eps),
            Arg::Ptr(out),
        ];
        self.launch(
            GpuKernel::Rmsnorm,
            "rmsnorm",
            cfg(1, REDUCE_THREADS, 0),
            &args,
        )
    }

    /// logits = E · xb over the tied embedding.
    fn lm_head(&mut self) -> Result<()> {
        let (vocab, hidden) = (self.c.vocab, self.c.hidden);
        let (id, name) = match self.emb_dtype {
            EmbeddingType::F16 => (GpuKernel::LmHeadF16, "lm_head_f16"),
            EmbeddingType::F32 => (GpuKernel::LmHeadF32, "lm_head_f32"),
        };
        let args = [
            Arg::Ptr(self.emb),
            Arg::Ptr(self.xb),
            Arg::Ptr(self.logits),
            Arg::Int(vocab as i32),
            Arg::Int(hidden as i32),
        ];
        self.launch(
            id,
            name,
            cfg(grid(vocab, ROWS_PER_BLOCK), 32 * ROWS_PER_BLOCK, 0),
            &args,
        )
    }

    /// The greedy token, written to device pointer `tok` (the next step's input).
    fn argmax(&mut self, tok: u64) -> Result<()> {
        let args = [
            Arg::Ptr(self.logits),
            Arg::Int(self.c.vocab as i32),
            Arg::Ptr(tok),
        ];
        self.launch(
            GpuKernel::Argmax,
            "argmax",
            cfg(1, REDUCE_THREADS, 0),
            &args,
        )
    }

    /// Puts `token` in `tok` unless the device already holds it (the last argmax).
    fn upload_token(&mut self, token: u32) -> Result<()> {
        if self.device_token != Some(token) {
            self.stream
                .memcpy_htod(&[token as i32][..], &mut self.tok)
                .map_err(cuda("uploading the token"))?;
            self.device_token = Some(token);
        }
        Ok(())
    }

    /// Waits for the step and reads the token the argmax wrote.
    fn download_token(&mut self) -> Result<u32> {
        let mut next = [0i32; 1];
        self.stream
            .memcpy_dtoh(&self.tok, &mut next[..])
            .map_err(cuda("reading the sampled token"))?;
        self.stream
            .synchronize()
            .map_err(cuda("waiting for the step"))?;
        let next = next[0] as u32;
        self.device_token = Some(next);
        Ok(next)
    }

    /// The forward pass of `model::forward` for `token` at `pos`, step by step; with
    /// `sample`, the lm_head and argmax too, returning the next token.
    fn forward(&mut self, token: u32, pos: usize, sample: bool) -> Result<Option<u32>> {
        let c = self.c.clone();
        if pos >= self.max_seq {
            return Err(EngineError::ContextOverflow {
                pos,
                limit: self.max_seq,
            });
        }
        if token as usize >= c.vocab {
            return Err(EngineError::TokenOutOfRange {
                token,
                vocab: c.vocab,
            });
        }
        self.upload_token(token)?;
        let tok = raw(&self.tok, &self.stream);
        self.embedding(tok)?;
        let layer_cache = (self.max_seq * c.kv_dim() * 4) as u64;
        for l in 0..self.layers.len() {
            let lw = self.layers[l];
            let kc = self.kc + l as u64 * layer_cache;
            let vc = self.vc + l as u64 * layer_cache;
            // Attention: q, k, v from the int8-quantised attn_norm(x).
            self.rmsnorm_quantize(self.x, lw.attn_norm, c.hidden)?;
            let qkv = [(lw.wq, self.q), (lw.wk, self.k), (lw.wv, self.v)];
            self.gemv(&qkv, c.hidden, false)?;
            self.rope_store(kc, vc, pos)?;
            self.attention(kc, vc, pos + 1)?;
            // x += o_proj(attn_sub_norm(att)).
            self.rmsnorm_quantize(self.att, lw.attn_sub_norm, c.q_dim())?;
            self.gemv(&[(lw.wo, self.x)], c.q_dim(), true)?;
            // FFN: x += down(ffn_sub_norm(act(gate) · up)) of ffn_norm(x).
            self.rmsnorm_quantize(self.x, lw.ffn_norm, c.hidden)?;
            self.gemv(&[(lw.gate, self.gate), (lw.up, self.up)], c.hidden, false)?;
            self.ffn_gate()?;
            self.rmsnorm_quantize(self.gate, lw.ffn_sub_norm, c.ffn)?;
            self.gemv(&[(lw.down, self.x)], c.ffn, true)?;
        }
        if !sample {
            self.mark(None)?;
            return Ok(None);
        }
        self.rmsnorm(self.x, self.output_norm, c.hidden, self.xb)?;
        self.lm_head()?;
        self.argmax(tok)?;
        self.mark(None)?;
        self.download_token().map(Some)
    }

    /// The logits of the last sampled step (for the CPU cross-check).
    fn read_logits(&self) -> Result<Vec<f32>> {
        let mut out = vec![0.0f32; self.c.vocab];
        self.stream
            .memcpy_dtoh(&self.logits_buf, &mut out[..])
            .map_err(cuda("reading the logits"))?;
        self.stream
            .synchronize()
            .map_err(cuda("waiting for the logits"))?;
        Ok(out)
    }

    /// Device read bandwidth: `passes` timed streams of the whole weight arena (the
    /// bytes a token reads, plus alignment padding), best pass kept.
    pub fn calibrate(&mut self, passes: usize) -> Result<Calibration> {
        let bytes = self.arena.len();
        let start = self
            .ctx
            .new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT))
            .map_err(cuda("creating a calibration event"))?;
        let end = self
            .ctx
            .new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT))
            .map_err(cuda("creating a calibration event"))?;
        let mut samples = Vec::new();
        for _ in 0..passes.max(1) {
            start
                .record(&self.stream)
                .map_err(cuda("recording a calibration event"))?;
            let args = [
                Arg::Ptr(self.arena_ptr),
                Arg::U64((bytes / 16) as u64),
                Arg::Ptr(self.sink),
            ];
            self.launch_uncounted("stream_read", cfg(self.sm_count * 8, 256, 0), &args)?;
            end.record(&self.stream)
                .map_err(cuda("recording a calibration event"))?;
            end.synchronize().map_err(cuda("waiting for calibration"))?;
            let ms = start
                .elapsed_ms(&end)
                .map_err(cuda("reading a calibration event"))? as f64;
            samples.push(bytes as f64 / (ms / 1e3) / 1e9);
        }
        Ok(Calibration {
            mem_bw_gbps: samples.iter().cloned().fold(0.0, f64::max),
            bytes_per_pass: bytes as u64,
            passes: samples.len(),
            samples_gbps: samples,
        })
    }
}

impl Decoder for CudaBackend {
    fn begin(&mut self, max_seq: usize) -> Result<()> {
        self.resolve_timing()?;
        if max_seq > self.c.context {
            return Err(EngineError::ContextOverflow {
                pos: max_seq.saturating_sub(1),
                limit: self.c.context,
            });
        }
        // attention_cuda keeps head_dim + seq scores in shared memory.
        if (self.c.head_dim + max_seq) * 4 + 128 > SHARED_LIMIT {
            return Err(EngineError::Config(format!(
                "attention_cuda holds the scores of a sequence in 48 KiB of shared memory: at most {} positions with head_dim {} (asked for {max_seq})",
                (SHARED_LIMIT - 128) / 4 - self.c.head_dim,
                self.c.head_dim
            )));
        }
        if max_seq > self.max_seq || self.cache.is_none() {
            let n = self.c.layers * max_seq * self.c.kv_dim();
            let kc = self
                .stream
                .alloc_zeros::<f32>(n)
                .map_err(cuda("allocating the KV cache"))?;
            let vc = self
                .stream
                .alloc_zeros::<f32>(n)
                .map_err(cuda("allocating the KV cache"))?;
            self.kc = raw(&kc, &self.stream);
            self.vc = raw(&vc, &self.stream);
            self.cache = Some((kc, vc));
        }
        // Positions are addressed with this run's max_seq; stale rows beyond `pos` are
        // never read (attention reads 0..=pos only).
        self.max_seq = max_seq;
        self.device_token = None;
        Ok(())
    }

    fn step(&mut self, token: u32, pos: usize, sample: bool) -> Result<Option<u32>> {
        self.forward(token, pos, sample)
    }

    fn logits(&mut self) -> Result<Vec<f32>> {
        self.read_logits()
    }

    fn kernel_stats(&mut self) -> Result<Vec<KernelStat>> {
        self.resolve_timing()?;
        Ok(GpuKernel::ALL
            .iter()
            .zip(&self.counters)
            .filter(|(_, (calls, _))| *calls > 0)
            .map(|(id, &(calls, total_ns))| KernelStat {
                id: id.name(),
                calls,
                total_ns,
            })
            .collect())
    }

    fn reset_stats(&mut self) -> Result<()> {
        self.resolve_timing()?;
        self.counters.iter_mut().for_each(|c| *c = (0, 0));
        Ok(())
    }
}

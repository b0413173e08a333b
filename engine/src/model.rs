//! The BitNet b1.58 decoder: config, weights, run state, and one `forward` for one
//! token that reads top to bottom like the paper. Every step is a named kernel call
//! through the dispatcher, so the receipt counts what ran. No I/O here.

use crate::error::{EngineError, Result};
use crate::formats::{Embedding, Format, TernaryMatrix};
use crate::kernels::{Dispatcher, QuantizedActivation, on_worker, ops::AttentionArgs};

/// The FFN gate activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// relu(gate)² · up — BitNet b1.58 2B-4T (`hidden_act = "relu2"`).
    Relu2,
    /// silu(gate) · up — older BitNet GGUFs and llama.cpp's `bitnet` architecture.
    Silu,
}

impl Activation {
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu2 => "relu2",
            Activation::Silu => "silu",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub hidden: usize,
    pub ffn: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub vocab: usize,
    pub context: usize,
    pub rope_theta: f32,
    pub norm_eps: f32,
    pub activation: Activation,
}

impl Config {
    pub fn kv_dim(&self) -> usize {
        self.kv_heads * self.head_dim
    }

    pub fn q_dim(&self) -> usize {
        self.heads * self.head_dim
    }

    /// Rejects shapes the decoder cannot run.
    pub fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(EngineError::Config(m));
        if self.hidden == 0 || self.layers == 0 || self.vocab == 0 || self.head_dim == 0 {
            return fail(format!("zero-sized dimension in {self:?}"));
        }
        if self.kv_heads == 0 || !self.heads.is_multiple_of(self.kv_heads) {
            return fail(format!(
                "heads {} must be a positive multiple of kv_heads {}",
                self.heads, self.kv_heads
            ));
        }
        if !self.head_dim.is_multiple_of(2) || self.head_dim > 512 {
            return fail(format!(
                "head_dim {} must be even and at most 512",
                self.head_dim
            ));
        }
        if self.context == 0 {
            return fail("context length is 0".into());
        }
        // q_dim and kv_dim are used unchecked from here on.
        for (what, n) in [("heads", self.heads), ("kv_heads", self.kv_heads)] {
            if n.checked_mul(self.head_dim).is_none() {
                return fail(format!("{what} {n} × head_dim {} overflows", self.head_dim));
            }
        }
        Ok(())
    }
}

/// Weights of one transformer block. Norm weights are f32 and small, so always owned.
#[derive(Debug)]
pub struct Layer {
    pub attn_norm: Vec<f32>,
    pub wq: TernaryMatrix,
    pub wk: TernaryMatrix,
    pub wv: TernaryMatrix,
    pub attn_sub_norm: Vec<f32>,
    pub wo: TernaryMatrix,
    pub ffn_norm: Vec<f32>,
    pub w_gate: TernaryMatrix,
    pub w_up: TernaryMatrix,
    pub ffn_sub_norm: Vec<f32>,
    pub w_down: TernaryMatrix,
}

impl Layer {
    pub fn matrices(&self) -> [(&'static str, &TernaryMatrix); 7] {
        [
            ("attn_q", &self.wq),
            ("attn_k", &self.wk),
            ("attn_v", &self.wv),
            ("attn_output", &self.wo),
            ("ffn_gate", &self.w_gate),
            ("ffn_up", &self.w_up),
            ("ffn_down", &self.w_down),
        ]
    }

    pub fn norms(&self) -> [(&'static str, &[f32]); 4] {
        [
            ("attn_norm", &self.attn_norm),
            ("attn_sub_norm", &self.attn_sub_norm),
            ("ffn_norm", &self.ffn_norm),
            ("ffn_sub_norm", &self.ffn_sub_norm),
        ]
    }
}

/// Where a model came from, for the receipt.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelSource {
    Synthetic { preset: String, seed: u64 },
    Gguf { path: std::path::PathBuf },
}

#[derive(Debug)]
pub struct Model {
    pub config: Config,
    pub format: Format,
    pub source: ModelSource,
    /// Token embedding, tied: also the output layer.
    pub embedding: Embedding,
    pub layers: Vec<Layer>,
    pub output_norm: Vec<f32>,
}

impl Model {
    /// Weight bytes a decoded token reads: every ternary matrix, the whole embedding
    /// (as the lm_head), one embedding row, and the norm weights.
    pub fn weight_bytes_per_token(&self) -> u64 {
        let c = &self.config;
        let ternary: usize = self
            .layers
            .iter()
            .flat_map(|l| l.matrices())
            .map(|(_, m)| m.byte_len())
            .sum();
        let norms = 4 * (c.hidden + c.layers * (2 * c.hidden + c.hidden + c.ffn));
        let row = c.hidden * self.embedding.dtype.size();
        (ternary + self.embedding.data.len() + row + norms) as u64
    }

    /// Bytes a decode step of a bench run reads, on average: the weights plus the K and
    /// V rows attention reads. The step at position p reads p + 1 rows of each per
    /// layer; a run of `tokens` steps after a `prompt`-token prompt covers positions
    /// prompt − 1 .. prompt + tokens − 2, so a step reads prompt + (tokens − 1)/2 rows on
    /// average (rounded to whole bytes). At the default 32 + 128 that is 1.2% of
    /// 2B-4T's weights; at a 2048-token prompt it is 27%, so a roofline without it
    /// would ask for the impossible.
    pub fn decode_bytes_per_token(&self, prompt: usize, tokens: usize) -> u64 {
        let c = &self.config;
        let row_pair = (2 * c.layers * c.kv_dim() * 4) as u64;
        let (p, t) = (prompt as u64, tokens.max(1) as u64);
        // Σ over steps of (p + i), i < t, as a mean: (2p + t − 1) / 2, rounded.
        let kv = (row_pair * (2 * p + t - 1)).div_ceil(2);
        self.weight_bytes_per_token() + kv
    }

    /// Bytes held by weights (what a loaded model occupies).
    pub fn weight_bytes(&self) -> u64 {
        let ternary: usize = self
            .layers
            .iter()
            .flat_map(|l| l.matrices())
            .map(|(_, m)| m.byte_len())
            .sum();
        let norms: usize = self
            .layers
            .iter()
            .flat_map(|l| l.norms())
            .map(|(_, n)| n.len() * 4)
            .sum();
        (ternary + self.embedding.data.len() + norms + self.output_norm.len() * 4) as u64
    }

    /// Parameter count: ternary weights + embedding + norm weights.
    pub fn params(&self) -> u64 {
        let ternary: usize = self
            .layers
            .iter()
            .flat_map(|l| l.matrices())
            .map(|(_, m)| m.rows * m.cols)
            .sum();
        let norms: usize = self
            .layers
            .iter()
            .flat_map(|l| l.norms())
            .map(|(_, n)| n.len())
            .sum();
        (ternary + self.embedding.vocab * self.embedding.hidden + norms + self.output_norm.len())
            as u64
    }
}

/// Activations and the KV cache for one sequence of up to `max_seq` tokens.
pub struct RunState {
    pub x: Vec<f32>,
    pub xb: Vec<f32>,
    pub xb2: Vec<f32>,
    pub q: Vec<f32>,
    pub k: Vec<f32>,
    pub v: Vec<f32>,
    pub att_out: Vec<f32>,
    pub gate: Vec<f32>,
    pub up: Vec<f32>,
    pub scores: Vec<f32>,
    /// Rotary angles of the current position.
    pub rope: Vec<(f32, f32)>,
    pub qa: QuantizedActivation,
    pub logits: Vec<f32>,
    /// [layer][kv_head][pos][head_dim], f32: each head's positions are one run, so
    /// attention streams them in order.
    pub key_cache: KvBuffer,
    pub value_cache: KvBuffer,
    pub max_seq: usize,
}

/// A zeroed f32 buffer in its own anonymous mapping, on huge pages where the kernel
/// allows. Attention walks each head's cached rows in order; on 4 KiB pages that
/// crosses a page every 8 rows, each a TLB miss and a stop for the hardware
/// prefetcher (it does not cross page boundaries).
pub struct KvBuffer {
    map: memmap2::MmapMut,
    len: usize,
}

impl KvBuffer {
    fn zeroed(len: usize) -> Result<Self> {
        let map = huge_anon_map((len * 4).max(1), "the KV cache")?;
        Ok(KvBuffer { map, len })
    }
}

/// A zeroed anonymous mapping of `bytes`, advised onto huge pages (Linux, where the
/// kernel allows): fewer TLB misses, and the prefetchers stream on across 4 KiB
/// boundaries. `what` names the memory in the error.
pub(crate) fn huge_anon_map(bytes: usize, what: &'static str) -> Result<memmap2::MmapMut> {
    let map = memmap2::MmapMut::map_anon(bytes).map_err(|source| EngineError::Memory {
        what,
        bytes: bytes as u64,
        source,
    })?;
    #[cfg(target_os = "linux")]
    let _ = map.advise(memmap2::Advice::HugePage);
    Ok(map)
}

impl std::ops::Deref for KvBuffer {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        // SAFETY: the mapping is page-aligned, at least `4 · len` bytes, zero-filled
        // at creation (a valid f32 bit pattern) and lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr() as *const f32, self.len) }
    }
}

impl std::ops::DerefMut for KvBuffer {
    fn deref_mut(&mut self) -> &mut [f32] {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.map.as_mut_ptr() as *mut f32, self.len) }
    }
}

impl RunState {
    pub fn new(c: &Config, max_seq: usize) -> Result<Self> {
        if max_seq > c.context {
            return Err(EngineError::ContextOverflow {
                pos: max_seq - 1,
                limit: c.context,
            });
        }
        let cache = c.layers * max_seq * c.kv_dim();
        Ok(RunState {
            x: vec![0.0; c.hidden],
            xb: vec![0.0; c.hidden.max(c.q_dim())],
            xb2: vec![0.0; c.hidden],
            q: vec![0.0; c.q_dim()],
            k: vec![0.0; c.kv_dim()],
            v: vec![0.0; c.kv_dim()],
            att_out: vec![0.0; c.q_dim()],
            gate: vec![0.0; c.ffn],
            up: vec![0.0; c.ffn],
            scores: vec![0.0; c.heads * max_seq],
            rope: Vec::with_capacity(c.head_dim / 2),
            qa: QuantizedActivation::default(),
            logits: vec![0.0; c.vocab],
            key_cache: KvBuffer::zeroed(cache)?,
            value_cache: KvBuffer::zeroed(cache)?,
            max_seq,
        })
    }

    /// Bytes of the KV cache as allocated.
    pub fn kv_cache_bytes(&self) -> u64 {
        ((self.key_cache.len() + self.value_cache.len()) * 4) as u64
    }

    /// Bytes of an f32 K and V cache for `max_seq` positions (the CPU's and the GPU's).
    pub fn kv_cache_bytes_for(c: &Config, max_seq: usize) -> u64 {
        (2 * c.layers * max_seq * c.kv_dim() * 4) as u64
    }
}

/// Runs one token at position `pos` through the decoder. With `want_logits`, fills
/// `s.logits`; prompt tokens whose logits nobody reads skip the lm_head.
pub fn forward(
    m: &Model,
    k: &Dispatcher,
    s: &mut RunState,
    token: u32,
    pos: usize,
    want_logits: bool,
) -> Result<()> {
    let c = &m.config;
    if pos >= s.max_seq || pos >= c.context {
        return Err(EngineError::ContextOverflow {
            pos,
            limit: s.max_seq.min(c.context),
        });
    }
    if token as usize >= c.vocab {
        return Err(EngineError::TokenOutOfRange {
            token,
            vocab: c.vocab,
        });
    }
    let (hidden, kv_dim, hd) = (c.hidden, c.kv_dim(), c.head_dim);

    k.embedding(&m.embedding, token as usize, &mut s.x);
    k.rope_table(hd, pos, c.rope_theta, &mut s.rope);

    for (l, layer) in m.layers.iter().enumerate() {
        // Attention: n = attn_norm(x); q, k, v from the int8-quantised n.
        k.rmsnorm(&mut s.xb[..hidden], &s.x, &layer.attn_norm, c.norm_eps);
        k.quantize(&s.xb[..hidden], &mut s.qa);
        k.gemv_fused(
            &s.qa,
            &mut [
                (&layer.wq, &mut s.q),
                (&layer.wk, &mut s.k),
                (&layer.wv, &mut s.v),
            ],
        );
        k.rope(&mut s.q, hd, &s.rope);
        k.rope(&mut s.k, hd, &s.rope);

        let span = l * s.max_seq * kv_dim..(l + 1) * s.max_seq * kv_dim;
        for (h, (kh, vh)) in s.k.chunks_exact(hd).zip(s.v.chunks_exact(hd)).enumerate() {
            let at = span.start + (h * s.max_seq + pos) * hd;
            s.key_cache[at..at + hd].copy_from_slice(kh);
            s.value_cache[at..at + hd].copy_from_slice(vh);
        }
        k.attention(
            AttentionArgs {
                q: &s.q,
                keys: &s.key_cache[span.clone()],
                values: &s.value_cache[span],
                pos,
                max_seq: s.max_seq,
                heads: c.heads,
                kv_heads: c.kv_heads,
                head_dim: hd,
            },
            &mut s.att_out,
            &mut s.scores,
        );

        // Sub-norm before the output projection, then the residual.
        k.rmsnorm(
            &mut s.xb[..c.q_dim()],
            &s.att_out,
            &layer.attn_sub_norm,
            c.norm_eps,
        );
        k.quantize(&s.xb[..c.q_dim()], &mut s.qa);
        k.gemv(&layer.wo, &s.qa, &mut s.xb2);
        k.residual_add(&mut s.x, &s.xb2);

        // FFN: m = ffn_norm(x); down(ffn_sub_norm(act(gate·m) ⊙ up·m)).
        k.rmsnorm(&mut s.xb[..hidden], &s.x, &layer.ffn_norm, c.norm_eps);
        k.quantize(&s.xb[..hidden], &mut s.qa);
        k.gemv_fused(
            &s.qa,
            &mut [(&layer.w_gate, &mut s.gate), (&layer.w_up, &mut s.up)],
        );
        k.ffn_gate(c.activation, &mut s.gate, &s.up);
        k.rmsnorm(&mut s.up, &s.gate, &layer.ffn_sub_norm, c.norm_eps);
        k.quantize(&s.up, &mut s.qa);
        k.gemv(&layer.w_down, &s.qa, &mut s.xb2);
        k.residual_add(&mut s.x, &s.xb2);
    }

    if want_logits {
        k.rmsnorm(&mut s.xb[..hidden], &s.x, &m.output_norm, c.norm_eps);
        k.lm_head(&m.embedding, &s.xb[..hidden], &mut s.logits);
    }
    Ok(())
}

/// Greedy generation: feeds `prompt`, then `n` new tokens. Returns the new token ids.
pub fn generate(m: &Model, k: &Dispatcher, prompt: &[u32], n: usize) -> Result<Vec<u32>> {
    on_worker(|| generate_inner(m, k, prompt, n))
}

fn generate_inner(m: &Model, k: &Dispatcher, prompt: &[u32], n: usize) -> Result<Vec<u32>> {
    if prompt.is_empty() {
        return Err(EngineError::Config(
            "the prompt needs at least one token".into(),
        ));
    }
    let mut s = RunState::new(&m.config, prompt.len() + n)?;
    let mut out = Vec::with_capacity(n);
    for (pos, &t) in prompt.iter().enumerate() {
        forward(m, k, &mut s, t, pos, pos + 1 == prompt.len())?;
    }
    let mut next = k.sample_greedy(&s.logits);
    for i in 0..n {
        out.push(next);
        if i + 1 < n {
            forward(m, k, &mut s, next, prompt.len() + i, true)?;
            next = k.sample_greedy(&s.logits);
        }
    }
    Ok(out)
}

/// [`generate`], also returning the logits after every position (prompt and generated,
/// `vocab` values each) for comparison with another engine.
pub fn generate_with_logits(
    m: &Model,
    k: &Dispatcher,
    prompt: &[u32],
    n: usize,
) -> Result<(Vec<u32>, Vec<f32>)> {
    on_worker(|| generate_with_logits_inner(m, k, prompt, n))
}

fn generate_with_logits_inner(
    m: &Model,
    k: &Dispatcher,
    prompt: &[u32],
    n: usize,
) -> Result<(Vec<u32>, Vec<f32>)> {
    if prompt.is_empty() || n == 0 {
        return Err(EngineError::Config(
            "the prompt and --tokens need at least one token each".into(),
        ));
    }
    let mut s = RunState::new(&m.config, prompt.len() + n)?;
    let mut logits = Vec::new();
    let mut out = Vec::with_capacity(n);
    let mut pos = 0;
    for &t in prompt {
        forward(m, k, &mut s, t, pos, true)?;
        logits.extend_from_slice(&s.logits);
        pos += 1;
    }
    loop {
        let next = k.sample_greedy(&s.logits);
        out.push(next);
        if out.len() == n {
            break;
        }
        forward(m, k, &mut s, next, pos, true)?;
        logits.extend_from_slice(&s.logits);
        pos += 1;
    }
    Ok((out, logits))
}

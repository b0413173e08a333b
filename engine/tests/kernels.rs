//! Every SIMD kernel equals its scalar reference on random inputs of awkward sizes.
//! Integer kernels must match exactly; float kernels within rounding.

use bitnet_engine::formats::{Bytes, Embedding, EmbeddingType, Format, TernaryMatrix};
use bitnet_engine::kernels::{ActQuant, Dispatcher, QuantizedActivation, SimdLevel, ops};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn activation(rng: &mut Rng, n: usize) -> QuantizedActivation {
    let q: Vec<i8> = (0..n).map(|_| rng.next() as i8).collect();
    let sums32: Vec<i32> = q
        .chunks(32)
        .map(|c| c.iter().map(|&v| v as i32).sum())
        .collect();
    QuantizedActivation {
        sum: sums32.iter().sum(),
        sums32,
        q,
        inv_scale: 0.013,
        block_scales: Vec::new(),
    }
}

/// Random bytes with each block's f16 scale set to a finite value.
fn random_matrix(rng: &mut Rng, format: Format, rows: usize, cols: usize) -> TernaryMatrix {
    let mut data = rng.bytes(rows * format.row_bytes(cols));
    let (block_bytes, at) = match format {
        Format::Tq2_0 => (66, Some(64)),
        Format::Bitnet32F16 => (10, Some(8)),
        _ => (1, None),
    };
    if let Some(at) = at {
        for b in data.chunks_exact_mut(block_bytes) {
            let d = half::f16::from_f32(0.01 + (rng.next() % 1000) as f32 / 1000.0);
            b[at..at + 2].copy_from_slice(&d.to_le_bytes());
        }
    }
    TernaryMatrix::new("test", format, rows, cols, Bytes::Owned(data), 0.7).unwrap()
}

fn levels() -> Vec<SimdLevel> {
    [SimdLevel::Avx2, SimdLevel::Avx512Vnni]
        .into_iter()
        .filter(|l| l.supported())
        .collect()
}

#[test]
fn gemv_simd_equals_scalar_on_awkward_sizes() {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let scalar = Dispatcher::new(SimdLevel::Scalar);
    for format in Format::ALL {
        for blocks in [1usize, 2, 3, 5, 7, 9, 27] {
            for rows in [1usize, 3, 17, 33, 70] {
                let cols = blocks * format.block().max(128);
                let m = random_matrix(&mut rng, format, rows, cols);
                let a = activation(&mut rng, cols);
                let mut want = vec![0.0; rows];
                scalar.gemv(&m, &a, &mut want);
                for level in levels() {
                    let d = Dispatcher::new(level);
                    let mut got = vec![0.0; rows];
                    d.gemv(&m, &a, &mut got);
                    for (r, (g, w)) in got.iter().zip(&want).enumerate() {
                        let exact = matches!(format, Format::I2s | Format::Qk256);
                        let ok = if exact {
                            g == w
                        } else {
                            (g - w).abs() <= 1e-4 * w.abs().max(1.0)
                        };
                        assert!(
                            ok,
                            "{} {:?} rows {rows} cols {cols} row {r}: {g} vs scalar {w}",
                            format.name(),
                            level
                        );
                    }
                }
            }
        }
    }
}

/// Fused GEMVs (q/k/v, gate/up) split their concatenated rows into one share per
/// thread, so a share can cover parts of several matrices: the result must be each
/// matrix's own GEMV, bit for bit, for any team size.
#[test]
fn fused_gemv_equals_separate_gemvs_for_any_team() {
    let mut rng = Rng(0x5eed);
    let cols = 3 * 128;
    let a = activation(&mut rng, cols);
    let scalar = Dispatcher::new(SimdLevel::Scalar);
    for rows in [[17usize, 5, 40], [1, 1, 1], [64, 3, 2]] {
        let ms: Vec<TernaryMatrix> = rows
            .iter()
            .map(|&r| random_matrix(&mut rng, Format::I2s, r, cols))
            .collect();
        let want: Vec<Vec<f32>> = ms
            .iter()
            .map(|m| {
                let mut o = vec![0.0; m.rows];
                scalar.gemv(m, &a, &mut o);
                o
            })
            .collect();
        for threads in [1, 2, 3, 5] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            for level in levels() {
                let mut got: Vec<Vec<f32>> = ms.iter().map(|m| vec![f32::NAN; m.rows]).collect();
                pool.install(|| {
                    let d = Dispatcher::new(level);
                    let mut jobs: Vec<(&TernaryMatrix, &mut [f32])> = ms
                        .iter()
                        .zip(got.iter_mut())
                        .map(|(m, o)| (m, o.as_mut_slice()))
                        .collect();
                    d.gemv_fused(&a, &mut jobs);
                });
                assert_eq!(got, want, "rows {rows:?}, {threads} threads, {level:?}");
            }
        }
    }
}

#[test]
fn lm_head_simd_equals_scalar_on_awkward_sizes() {
    let mut rng = Rng(12345);
    let scalar = Dispatcher::new(SimdLevel::Scalar);
    // 600 rows: more than one lm_head task, the last one partial.
    let shapes = [1usize, 7, 8, 15, 16, 17, 31, 33, 64, 100, 257]
        .into_iter()
        .flat_map(|h| [(h, 37), (h, 600)]);
    for (hidden, vocab) in shapes {
        let data: Vec<u8> = (0..vocab * hidden)
            .flat_map(|_| {
                let v = ((rng.next() % 2000) as f32 - 1000.0) / 700.0;
                half::f16::from_f32(v).to_le_bytes()
            })
            .collect();
        let e = Embedding {
            dtype: EmbeddingType::F16,
            vocab,
            hidden,
            data: Bytes::Owned(data),
        };
        let x: Vec<f32> = (0..hidden)
            .map(|_| ((rng.next() % 2000) as f32 - 1000.0) / 500.0)
            .collect();
        let mut want = vec![0.0; vocab];
        scalar.lm_head(&e, &x, &mut want);
        for level in levels() {
            let mut got = vec![0.0; vocab];
            Dispatcher::new(level).lm_head(&e, &x, &mut got);
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() <= 1e-4 * (hidden as f32).max(w.abs()),
                    "{level:?} hidden {hidden} vocab {vocab}: {g} vs {w}"
                );
            }
        }
    }
}

#[test]
fn packing_round_trips_through_dequantize() {
    let mut rng = Rng(777);
    for format in Format::ALL {
        let cols = 512;
        let values: Vec<i8> = (0..cols)
            .map(|_| match format {
                Format::Qk256 => [-2i8, -1, 1, 2][(rng.next() % 4) as usize],
                _ => (rng.next() % 3) as i8 - 1,
            })
            .collect();
        let scales = vec![0.5f32; cols / 32];
        let mut row = vec![0u8; format.row_bytes(cols)];
        match format {
            Format::I2s => bitnet_engine::formats::i2s::pack_row(&values, &mut row),
            Format::Tq2_0 => bitnet_engine::formats::tq2_0::pack_row(&values, &scales, &mut row),
            Format::Bitnet32F16 => {
                bitnet_engine::formats::bitnet32f16::pack_row(&values, &scales, &mut row)
            }
            Format::Qk256 => bitnet_engine::formats::qk256::pack_row(&values, &mut row),
        }
        let mut out = vec![0.0f32; cols];
        format.dequantize_row(&row, &mut out);
        let unit = match format {
            Format::Tq2_0 | Format::Bitnet32F16 => 0.5,
            _ => 1.0,
        };
        for (i, (&v, &o)) in values.iter().zip(&out).enumerate() {
            assert_eq!(v as f32 * unit, o, "{} element {i}", format.name());
        }
    }
}

/// The vectorised argmax picks what a left-to-right scan picks: the first of equal
/// maxima, never a NaN, and 0 when the first logit is NaN.
#[test]
fn argmax_matches_a_scan() {
    fn scan(x: &[f32]) -> u32 {
        let mut best = 0;
        for (i, &v) in x.iter().enumerate() {
            if v > x[best] {
                best = i;
            }
        }
        best as u32
    }
    let teams = [
        bitnet_engine::kernels::team::Team::new(2),
        bitnet_engine::kernels::team::Team::new(3),
    ];
    let mut rng = Rng(7);
    for n in [1, 2, 3, 15, 16, 17, 33, 100, 1000] {
        for case in 0..20 {
            let mut x: Vec<f32> = (0..n).map(|_| (rng.next() % 7) as f32 - 3.0).collect();
            if case % 4 == 1 {
                let i = rng.next() as usize % n;
                x[i] = f32::NAN;
            }
            if case % 4 == 2 {
                x[0] = f32::NAN;
            }
            if case % 4 == 3 {
                x.iter_mut().for_each(|v| *v = -0.0);
                let i = rng.next() as usize % n;
                x[i] = 0.0;
            }
            assert_eq!(ops::argmax(&x), scan(&x), "{x:?}");
            for team in &teams {
                assert_eq!(ops::argmax_on(team, &x), scan(&x), "{x:?}");
            }
        }
    }
}

/// Q8_K as ggml's `quantize_row_q8_K_ref`: per 256 values, the signed value of largest
/// magnitude maps to −127, q·d gives back x within half a step, and the TQ2_0 Q8_K dot
/// equals the dequantised dot within rounding.
#[test]
fn q8_k_activations_follow_ggml() {
    let mut rng = Rng(11);
    let x: Vec<f32> = (0..768)
        .map(|i| {
            let v = (rng.next() % 2001) as f32 / 100.0 - 10.0;
            if i < 256 {
                0.0
            } else {
                v * (1 + i / 256) as f32
            }
        })
        .collect();
    let mut a = QuantizedActivation::default();
    ops::quantize_q8_k(&x, &mut a);
    assert_eq!(a.block_scales.len(), 3);
    assert_eq!(a.block_scales[0], 0.0, "an all-zero block has d = 0");
    assert!(a.q[..256].iter().all(|&q| q == 0));
    for b in 1..3 {
        let xb = &x[256 * b..256 * (b + 1)];
        let i = (0..256).fold(0, |m, j| if xb[j].abs() > xb[m].abs() { j } else { m });
        assert_eq!(a.q[256 * b + i], -127);
        let d = a.block_scales[b];
        for (&q, &v) in a.q[256 * b..256 * (b + 1)].iter().zip(xb) {
            assert!((q as f32 * d - v).abs() <= d.abs() * 0.5001);
        }
    }
    assert_eq!(a.sum, a.q.iter().map(|&q| q as i32).sum::<i32>());

    let w = random_matrix(&mut rng, Format::Tq2_0, 5, 768);
    let k = Dispatcher::new(SimdLevel::Scalar).with_act_quant(ActQuant::Q8K);
    let mut got = vec![0.0; 5];
    k.gemv(&w, &a, &mut got);
    let mut deq = vec![0.0; 768];
    for (r, g) in got.iter().enumerate() {
        Format::Tq2_0.dequantize_row(w.row(r), &mut deq);
        let want: f64 = (0..768)
            .map(|j| deq[j] as f64 * (a.q[j] as f32 * a.block_scales[j / 256]) as f64)
            .sum::<f64>()
            * w.scale as f64;
        assert!(
            (*g as f64 - want).abs() <= 1e-3 * want.abs().max(1.0),
            "{g} vs {want}"
        );
    }
    assert!(k.check_model(Format::I2s).is_err());
    assert!(k.check_model(Format::Tq2_0).is_ok());
}

/// Grouped-query attention, for every grouping and awkward head sizes, gives exactly
/// what the textbook per-head loop gives (same sums in the same order), on one thread
/// and on a team of three.
#[test]
fn attention_equals_the_per_head_loop() {
    use bitnet_engine::kernels::team::Team;
    fn reference(a: &ops::AttentionArgs<'_>) -> Vec<f32> {
        let hd = a.head_dim;
        let row = |kvh: usize, t: usize| (kvh * a.max_seq + t) * hd..(kvh * a.max_seq + t + 1) * hd;
        let mut out = vec![0.0f32; a.heads * hd];
        for h in 0..a.heads {
            let kvh = h / (a.heads / a.kv_heads);
            let q = &a.q[h * hd..(h + 1) * hd];
            let mut att: Vec<f32> = (0..=a.pos)
                .map(|t| {
                    let k = &a.keys[row(kvh, t)];
                    ops::dot_f32(q, k) * (1.0 / (hd as f32).sqrt())
                })
                .collect();
            ops::softmax(&mut att);
            let o = &mut out[h * hd..(h + 1) * hd];
            for (t, &w) in att.iter().enumerate() {
                let v = &a.values[row(kvh, t)];
                for (oi, &vi) in o.iter_mut().zip(v) {
                    *oi += w * vi;
                }
            }
        }
        out
    }
    let mut rng = Rng(11);
    let mut val = move || (rng.next() % 2001) as f32 / 1000.0 - 1.0;
    let teams = [Team::new(1), Team::new(3)];
    for (heads, kv_heads) in [(1, 1), (4, 4), (6, 2), (20, 5), (9, 3), (8, 1)] {
        for head_dim in [1, 7, 8, 16, 45, 128] {
            for pos in [0, 1, 37] {
                let max_seq = 40;
                let cache = kv_heads * max_seq * head_dim;
                let q: Vec<f32> = (0..heads * head_dim).map(|_| val()).collect();
                let keys: Vec<f32> = (0..cache).map(|_| val()).collect();
                let values: Vec<f32> = (0..cache).map(|_| val()).collect();
                let args = || ops::AttentionArgs {
                    q: &q,
                    keys: &keys,
                    values: &values,
                    pos,
                    max_seq,
                    heads,
                    kv_heads,
                    head_dim,
                };
                let want = reference(&args());
                for team in &teams {
                    let mut out = vec![f32::NAN; heads * head_dim];
                    let mut scores = vec![0.0; heads * max_seq];
                    ops::attention(team, args(), &mut out, &mut scores);
                    let same = out
                        .iter()
                        .zip(&want)
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(
                        same,
                        "heads {heads}/{kv_heads}, head_dim {head_dim}, pos {pos}: {out:?} != {want:?}"
                    );
                }
            }
        }
    }
}

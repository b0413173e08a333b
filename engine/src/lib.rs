//! BitNet b1.58 reference engine (being built; see issue 4).

//! Envelope policies (DESIGN §4): the policy language (`cfg`), its codes
//! (`diags`), which envelope judges a receipt (`matching`), and judging
//! (`judge`). Takes typed receipts that have passed through the gates; it never
//! reads receipt files and never prints.

pub mod cfg;
pub mod diags;
pub mod judge;
pub mod matching;

pub use cfg::{
    Bounds, Envelope, EnvelopeStatus, KernelGlob, Pattern, RateRule, Tolerance, WhenKey,
};
pub use diags::EnvelopeCode;
pub use judge::{
    CONFIDENCE, EnvelopeFinding, EnvelopeRef, Judgement, RateJudgement, RooflineJudgement, judge,
};

//! receipt-policy: verify inference benchmark receipts, judge them against
//! envelope policies, and keep performance claims honest (see DESIGN.md).
//!
//! Data flows one way: receipt file → `receipt` → `gates` → `envelope` → `verdict` → `report`
//! (`check` wires gates and envelopes together for one receipt).

pub mod action;
pub mod artifact;
pub mod baseline;
pub mod check;
pub mod claims;
pub mod cli;
pub mod compare;
pub mod config;
pub mod conventions;
pub mod diff;
pub mod envelope;
pub mod gates;
#[cfg(feature = "github")]
pub mod github;
pub mod input;
pub mod measure;
pub mod receipt;
pub mod release;
pub mod report;
pub mod snippet;
pub mod stats;
pub mod verdict;
pub mod verify;

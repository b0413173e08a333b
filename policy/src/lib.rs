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
pub mod commands;
pub mod compare;
pub mod diff;
pub mod envelope;
pub mod gate;
pub mod gates;
#[cfg(feature = "github")]
pub mod github;
pub mod input;
pub mod receipt;
pub mod report;
pub mod snippet;
pub mod verdict;
pub mod verify;

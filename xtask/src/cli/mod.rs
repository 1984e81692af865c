//! The verbs of `cargo xtask`, one module each: each parses its arguments
//! and drives the pipeline; none is a library for another module.

pub mod bench;
pub mod boot;
pub mod check_series;
pub mod ci;
pub mod kernel;
pub mod mutants;
pub mod report;
pub mod test_matrix;

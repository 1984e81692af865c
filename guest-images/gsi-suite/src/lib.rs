//! The in-guest gsi suite: the checks (one library, so host tests can run
//! them against fake sysfs trees) and the console protocol lines. The
//! binary in `main.rs` only loads the plan and hands trials to libtest-mimic.

pub mod checks;
pub mod dump;
pub mod kernel_log;
pub mod report;
pub mod system;

//! The in-guest gsi suite: the checks (one library, so host tests can run
//! them against fake sysfs trees) and the console protocol lines. [`cli`]
//! loads the plan and hands the trials to libtest-mimic; `/init` runs it
//! when started as `/bin/gsi-suite`, so the guest carries one binary.

pub mod checks;
pub mod cli;
pub mod dump;
pub mod kernel_log;
pub mod report;
pub mod system;

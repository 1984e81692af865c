//! Plumbing every layer uses: child processes, locks, host tools, progress.

pub(crate) mod git;
pub(crate) mod lock;
pub(crate) mod process;
pub mod progress;
pub mod tools;

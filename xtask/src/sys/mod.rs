//! Plumbing every layer uses: child processes, locks, host tools, progress.

pub mod lock;
pub mod process;
pub mod progress;
pub mod tools;

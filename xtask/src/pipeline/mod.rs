//! The stages of a run, in the order data flows through them.

pub mod boot;
pub mod build;
pub mod console;
pub mod cpio;
pub mod differential;
pub mod git_range;
pub mod guest;
pub mod pin;
pub mod qemu;
pub mod results;
pub mod revision;
pub mod shard;

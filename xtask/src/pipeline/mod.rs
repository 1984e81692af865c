//! The stages of a run, in the order data flows through them (rustfmt
//! would sort one block of `mod`s, so each stage is its own block).

// What to run: a profile narrowed to revisions x topologies, and a CI
// job's slice of it.
pub mod selection;
pub(crate) mod shard;

// The pinned tree, each revision applied to it (shipped, or a range of a
// developer's git tree), and the kernel built from it.
/// What Debian's archive serves, and verified downloads from it.
pub(crate) mod debian;
pub mod pin;
pub(crate) mod xen;

pub mod revision;

pub(crate) mod git_range;

pub mod build;

// The guest: its binaries packed into an initramfs with the plan.
pub mod guest;

pub(crate) mod cpio;

// A topology's own ACPI tables, compiled and packed first in the initramfs.
pub(crate) mod acpi;

// One boot under QEMU, its console turned into a verdict.
pub(crate) mod qemu;

pub(crate) mod boot;

pub mod console;

// Reusing identical earlier boots, and the whole matrix run that ties the
// stages together (it compares each run with baseline through
// report::differential).
pub(crate) mod results;

pub mod run;

//! `cargo xtask kernel fetch|build`: the pin and the kernel builds on their
//! own, for a developer iterating on one revision.

use crate::pipeline::{build, pin, revision};
use crate::sys::progress::Progress;
use crate::sys::tools;
use anyhow::Result;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Download, verify and unpack the pinned tree (once per pin).
    Fetch {
        /// Fetch, verify and unpack the pinned hypervisor (configs/xen.toml)
        /// instead.
        #[arg(long)]
        xen: bool,
    },
    /// Apply and build revisions (default: every revision of the default profile).
    Build {
        /// Revision to build (repeatable).
        #[arg(long = "revision", short = 'r', value_name = "REV")]
        revisions: Vec<String>,
        /// Build the dom0 kernel (configs/xen.toml's fragments on top) that
        /// the topologies with a [hypervisor] table boot, and fetch Xen.
        #[arg(long)]
        dom0: bool,
    },
}

pub fn run(command: Command) -> Result<()> {
    let progress = Progress::start();
    let reporter = progress.reporter();
    let result = (|| -> Result<()> {
        if let Command::Fetch { xen: true } = command {
            let xen = crate::pipeline::xen::resolve(&crate::config::xen::path(), &reporter)?;
            reporter.note(format!(
                "xen: {} at {} (sha256 {})",
                xen.description,
                xen.elf.display(),
                xen.elf_sha256
            ));
            return Ok(());
        }
        tools::ensure(tools::BUILD, true, &reporter)?;
        let pin = pin::resolve(&crate::config::configs_dir().join("kernel.toml"), &reporter)?;
        reporter.note(format!(
            "pin: {} (linux {}) at {}",
            pin.description,
            pin.version,
            pin.repo.display()
        ));
        if let Command::Build { revisions, dom0 } = command {
            let selection =
                crate::pipeline::selection::select(None, &revisions, &["*".to_string()])?;
            let pin = if dom0 {
                let xen = crate::pipeline::xen::resolve(&crate::config::xen::path(), &reporter)?;
                reporter.note(format!("xen: {} at {}", xen.description, xen.elf.display()));
                pin.for_dom0(&xen)
            } else {
                pin
            };
            for rev in &selection.revisions {
                let b = build::build(&pin, rev, crate::pipeline::selection::cores(), &reporter)?;
                reporter.note(format!(
                    "{}: {} and the vmlinux QEMU boots beside it ({})",
                    rev.name,
                    b.bzimage.display(),
                    if b.cached { "cached" } else { "built" }
                ));
            }
        }
        let _ = revision::series_dir();
        Ok(())
    })();
    progress.finish();
    result
}

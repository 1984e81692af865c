//! `cargo xtask kernel fetch|build`: the pin and the kernel builds on their
//! own, for a developer iterating on one revision.

use crate::pipeline::{build, pin, revision};
use crate::sys::progress::Progress;
use crate::sys::tools;
use anyhow::Result;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Download, verify and unpack the pinned tree (once per pin).
    Fetch,
    /// Apply and build revisions (default: every revision of the default profile).
    Build {
        /// Revision to build (repeatable).
        #[arg(long = "revision", short = 'r', value_name = "REV")]
        revisions: Vec<String>,
    },
}

pub fn run(command: Command) -> Result<()> {
    let progress = Progress::start();
    let reporter = progress.reporter();
    let result = (|| -> Result<()> {
        tools::ensure(tools::BUILD, true, &reporter)?;
        let pin = pin::resolve(&crate::config::configs_dir().join("kernel.toml"), &reporter)?;
        reporter.note(format!(
            "pin: {} (linux {}) at {}",
            pin.description,
            pin.version,
            pin.repo.display()
        ));
        if let Command::Build { revisions } = command {
            let selection =
                crate::pipeline::selection::select(None, &revisions, &["*".to_string()])?;
            for rev in &selection.revisions {
                let b = build::build(&pin, rev, crate::pipeline::selection::cores(), &reporter)?;
                reporter.note(format!(
                    "{}: {} ({})",
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

//! The verbs of `cargo xtask`, one module each, and the command line that
//! dispatches to them. A verb parses its arguments, drives the pipeline
//! and prints; no verb is a library for another module.

pub(crate) mod bench;
pub(crate) mod boot;
pub mod check_series;
pub(crate) mod ci;
pub(crate) mod kernel;
pub(crate) mod mutants;
pub(crate) mod pin;
pub(crate) mod report;
pub(crate) mod test_matrix;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// The report files `test-matrix` and `report render` write besides the
/// JSON: the same flags for both.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct Outputs {
    /// Write JUnit XML here (one testsuite per run, one testcase per trial).
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Write the "Tested on" block as Markdown here (for a CI summary).
    #[arg(long, value_name = "PATH")]
    pub markdown: Option<PathBuf>,
    /// Write the "Tested on" block as plain text wrapped at 75 columns
    /// here, to paste under a cover letter.
    #[arg(long, value_name = "PATH")]
    pub tested_on: Option<PathBuf>,
}

impl Outputs {
    fn any(&self) -> bool {
        self.junit.is_some() || self.markdown.is_some() || self.tested_on.is_some()
    }

    /// Writes each rendering that was asked for.
    fn write(&self, report: &crate::report::Report) -> anyhow::Result<()> {
        let topologies = crate::config::topology::dir();
        if let Some(path) = &self.junit {
            crate::report::junit::write(report, &[], path)?;
        }
        if let Some(path) = &self.markdown {
            crate::report::markdown::write(report, &topologies, path)?;
        }
        if let Some(path) = &self.tested_on {
            crate::report::plain::write(report, &topologies, path)?;
        }
        Ok(())
    }
}

/// gsi-workbench: apply each revision of the PCI/sysfs gsi series to a
/// pinned kernel, build it, boot it under QEMU on many ACPI/IOAPIC
/// topologies and test the `gsi` attribute inside the guest.
#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    arg_required_else_help = true,
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Patch, build, boot and test every revision x topology of a profile.
    TestMatrix(test_matrix::Args),
    /// Fetch the pinned tree or build kernels without booting.
    #[command(subcommand)]
    Kernel(kernel::Command),
    /// The Debian pin against what the archive serves now; move it to a
    /// served build when the pinned one is gone.
    #[command(subcommand)]
    Pin(pin::Command),
    /// Boot one topology with the console on this terminal.
    Boot(boot::Args),
    /// Run the matrix on every mutant and say which topology killed it.
    Mutants(mutants::Args),
    /// Pre-submission checks of a revision: git am, build at every patch,
    /// checkpatch, subjects, sign-offs, changelog, range-diff, ABI docs,
    /// build-only configs, get_maintainer.
    CheckSeries(check_series::Args),
    /// What CI runs: fmt, clippy, unit tests, then real end-to-end boots.
    Ci(ci::Args),
    /// Re-render a JSON report (JUnit, Markdown, table) or merge CI shards.
    #[command(subcommand)]
    Report(report::Command),
    /// Measure the workbench: warm run, one-patch edit, per-boot seconds,
    /// QEMU and harness memory; opt-in: cold run, virtme-ng, flake rates.
    Bench(bench::Args),
}

/// Parses the command line, runs the verb, and exits: 0, 1 on an error,
/// 130 when Ctrl-C or SIGTERM stopped it.
pub fn main() -> ! {
    let cli = Cli::parse();
    crate::sys::process::install_handler();
    let result = match cli.command {
        Command::TestMatrix(args) => test_matrix::run(args),
        Command::Kernel(command) => kernel::run(command),
        Command::Pin(command) => pin::run(command),
        Command::Boot(args) => boot::run(args),
        Command::CheckSeries(args) => check_series::run(args),
        Command::Ci(args) => ci::run(args),
        Command::Mutants(args) => mutants::run(args),
        Command::Report(command) => report::run(command),
        Command::Bench(args) => bench::run(args),
    };
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        crate::sys::process::exit(1);
    }
    // While Ctrl-C is being handled, the handler decides the exit code.
    crate::sys::process::exit(0);
}

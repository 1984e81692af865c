//! Command line of the workbench: parse and dispatch, nothing else.

use clap::{Parser, Subcommand};
use xtask::cli::{
    bench, boot as boot_cmd, check_series, ci, kernel, mutants, report as report_cmd, test_matrix,
};

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
    /// Boot one topology with the console on this terminal.
    Boot(boot_cmd::Args),
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
    Report(report_cmd::Command),
    /// Measure the workbench: warm run, one-patch edit, per-boot seconds,
    /// QEMU and harness memory; opt-in: cold run, virtme-ng, flake rates.
    Bench(bench::Args),
}

fn main() {
    let cli = Cli::parse();
    xtask::sys::process::install_handler();
    let result = match cli.command {
        Command::TestMatrix(args) => test_matrix::run(args),
        Command::Kernel(command) => kernel::run(command),
        Command::Boot(args) => boot_cmd::run(args),
        Command::CheckSeries(args) => check_series::run(args),
        Command::Ci(args) => ci::run(args),
        Command::Mutants(args) => mutants::run(args),
        Command::Report(command) => report_cmd::run(command),
        Command::Bench(args) => bench::run(args),
    };
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        xtask::sys::process::exit(1);
    }
    // While Ctrl-C is being handled, the handler decides the exit code.
    xtask::sys::process::exit(0);
}

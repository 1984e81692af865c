//! `cargo xtask test-matrix`: the whole pipeline ([`crate::pipeline::run`])
//! over a profile, then the table, the failures and the reports; with
//! `--list`, the selection (plain or as a CI job matrix) without building.

use crate::pipeline::shard::{self, Format, Slice, Spec};
use crate::pipeline::{run, selection};
use crate::sys::progress::Progress;
use anyhow::{bail, Result};

#[derive(Debug, Clone, Default, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub run: run::Args,
    #[command(flatten)]
    pub outputs: super::Outputs,
    /// Print the selected revision x topology pairs and exit; builds nothing.
    #[arg(long)]
    pub list: bool,
    /// Output of --list: plain lines, or a GitHub or GitLab job matrix.
    #[arg(long, value_enum, default_value_t, requires = "list")]
    pub format: Format,
}

pub fn run(args: Args) -> Result<()> {
    if args.list {
        return list(&args);
    }
    let progress = Progress::start();
    let reporter = progress.reporter();
    let result = run::run_with(&args.run, &reporter);
    progress.finish();
    let report = result?;
    args.outputs.write(&report)?;
    print!("\n{}", report.table());
    if report.reused() > 0 {
        println!(
            "\n{} of {} runs reused the result of an identical earlier boot (--rerun boots them)",
            report.reused(),
            report.runs.len()
        );
    }
    let failures = report.failures();
    if !failures.is_empty() {
        println!();
        for line in &failures {
            println!("{line}");
        }
    }
    let bad = report
        .runs
        .iter()
        .filter(|r| !r.verdict.is_success())
        .count();
    if bad > 0 {
        bail!(
            "{bad} of {} runs did not pass (details above)",
            report.runs.len()
        );
    }
    println!("\nall {} runs passed", report.runs.len());
    Ok(())
}

/// `test-matrix --list`: resolve the selection like a run would, print it,
/// build nothing.
fn list(args: &Args) -> Result<()> {
    let selection = selection::select(
        args.run.profile.as_deref(),
        &args.run.revisions,
        &args.run.topologies,
    )?;
    if let Some(spec @ Spec::One { .. }) = args.run.shard {
        // Same checks as a run, so a bad slice fails at plan time.
        Slice::of_selection(Some(spec), &selection)?;
    }
    let (revisions, topologies) = shard::names(&selection);
    print!(
        "{}",
        shard::render(
            &shard::place(&revisions, &topologies, args.run.shard),
            args.format
        )
    );
    Ok(())
}

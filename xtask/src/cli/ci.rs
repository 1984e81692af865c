//! `cargo xtask ci`: everything CI checks, in the order a failure is
//! cheapest to find: formatting, lints, unit and integration tests, then
//! the end-to-end tests that build and boot real kernels.

use anyhow::{bail, Result};
use std::time::Instant;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Skip the end-to-end tests (kernel builds and QEMU boots).
    #[arg(long)]
    pub no_e2e: bool,
}

pub fn run(args: Args) -> Result<()> {
    let root = crate::project_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut steps: Vec<(&str, Vec<&str>)> = vec![
        ("format", vec!["fmt", "--all", "--", "--check"]),
        (
            "lints",
            vec![
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        ),
        ("tests", vec!["test", "--workspace"]),
    ];
    if !args.no_e2e {
        steps.push((
            "end-to-end (real kernel builds and QEMU boots)",
            vec![
                "test",
                "-p",
                "gsi-tests",
                "--",
                "--ignored",
                "--test-threads",
                "1",
                "--nocapture",
            ],
        ));
    }
    let total = Instant::now();
    // Everything the tests need, installed (as root) before the first step,
    // so a fresh machine gets the same run as this one.
    let progress = crate::sys::progress::Progress::start();
    let needed = [
        crate::sys::tools::BUILD,
        crate::sys::tools::BOOT,
        crate::sys::tools::TEST,
    ]
    .concat();
    let ensured = crate::sys::tools::ensure(&needed, true, &progress.reporter());
    progress.finish();
    ensured?;
    for (name, argv) in steps {
        println!("== ci: {name}: cargo {}", argv.join(" "));
        let started = Instant::now();
        // In a group of its own, registered: a SIGTERM to `ci` alone
        // stops the step's cargo, its tests and the harnesses they run.
        let status = crate::sys::process::Cmd::new(&cargo)
            .args(&argv)
            .dir(&root)
            .status()?;
        if !status.success() {
            bail!(
                "ci step `{name}` failed ({status}); rerun it alone: cargo {}",
                argv.join(" ")
            );
        }
        println!(
            "== ci: {name}: ok ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
    }
    println!(
        "== ci: all steps passed in {:.0} s",
        total.elapsed().as_secs_f64()
    );
    Ok(())
}

//! What the check-series test files share: the poster they post as, the
//! seeded series under tests/fixtures/series, a run that prints its whole
//! report (the test's output when it fails), and one check's whole text.
//! Included by path from xtask/tests and from tests/tests (another crate);
//! each file uses part of it.
#![allow(dead_code)]

use xtask::cli::check_series::{run_with, Args, Report};
use xtask::sys::progress::Reporter;

/// The poster every test posts as: a real-looking identity, so that the
/// fixtures' placeholder sign-offs are re-signed with it (this machine's
/// own git identity may well be a placeholder).
pub const POSTER: &str = "Ada Poster <ada.poster@mail.kernel-dev.org>";

/// `tests/fixtures/series/<name>`, as a revision argument.
pub fn fixture(name: &str) -> String {
    xtask::project_root()
        .join("tests/fixtures/series")
        .join(name)
        .display()
        .to_string()
}

/// `revision` checked as [`POSTER`] posts it.
pub fn posting(revision: impl Into<String>) -> Args {
    Args {
        identity: Some(POSTER.to_string()),
        ..Args::new(revision)
    }
}

/// Runs check-series in-process and prints its report.
pub fn run(args: Args) -> Report {
    let report = run_with(&args, &Reporter::silent())
        .unwrap_or_else(|err| panic!("check-series {} did not run: {err:#}", args.revision));
    println!(
        "{}",
        report.text(
            usize::MAX,
            std::path::Path::new("target/gsi/logs/check-series.json")
        )
    );
    report
}

/// One check's summary and evidence, as one text.
pub fn text(report: &Report, name: &str) -> String {
    let check = report.check(name);
    format!("{}\n{}", check.summary, check.evidence.join("\n"))
}

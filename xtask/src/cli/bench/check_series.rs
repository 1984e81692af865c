//! The `check-series` section (opt-in, `--check-series`): `check-series`
//! of the revision run twice in this process, every check timed. The
//! first run starts from cold `O=` dirs (every `.build-*` dir of the shared
//! check tree removed, so each build config is configured, prepared and
//! compiled again; ccache is shared with every other build and stays
//! warm, as it is on any machine that has built the pin before); the
//! second run is warm: nothing changed.

use crate::cli::check_series::{self, Args, Report};
use crate::sys::progress::Reporter;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// One check's time in one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckTime {
    pub name: String,
    pub status: String,
    pub secs: f64,
}

/// One whole `check-series` run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeriesRun {
    pub secs: f64,
    /// Load average before the run.
    pub load: String,
    pub failed: Vec<String>,
    pub checks: Vec<CheckTime>,
}

/// Cold `O=` dirs, then warm.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckSeriesBench {
    pub revision: String,
    /// The `O=` dirs removed before the first run.
    pub removed: Vec<String>,
    pub first: SeriesRun,
    pub warm: SeriesRun,
}

/// The identity the bench posts as (the shipped series is signed with a
/// placeholder on purpose; check-series re-signs it with this one).
const POSTER: &str = "Bench Poster <bench@kernel-dev.net>";

fn timed_run(revision: &str, reporter: &Reporter) -> Result<SeriesRun> {
    let load = super::loadavg();
    let started = Instant::now();
    let report: Report = check_series::run_with(
        &Args {
            identity: Some(POSTER.into()),
            ..Args::new(revision)
        },
        reporter,
    )?;
    Ok(SeriesRun {
        secs: super::round3(started.elapsed().as_secs_f64()),
        load,
        failed: report.failed().iter().map(|s| s.to_string()).collect(),
        checks: report
            .checks
            .iter()
            .map(|c| CheckTime {
                name: c.name.clone(),
                status: c.status.to_string(),
                secs: c.secs,
            })
            .collect(),
    })
}

pub(super) fn run(revision: &str, reporter: &Reporter) -> Result<CheckSeriesBench> {
    let pin =
        crate::pipeline::pin::resolve(&crate::config::configs_dir().join("kernel.toml"), reporter)?;
    let trees = crate::work_dir().join("trees").join(&pin.key);
    let tree = trees.join("check-series");
    let mut removed = Vec::new();
    {
        // The check tree's own lock: no check-series is building in it.
        let _lock =
            crate::sys::lock::Lock::acquire(&trees.join("check-series.build.lock"), reporter)?;
        for entry in std::fs::read_dir(&tree).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with(crate::pipeline::revision::BUILD_DIR_PREFIX) {
                std::fs::remove_dir_all(entry.path())
                    .with_context(|| format!("removing {}", entry.path().display()))?;
                removed.push(name);
            }
        }
    }
    reporter.stage(format!(
        "bench check-series {revision}: first run, {} O= dir(s) removed",
        removed.len()
    ));
    let first = timed_run(revision, reporter)?;
    reporter.stage(format!("bench check-series {revision}: warm run"));
    let warm = timed_run(revision, reporter)?;
    Ok(CheckSeriesBench {
        revision: revision.to_string(),
        removed,
        first,
        warm,
    })
}

/// The table's lines: the whole run, then each build check, first/warm.
pub fn rows(b: &CheckSeriesBench) -> Vec<(String, String)> {
    let mut rows = vec![(
        format!(
            "check-series {} (first: cold O= dirs; then warm)",
            b.revision
        ),
        format!(
            "{:.0} s / {:.0} s (load {} / {})",
            b.first.secs, b.warm.secs, b.first.load, b.warm.load
        ),
    )];
    for first in &b.first.checks {
        if first.secs < 1.0 {
            continue;
        }
        let warm = b
            .warm
            .checks
            .iter()
            .find(|c| c.name == first.name)
            .map_or("-".to_string(), |c| format!("{:.0} s", c.secs));
        rows.push((
            format!("  {} ({})", first.name, first.status),
            format!("{:.0} s / {warm}", first.secs),
        ));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(secs: f64, checks: &[(&str, f64)]) -> SeriesRun {
        SeriesRun {
            secs,
            load: "7.0 6.9 6.8".into(),
            failed: Vec::new(),
            checks: checks
                .iter()
                .map(|(name, secs)| CheckTime {
                    name: name.to_string(),
                    status: "PASS".into(),
                    secs: *secs,
                })
                .collect(),
        }
    }

    #[test]
    fn the_rows_pair_each_check_first_and_warm() {
        let b = CheckSeriesBench {
            revision: "rfc1".into(),
            removed: vec![".build-145e92f6c5ab".into()],
            first: run(1513.3, &[("subjects", 0.0), ("build-arm64", 451.2)]),
            warm: run(300.0, &[("subjects", 0.0), ("build-arm64", 20.4)]),
        };
        let rows = rows(&b);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0].1, "1513 s / 300 s (load 7.0 6.9 6.8 / 7.0 6.9 6.8)");
        assert_eq!(
            rows[1],
            (
                "  build-arm64 (PASS)".to_string(),
                "451 s / 20 s".to_string()
            )
        );
    }
}

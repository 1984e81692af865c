//! The `cold` section (opt-in): README's first command, `cargo xtask
//! test-matrix`, in a fresh clone of this checkout's HEAD (its own empty
//! `target/`, so cargo builds the harness and the guest crates from
//! nothing) with an empty work dir and ccache, as a subprocess. Its time
//! is split into cargo, pin, guest crates, kernel builds and boots from
//! its progress lines; the first kernel build of the run is the cold one
//! (an empty ccache), so the whole command over that build is a ratio
//! taken in one run.
//!
//! Not cold here, and said so in the report: the host's packages (they
//! are installed), cargo's registry of crate sources, and the pin's .deb
//! (hard-linked in: a download measures the network, not the machine).

use super::{round3, scratch_dir, Args, ColdRun, Setup};
use crate::sys::git::git;
use crate::sys::progress::Reporter;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::time::Instant;

/// `[  12.3s] text` of the plain progress output, as (seconds, text).
pub fn progress_line(line: &str) -> Option<(f64, &str)> {
    let rest = line.strip_prefix('[')?;
    let (secs, text) = rest.split_once("s] ")?;
    Some((secs.trim().parse().ok()?, text))
}

/// `... (12.3 s)` at the end of a line: the seconds.
fn trailing_secs(text: &str) -> Option<f64> {
    let inner = text.strip_suffix(" s)")?;
    inner.rsplit('(').next()?.trim().parse().ok()
}

/// The cold run's time split from its progress lines. `first_line_s`: the
/// host's seconds (since the command started) when the first progress
/// line came: cargo's build of the harness before it.
pub fn cold_split(lines: &[String], command: &str, first_line_s: Option<f64>) -> ColdRun {
    let mut run = ColdRun {
        command: command.into(),
        secs: 0.0,
        xtask_build_s: first_line_s.map(round3),
        pin_s: None,
        guest_s: None,
        builds: Vec::new(),
        boots: 0,
        verdicts: BTreeMap::new(),
        exit: None,
    };
    for (_, text) in lines.iter().filter_map(|l| progress_line(l)) {
        if text.starts_with("pin: ") && text.contains(" is linux ") {
            run.pin_s = trailing_secs(text);
        } else if let Some(rest) = text.strip_prefix("guest: built ") {
            // The guest builds while the pin unpacks: its own figure.
            run.guest_s = run.guest_s.or(trailing_secs(rest));
        } else if let Some(rest) = text.strip_prefix("build ") {
            if let Some((rev, outcome)) = rest.split_once(": built ") {
                if let Some(secs) = trailing_secs(outcome) {
                    run.builds.push((rev.to_string(), secs));
                }
            }
        } else if let Some(rest) = text.strip_prefix("boot ") {
            // `boot rev/topo: verdict (1.2 s)`; a reused result is no boot.
            if let Some((_, outcome)) = rest.split_once(": ") {
                if !outcome.contains("(reused from") {
                    let verdict = outcome.split_whitespace().next().unwrap_or("");
                    run.boots += 1;
                    *run.verdicts.entry(verdict.to_string()).or_insert(0) += 1;
                }
            }
        }
    }
    run
}

pub(super) fn cold(args: &Args, setup: &Setup, reporter: &Reporter) -> Result<ColdRun> {
    let mut matrix_args = vec!["test-matrix".to_string(), "--no-install".into()];
    if let Some(run) = &args.cold_run {
        let (rev, topo) = run
            .split_once('/')
            .context("--cold-run takes REV/TOPO, e.g. rfc1/q35")?;
        matrix_args.extend(["-r".into(), rev.into(), "-t".into(), topo.into()]);
    }
    let command = format!("cargo xtask {}", matrix_args.join(" "));
    reporter.stage(format!(
        "bench cold: `{command}` in a fresh clone, empty target/, work dir and ccache \
         (a cold kernel build, the other revisions from ccache, every boot: 10-40 min on 2 cores)"
    ));
    let dir = scratch_dir("cold")?;
    let src = dir.join("src");
    let root = crate::project_root();
    git(
        &root,
        &[
            "clone",
            "--quiet",
            "--no-hardlinks",
            ".",
            &src.display().to_string(),
        ],
    )
    .context("cloning this checkout for the cold run")?;
    let work = dir.join("work");
    if let crate::config::kernel::Source::Debian {
        package, version, ..
    } = &setup.pin.source
    {
        let name = format!("{package}_{}.deb", version.replace(':', "%3a"));
        let deb = crate::work_dir().join("downloads").join(&name);
        let to = work.join("downloads");
        std::fs::create_dir_all(&to)?;
        if std::fs::hard_link(&deb, to.join(&name)).is_err() {
            std::fs::copy(&deb, to.join(&name)).with_context(|| {
                format!("copying the pin's .deb {} for the cold run", deb.display())
            })?;
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let started = Instant::now();
    let handle = crate::sys::process::Cmd::new(cargo)
        .arg("xtask")
        .args(&matrix_args)
        .dir(&src)
        .env("GSI_WORK_DIR", &work)
        .env_remove("GSI_PATCHES_DIR")
        .env_remove("GSI_GUEST_TARGET_DIR")
        .env_remove("CARGO_TARGET_DIR")
        .stderr_to_stdout()
        .reader()
        .context("starting the cold test-matrix")?;
    let mut lines = Vec::new();
    let mut first_line_s = None;
    {
        use std::io::BufRead;
        for line in std::io::BufReader::new(&handle)
            .lines()
            .map_while(Result::ok)
        {
            if first_line_s.is_none() {
                if let Some((own, _)) = progress_line(&line) {
                    first_line_s = Some(started.elapsed().as_secs_f64() - own);
                }
            }
            reporter.note(format!("cold | {line}"));
            lines.push(line);
        }
    }
    crate::sys::process::park_if_interrupted();
    let secs = started.elapsed().as_secs_f64();
    let exit = handle.try_wait()?.and_then(|o| o.status.code());
    let mut run = cold_split(&lines, &command, first_line_s);
    run.secs = round3(secs);
    run.exit = exit;
    let _ = std::fs::remove_dir_all(&dir);
    if run.builds.is_empty() {
        bail!(
            "the cold run built no kernel (exit {exit:?}); its last lines:\n{}",
            lines[lines.len().saturating_sub(15)..].join("\n")
        );
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cold_split_comes_from_progress_lines() {
        let lines: Vec<String> = [
            "[    0.0s] == test-matrix: 4 revision(s) x 2 topology(ies)",
            "[    0.1s] guest: building the static /init and suite",
            "[    0.1s] == pin: preparing linux-source-6.12 6.12.117-1~deb12u1 (once per pin)",
            "[   70.2s] guest: built (70.1 s)",
            "[   95.2s] pin: linux-source-6.12 6.12.117-1~deb12u1 is linux 6.12.117 at 5fdc7cc8c49b (95 s)",
            "[   97.3s] == build and boot",
            "[   97.4s] build baseline: started",
            "[ 1297.4s] build baseline: built (1200.0 s)",
            "[ 1297.5s] build v4: started",
            "[ 1301.0s] boot baseline/q35: passed (3.4 s)",
            "[ 1302.0s] boot baseline/microvm: passed (1.0 s)",
            "[ 1302.1s] boot v4/pc: passed (reused from x; --rerun boots it)",
            "[ 1400.0s] build v4: built (102.5 s)",
            "[ 1402.0s] boot v4/q35: test-failed (3.0 s)",
        ]
        .map(String::from)
        .to_vec();
        let mut run = cold_split(&lines, "cargo xtask test-matrix", Some(61.5));
        assert_eq!(run.xtask_build_s, Some(61.5));
        assert_eq!(run.pin_s, Some(95.0));
        assert_eq!(run.guest_s, Some(70.1));
        assert_eq!(
            run.builds,
            vec![("baseline".to_string(), 1200.0), ("v4".to_string(), 102.5)]
        );
        assert_eq!(run.cold_build_s(), Some(1200.0));
        assert_eq!(run.boots, 3);
        assert_eq!(run.verdicts.get("passed"), Some(&2));
        assert_eq!(run.verdicts.get("test-failed"), Some(&1));
        run.secs = 1800.0;
        assert_eq!(run.ratio(), Some(1.5));
        assert_eq!(progress_line("no prefix"), None);
    }
}

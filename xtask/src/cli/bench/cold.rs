//! The `cold` section (opt-in): `test-matrix` for one revision x topology
//! as a subprocess in an empty work dir (only the pin's .deb), split into
//! pin, guest crates, kernel build and boot from its progress lines.

use super::{round3, scratch_dir, Args, ColdRun, Setup};
use crate::sys::progress::Reporter;
use anyhow::{bail, Context, Result};
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

/// The cold run's time split from its progress lines.
pub fn cold_split(lines: &[String], revision: &str, topology: &str) -> ColdRun {
    let mut run = ColdRun {
        revision: revision.into(),
        topology: topology.into(),
        secs: 0.0,
        pin_s: None,
        guest_s: None,
        build_s: None,
        boot_s: None,
        verdict: "none".into(),
        exit: None,
    };
    let mut guest_start = None;
    let boot_prefix = format!("boot {revision}/{topology}: ");
    let build_prefix = format!("build {revision}: built ");
    for (at, text) in lines.iter().filter_map(|l| progress_line(l)) {
        if text.starts_with("pin: ") && text.contains(" is linux ") {
            run.pin_s = trailing_secs(text);
        } else if text.starts_with("guest: building") {
            guest_start = Some(at);
        } else if text == "== build and boot" {
            run.guest_s = guest_start.map(|g| round3(at - g));
        } else if text.starts_with(&build_prefix) {
            run.build_s = trailing_secs(text);
        } else if let Some(rest) = text.strip_prefix(&boot_prefix) {
            run.boot_s = trailing_secs(text);
            run.verdict = rest.split_whitespace().next().unwrap_or("").to_string();
        }
    }
    run
}

pub(super) fn cold(args: &Args, setup: &Setup, reporter: &Reporter) -> Result<ColdRun> {
    let run = match &args.cold_run {
        Some(run) => run.clone(),
        None => format!("{}/q35", setup.revision.name),
    };
    let (rev, topo) = run
        .split_once('/')
        .context("--cold-run takes REV/TOPO, e.g. v5/q35")?;
    reporter.stage(format!(
        "bench cold: test-matrix -r {rev} -t {topo} in an empty work dir and ccache \
         (a full kernel build: 15-40 min on 2 cores; progress below)"
    ));
    let dir = scratch_dir("cold")?;
    if let crate::config::kernel::Source::Debian {
        package, version, ..
    } = &setup.pin.source
    {
        let name = format!("{package}_{}.deb", version.replace(':', "%3a"));
        let deb = crate::work_dir().join("downloads").join(&name);
        let to = dir.join("downloads");
        std::fs::create_dir_all(&to)?;
        if std::fs::hard_link(&deb, to.join(&name)).is_err() {
            std::fs::copy(&deb, to.join(&name)).with_context(|| {
                format!("copying the pin's .deb {} for the cold run", deb.display())
            })?;
        }
    }
    let exe = std::env::current_exe().context("finding the xtask binary")?;
    let argv = ["test-matrix", "-r", rev, "-t", topo, "--no-install"];
    let started = Instant::now();
    let handle = crate::sys::process::Cmd::new(&exe)
        .args(argv)
        .env("GSI_WORK_DIR", &dir)
        .env_remove("GSI_PATCHES_DIR")
        .stderr_to_stdout()
        .reader()
        .context("starting the cold test-matrix")?;
    let mut lines = Vec::new();
    {
        use std::io::BufRead;
        for line in std::io::BufReader::new(&handle)
            .lines()
            .map_while(Result::ok)
        {
            reporter.note(format!("cold | {line}"));
            lines.push(line);
        }
    }
    crate::sys::process::park_if_interrupted();
    let secs = started.elapsed().as_secs_f64();
    let exit = handle.try_wait()?.and_then(|o| o.status.code());
    let mut run = cold_split(&lines, rev, topo);
    run.secs = round3(secs);
    run.exit = exit;
    let _ = std::fs::remove_dir_all(&dir);
    if run.build_s.is_none() {
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
            "[    0.0s] == test-matrix: 1 revision(s) x 1 topology(ies)",
            "[    0.1s] == pin: preparing linux-source-6.12 6.12.117-1~deb12u1 (once per pin)",
            "[   95.2s] pin: linux-source-6.12 6.12.117-1~deb12u1 is linux 6.12.117 at 5fdc7cc8c49b (95 s)",
            "[   95.3s] guest: building the static /init and suite",
            "[   97.3s] == build and boot",
            "[   97.4s] build v5: started",
            "[ 1297.4s] build v5: built (1200.0 s)",
            "[ 1301.0s] boot v5/q35: passed (3.4 s)",
        ]
        .map(String::from)
        .to_vec();
        let run = cold_split(&lines, "v5", "q35");
        assert_eq!(run.pin_s, Some(95.0));
        assert_eq!(run.guest_s, Some(2.0));
        assert_eq!(run.build_s, Some(1200.0));
        assert_eq!(run.boot_s, Some(3.4));
        assert_eq!(run.verdict, "passed");
        assert_eq!(progress_line("no prefix"), None);
    }
}

//! Results of earlier boots, reused when nothing that decides a verdict
//! changed: the same kernel image, initramfs (suite, /init and plan),
//! topology file, QEMU command line and binary, accelerator, timeout and
//! expected-failure entries. `test-matrix --rerun` boots anyway.
//!
//! Only verdicts the guest's suite itself reached are stored: `passed` and
//! `test-failed` (the suite ran to its END; its trials are a function of
//! the inputs above). Everything else boots again next time, because it
//! can come from the host rather than the kernel: a timeout or a `flaky`
//! pass (TCG under load), a QEMU that failed to start or was killed (OOM,
//! Ctrl-C), a suite cut off mid-run, a boot that ended early, even a
//! kernel panic (an overloaded TCG guest can fail the IO-APIC timer check
//! and panic), and a developer looking at a failure wants to see it
//! happen. A run that needed its retry is not stored either.
//!
//! A record also names the code that judged its console
//! ([`crate::pipeline::console::judge_identity`]): a change to the judge or to the
//! protocol makes every stored verdict boot again, with one line saying
//! why, instead of replaying what older code concluded.
//!
//! One result is `results/<key>.json` (the run record and the inputs) and
//! the console log it names, `results/<key>.<sha>.log`; both are written
//! to a temporary file and renamed, the log first. A record that does not
//! parse, names other inputs, or whose log is missing or changed is
//! ignored (with a warning) and the boot runs again.

use crate::report::Run;
use crate::report::Verdict;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Bumped when the meaning of a stored field changes, so results written
/// by older code are not reused. (A change to the console judge needs no
/// bump: each record names the judge that made it.)
pub const LAYOUT: u32 = 1;

/// What decides one boot's verdict, as `name value` lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    lines: Vec<String>,
}

impl Inputs {
    pub fn new() -> Inputs {
        Inputs::default()
    }

    /// Adds one input; a value spanning lines is kept whole.
    pub fn with(mut self, name: &str, value: impl std::fmt::Display) -> Inputs {
        self.lines.push(format!("{name} {value}"));
        self
    }

    /// The store key: a hash of the layout and every input.
    pub fn key(&self) -> String {
        let mut text = format!("results layout {LAYOUT}\n");
        for line in &self.lines {
            text.push_str(&format!("{}\n{line}\n", line.len()));
        }
        crate::sha256_hex(text.as_bytes())[..24].to_string()
    }
}

/// Whether a finished boot may be reused later (see the module text).
pub fn storable(run: &Run, retried: bool) -> bool {
    !retried
        && run.reused_from.is_none()
        && matches!(run.verdict, Verdict::Passed | Verdict::TestFailed)
}

/// The identity of the QEMU binary on PATH: its path, size and mtime
/// (a package update changes them). The binary is not run for this.
pub fn qemu_identity() -> String {
    let Some(path) = crate::sys::tools::find_on_path(crate::pipeline::qemu::QEMU) else {
        return "missing".into();
    };
    let meta = std::fs::metadata(&path).ok();
    let mtime = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{} {} {mtime}", path.display(), meta.map_or(0, |m| m.len()))
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    layout: u32,
    inputs: Vec<String>,
    /// [`crate::pipeline::console::judge_identity`] of the code that judged it;
    /// empty in records written before judges were named.
    #[serde(default)]
    judge: String,
    /// The log directory of the run that booted it (`run-<time>-<pid>`).
    booted_in: String,
    /// The console log's file name beside this record, and its sha256.
    log: String,
    log_sha256: String,
    run: Run,
}

/// A stored result, found.
#[derive(Debug)]
pub struct Stored {
    pub run: Run,
    pub booted_in: String,
    /// The stored console log.
    pub log: PathBuf,
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    Hit(Box<Stored>),
    Miss,
    /// A whole record, judged by other code than this; the reason.
    Stale(String),
    /// A record is there but cannot be trusted; the reason.
    Damaged(String),
}

/// The directory of stored results.
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// `target/gsi/results`.
    pub fn open() -> Store {
        Store::at(crate::work_dir().join("results"))
    }

    pub fn at(dir: PathBuf) -> Store {
        Store { dir }
    }

    fn record_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// The result stored for `inputs`, if it is whole.
    pub fn lookup(&self, inputs: &Inputs) -> Lookup {
        let path = self.record_path(&inputs.key());
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
            Err(err) => return Lookup::Damaged(format!("{}: {err}", path.display())),
        };
        let damaged = |why: String| Lookup::Damaged(format!("{}: {why}", path.display()));
        let record: Record = match serde_json::from_slice(&text) {
            Ok(record) => record,
            Err(err) => return damaged(format!("not a stored result ({err})")),
        };
        if record.layout != LAYOUT || record.inputs != inputs.lines {
            return damaged("its inputs are not the ones its name says".into());
        }
        let judge = crate::pipeline::console::judge_identity();
        if record.judge != judge {
            let old = if record.judge.is_empty() {
                "a judge that did not record its identity".to_string()
            } else {
                format!("judge {}", record.judge)
            };
            return Lookup::Stale(format!(
                "the stored result was judged by {old}, this is judge {judge}"
            ));
        }
        let log = self.dir.join(&record.log);
        if record.log.contains('/') || !record.log.ends_with(".log") {
            return damaged(format!("names the log {:?}", record.log));
        }
        match crate::sha256_file(&log) {
            Ok(sum) if sum == record.log_sha256 => {}
            Ok(_) => return damaged(format!("its log {} changed", log.display())),
            Err(_) => return damaged(format!("its log {} is missing", log.display())),
        }
        Lookup::Hit(Box::new(Stored {
            run: record.run,
            booted_in: record.booted_in,
            log,
        }))
    }

    /// Stores `run` (booted in the log directory `booted_in`, console log
    /// at `log`) for `inputs`: the log first, then the record naming it.
    pub fn save(&self, inputs: &Inputs, run: &Run, log: &Path, booted_in: &str) -> Result<()> {
        let key = inputs.key();
        let bytes = std::fs::read(log).with_context(|| format!("reading {}", log.display()))?;
        let sum = crate::sha256_hex(&bytes);
        let log_name = format!("{key}.{}.log", &sum[..16]);
        crate::write_atomic(&self.dir.join(&log_name), &bytes)?;
        let previous = std::fs::read(self.record_path(&key))
            .ok()
            .and_then(|t| serde_json::from_slice::<Record>(&t).ok())
            .map(|r| r.log);
        let record = Record {
            layout: LAYOUT,
            inputs: inputs.lines.clone(),
            judge: crate::pipeline::console::judge_identity(),
            booted_in: booted_in.to_string(),
            log: log_name.clone(),
            log_sha256: sum,
            run: run.clone(),
        };
        crate::write_atomic(
            &self.record_path(&key),
            serde_json::to_string_pretty(&record)?.as_bytes(),
        )?;
        // The log of the record just replaced (a --rerun).
        if let Some(old) = previous.filter(|old| *old != log_name && !old.contains('/')) {
            let _ = std::fs::remove_file(self.dir.join(old));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Trial, TrialOutcome};

    fn run(verdict: Verdict) -> Run {
        Run {
            revision: "v5".into(),
            topology: "q35".into(),
            verdict,
            boot_s: 2.5,
            log: "target/gsi/logs/run-1-1/v5/q35.console.log".into(),
            trials: vec![Trial {
                name: "rng-s03::gsi-bound".into(),
                outcome: TrialOutcome::Passed,
                message: String::new(),
            }],
            detail: String::new(),
            sysfs: [("0000:00:03.0/irq".to_string(), "11".to_string())].into(),
            sysfs_after: Default::default(),
            differential: Default::default(),
            reused_from: None,
        }
    }

    fn inputs() -> Inputs {
        Inputs::new()
            .with("kernel", "aa")
            .with("initramfs", "bb")
            .with("timeout", 60)
    }

    #[test]
    fn every_input_changes_the_key() {
        let key = inputs().key();
        assert_eq!(key, inputs().key(), "the key is a function of the inputs");
        for changed in [
            Inputs::new()
                .with("kernel", "ab")
                .with("initramfs", "bb")
                .with("timeout", 60),
            Inputs::new()
                .with("kernel", "aa")
                .with("initramfs", "bc")
                .with("timeout", 60),
            Inputs::new()
                .with("kernel", "aa")
                .with("initramfs", "bb")
                .with("timeout", 61),
            Inputs::new().with("kernel", "aa").with("initramfs", "bb"),
            // The same text split differently is another key.
            Inputs::new()
                .with("kernel", "aa\ninitramfs bb")
                .with("timeout", 60),
        ] {
            assert_ne!(changed.key(), key, "{changed:?}");
        }
    }

    #[test]
    fn only_verdicts_the_suite_reached_are_stored() {
        assert!(storable(&run(Verdict::Passed), false));
        assert!(storable(&run(Verdict::TestFailed), false));
        assert!(
            !storable(&run(Verdict::Passed), true),
            "it needed the retry"
        );
        for verdict in [
            Verdict::Flaky,
            Verdict::Timeout,
            Verdict::KernelPanic,
            Verdict::SuiteCrashed,
            Verdict::BootFailed,
            Verdict::HypervisorFailed,
            Verdict::QemuFailed,
            Verdict::ApplyFailed,
            Verdict::BuildFailed,
        ] {
            assert!(!storable(&run(verdict), false), "{verdict:?}");
        }
        let reused = Run {
            reused_from: Some("run-1-1".into()),
            ..run(Verdict::Passed)
        };
        assert!(!storable(&reused, false));
    }

    #[test]
    fn a_saved_result_comes_back_and_a_damaged_one_is_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::at(tmp.path().join("results"));
        let log = tmp.path().join("q35.console.log");
        std::fs::write(&log, "$ qemu-system-x86_64 ...\n@@GSI-DONE 0\n").unwrap();
        assert!(matches!(store.lookup(&inputs()), Lookup::Miss));
        store
            .save(&inputs(), &run(Verdict::Passed), &log, "run-1-1")
            .unwrap();
        let Lookup::Hit(found) = store.lookup(&inputs()) else {
            panic!("no hit")
        };
        assert_eq!(found.booted_in, "run-1-1");
        assert_eq!(found.run.trials, run(Verdict::Passed).trials);
        assert_eq!(found.run.sysfs, run(Verdict::Passed).sysfs);
        assert_eq!(
            std::fs::read(&found.log).unwrap(),
            std::fs::read(&log).unwrap()
        );
        let other = inputs().with("accel", "kvm");
        assert!(matches!(store.lookup(&other), Lookup::Miss));

        // The log changed after it was stored.
        std::fs::write(&found.log, "something else\n").unwrap();
        let Lookup::Damaged(why) = store.lookup(&inputs()) else {
            panic!("a changed log was trusted")
        };
        assert!(why.contains("changed"), "{why}");
        // The log is gone.
        std::fs::remove_file(&found.log).unwrap();
        assert!(matches!(store.lookup(&inputs()), Lookup::Damaged(w) if w.contains("missing")));

        // Stored again (a rerun), then the record itself cut short.
        store
            .save(&inputs(), &run(Verdict::TestFailed), &log, "run-2-2")
            .unwrap();
        let Lookup::Hit(found) = store.lookup(&inputs()) else {
            panic!("no hit")
        };
        assert_eq!(found.run.verdict, Verdict::TestFailed);
        let record = store.record_path(&inputs().key());
        let text = std::fs::read(&record).unwrap();
        std::fs::write(&record, &text[..text.len() / 2]).unwrap();
        assert!(
            matches!(store.lookup(&inputs()), Lookup::Damaged(w) if w.contains("not a stored result"))
        );

        // A record moved under another key: its inputs give it away.
        std::fs::write(&record, &text).unwrap();
        let moved = store.record_path(&other.key());
        std::fs::copy(&record, &moved).unwrap();
        assert!(matches!(store.lookup(&other), Lookup::Damaged(w) if w.contains("inputs")));
    }

    #[test]
    fn a_rerun_replaces_the_stored_log() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("results");
        let store = Store::at(dir.clone());
        let log = tmp.path().join("log");
        std::fs::write(&log, "first\n").unwrap();
        store
            .save(&inputs(), &run(Verdict::Passed), &log, "run-1-1")
            .unwrap();
        std::fs::write(&log, "second\n").unwrap();
        store
            .save(&inputs(), &run(Verdict::Passed), &log, "run-2-2")
            .unwrap();
        let logs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
            .collect();
        assert_eq!(logs.len(), 1);
        assert_eq!(std::fs::read_to_string(logs[0].path()).unwrap(), "second\n");
    }
}

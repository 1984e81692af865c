//! The `edit` section: one added line in a message string of one patch
//! (in a scratch copy of the series), then the matrix again as a
//! developer runs it (unchanged results reused): seconds to the edited
//! revision's first verdict and to the last verdict of its row, which
//! revisions rebuilt, which objects make compiled. The row's time over
//! (its incremental build + its boots' seconds / jobs) is the edit-to-row
//! ratio: 1 when nothing waits idle and boots start as soon as their
//! kernel exists.

use super::warm::{build_profile, matrix_args, timed_matrix};
use super::{round3, scratch_dir, Args, EditRun, Setup};
use crate::pipeline::{build, revision, selection};
use crate::sys::progress::{Event, Reporter};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// The edit the edit run makes: in the first added line of a `.c` file
/// that holds a string literal (a message), `bench-<nonce> ` goes in
/// right after the opening quote, so the object really changes and
/// compiles (a comment alone would be a ccache hit). Returns the new text,
/// the line before and after.
pub fn one_line_edit(patch: &str, nonce: &str) -> Option<(String, String, String)> {
    let mut file = "";
    let mut in_hunk = false;
    let mut out = String::with_capacity(patch.len() + 32);
    let mut edited = None;
    for line in patch.split_inclusive('\n') {
        if edited.is_none() {
            if let Some(rest) = line.strip_prefix("diff --git ") {
                file = rest.split_whitespace().last().unwrap_or("");
                in_hunk = false;
            } else if line.starts_with("@@ ") {
                in_hunk = true;
            } else if in_hunk
                && file.ends_with(".c")
                && line.starts_with('+')
                && !line.starts_with("+++")
                && !line[1..].trim_start().starts_with('#')
                && !line[1..].trim_start().starts_with("/*")
                && !line[1..].trim_start().starts_with('*')
            {
                if let Some(quote) = line.find('"') {
                    let new = format!("{}bench-{nonce} {}", &line[..=quote], &line[quote + 1..]);
                    edited = Some((line.trim_end().to_string(), new.trim_end().to_string()));
                    out.push_str(&new);
                    continue;
                }
            }
        }
        out.push_str(line);
    }
    edited.map(|(before, after)| (out, before, after))
}

/// The objects a kbuild log says were compiled (`  CC  path.o`).
pub fn compiled_objects(build_log: &str) -> Vec<String> {
    build_log
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some("CC")).then(|| words.next().map(str::to_string))?
        })
        .collect()
}

/// Copies each revision directory of `names` (and `baseline`) from the
/// series into `dest`.
fn copy_series(series: &Path, names: &[String], dest: &Path) -> Result<()> {
    let mut all: Vec<&str> = names.iter().map(String::as_str).collect();
    all.push("baseline");
    for name in all {
        let from = series.join(name);
        let to = dest.join(name);
        std::fs::create_dir_all(&to)?;
        for entry in std::fs::read_dir(&from)
            .with_context(|| format!("reading {}", from.display()))?
            .flatten()
        {
            if entry.file_type()?.is_file() {
                std::fs::copy(entry.path(), to.join(entry.file_name()))?;
            }
        }
    }
    Ok(())
}

pub(super) fn edit(args: &Args, setup: &Setup, reporter: &Reporter) -> Result<EditRun> {
    let rev = &setup.revision;
    if rev.patches.is_empty() {
        bail!(
            "revision {} has no patch to edit: pick another with --revision",
            rev.name
        );
    }
    reporter.stage(format!(
        "bench edit: one line of one patch of {} changed, then test-matrix until its first verdict (one incremental kernel build)",
        rev.name
    ));
    let profile_revs = build_profile(&args.profile, reporter)?;
    let scratch = scratch_dir("edit")?;
    // The edited revision first: its build starts at once and its boots
    // lead the queue, as when a developer runs the revision they edit;
    // the others come after, to show that they do not rebuild.
    let mut names = vec![rev.name.clone()];
    names.extend(profile_revs.iter().filter(|r| **r != rev.name).cloned());
    let series = revision::series_dir();
    copy_series(&series, &names, &scratch)?;
    let nonce = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    );
    let mut edited = None;
    for patch in &rev.patches {
        let text = std::fs::read_to_string(patch)?;
        if let Some((new, before, after)) = one_line_edit(&text, &nonce) {
            let name = patch.file_name().unwrap();
            std::fs::write(scratch.join(&rev.name).join(name), new)?;
            edited = Some((name.to_string_lossy().to_string(), before, after));
            break;
        }
    }
    let (patch, line_before, line_after) = edited.with_context(|| {
        format!(
            "no added line with a string literal in a .c file in any patch of {}",
            rev.name
        )
    })?;
    reporter.note(format!("bench edit: {patch}: {line_after}"));
    // The matrix reads GSI_PATCHES_DIR at each step. Set while no other
    // thread of ours reads the environment, and put back after.
    let old = std::env::var_os("GSI_PATCHES_DIR");
    std::env::set_var("GSI_PATCHES_DIR", &scratch);
    let edited_rev = revision::load(&scratch, &rev.name);
    // As a developer runs it after an edit: the unchanged revisions'
    // identical earlier results are reused (their boots would only compete
    // with the edited revision's build and boots for the cores).
    let mut matrix_args = matrix_args(args, names.clone());
    matrix_args.rerun = false;
    let jobs = matrix_args.jobs.unwrap_or_else(selection::cores).max(1);
    let result = timed_matrix(matrix_args, reporter);
    match old {
        Some(v) => std::env::set_var("GSI_PATCHES_DIR", v),
        None => std::env::remove_var("GSI_PATCHES_DIR"),
    }
    let (matrix, events) = result?;
    let edited_rev = edited_rev?;
    let first = events.iter().find_map(|(t, e)| match e {
        Event::BootEnd {
            revision,
            topology,
            verdict,
            ..
        } if revision == &rev.name => Some((*t, format!("{topology}: {}", verdict.name()))),
        _ => None,
    });
    let build_s = events.iter().find_map(|(_, e)| match e {
        Event::BuildEnd { revision, secs, .. } if revision == &rev.name => Some(round3(*secs)),
        _ => None,
    });
    let lock_wait_s = lock_wait(&events, &rev.name);
    let row = row_of(&events, &rev.name);
    let compiled = compiled_objects(
        &events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::BuildLine { revision, line } if revision == &rev.name => {
                    Some(format!("{line}\n"))
                }
                _ => None,
            })
            .collect::<String>(),
    );
    // The edited kernel is of no use to anyone after this: drop it from
    // the cache rather than let every bench run add one.
    let key = build::key(&setup.pin, &edited_rev);
    let _ = std::fs::remove_dir_all(
        crate::work_dir()
            .join("kernels")
            .join(format!("{}-{key}", rev.slug())),
    );
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(EditRun {
        revision: rev.name.clone(),
        patch,
        line_before,
        line_after,
        first_verdict_s: first.as_ref().map(|(t, _)| round3(*t)),
        first_verdict: first.map(|(_, v)| v),
        matrix,
        build_s,
        lock_wait_s,
        compiled,
        row_done_s: row.done_s.map(round3),
        row_boots: row.boots,
        row_boot_secs: round3(row.boot_secs),
        jobs,
    })
}

/// The edited revision's row in a matrix run's events.
#[derive(Debug, Default, PartialEq)]
struct Row {
    /// When its last boot ended (seconds since the run started).
    done_s: Option<f64>,
    /// Its boots (a retried boot counts each time).
    boots: usize,
    /// The sum of their seconds.
    boot_secs: f64,
}

fn row_of(events: &[(f64, Event)], revision: &str) -> Row {
    let mut row = Row::default();
    for (t, e) in events {
        if let Event::BootEnd {
            revision: r, secs, ..
        } = e
        {
            if r == revision {
                row.done_s = Some(*t);
                row.boots += 1;
                row.boot_secs += secs;
            }
        }
    }
    row
}

/// From the lock module's "waiting for another ... run" note to the start
/// of `revision`'s build: time the edit run spent behind someone else.
fn lock_wait(events: &[(f64, Event)], revision: &str) -> Option<f64> {
    let waited = events.iter().find_map(|(t, e)| match e {
        Event::Note(n) if n.starts_with("waiting for another gsi-workbench run") => Some(*t),
        _ => None,
    })?;
    events.iter().find_map(|(t, e)| match e {
        Event::BuildStart { revision: r } if r == revision && *t >= waited => {
            Some(round3(t - waited))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edit_changes_one_message_line_of_a_c_file() {
        let patch = "\
Subject: [PATCH] x\n\
---\n\
diff --git a/Documentation/x.rst b/Documentation/x.rst\n\
@@ -1,1 +1,2 @@\n\
+\"quoted\" in a doc\n\
diff --git a/drivers/pci/pci-sysfs.c b/drivers/pci/pci-sysfs.c\n\
@@ -10,3 +10,5 @@\n\
 #include \"pci.h\"\n\
+#include \"new.h\"\n\
+/* a \"comment\" */\n\
+\tpr_info(\"gsi %d\\n\", gsi);\n\
+\tpr_info(\"second\\n\");\n";
        let (new, before, after) = one_line_edit(patch, "1f").unwrap();
        assert_eq!(before, "+\tpr_info(\"gsi %d\\n\", gsi);");
        assert_eq!(after, "+\tpr_info(\"bench-1f gsi %d\\n\", gsi);");
        assert_eq!(new.lines().count(), patch.lines().count());
        let changed: Vec<_> = patch
            .lines()
            .zip(new.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(changed.len(), 1);
        assert!(one_line_edit("diff --git a/x.h b/x.h\n@@ -1 +1 @@\n+\"s\"\n", "1").is_none());
    }

    #[test]
    fn the_shipped_v5_has_a_line_to_edit() {
        let rev = revision::load(&revision::series_dir(), "v5").unwrap();
        let edited = rev
            .patches
            .iter()
            .find_map(|p| one_line_edit(&std::fs::read_to_string(p).unwrap(), "0"));
        assert!(edited.is_some());
    }

    #[test]
    fn the_lock_wait_runs_from_the_note_to_the_build() {
        let events = vec![
            (
                1.0,
                Event::Note("waiting for another gsi-workbench run that holds x.lock".into()),
            ),
            (
                3.0,
                Event::BuildStart {
                    revision: "v4".into(),
                },
            ),
            (
                43.5,
                Event::BuildStart {
                    revision: "v5".into(),
                },
            ),
        ];
        assert_eq!(lock_wait(&events, "v5"), Some(42.5));
        assert_eq!(lock_wait(&events[1..], "v5"), None);
    }

    #[test]
    fn the_row_ends_at_the_edited_revisions_last_boot() {
        let end = |revision: &str, secs: f64| Event::BootEnd {
            revision: revision.into(),
            topology: "q35".into(),
            verdict: crate::report::Verdict::Passed,
            secs,
        };
        let events = vec![
            (40.0, end("v5", 2.0)),
            (41.0, end("v4", 1.0)),
            (43.5, end("v5", 3.0)),
            (50.0, end("v4", 1.0)),
        ];
        assert_eq!(
            row_of(&events, "v5"),
            Row {
                done_s: Some(43.5),
                boots: 2,
                boot_secs: 5.0
            }
        );
        assert_eq!(row_of(&events, "rfc1"), Row::default());
    }

    #[test]
    fn compiled_objects_come_from_cc_lines() {
        let log = "  CALL    scripts/checksyscalls.sh\n  CC      drivers/acpi/pci_irq.o\n  AR      drivers/acpi/built-in.a\n  CC      init/version.o\n  LD      vmlinux\n";
        assert_eq!(
            compiled_objects(log),
            vec!["drivers/acpi/pci_irq.o", "init/version.o"]
        );
    }
}

//! Golden files for the renderings of a report: every
//! `test_data/report/<name>.json` is rendered as JUnit XML, the Markdown and
//! plain-text "Tested on" blocks and the terminal table, and each must equal
//! its `<name>.<kind>` file beside it. After a deliberate change of a
//! rendering, `UPDATE_EXPECT=1 cargo test -p xtask golden` writes the files
//! anew (as rust-analyzer's expect-test does); review them with `git diff`.
//! Topology descriptions come from `test_data/report/topologies/` (copies
//! of three shipped files), so adding a topology to configs/ changes no
//! golden file.

use super::Report;
use std::path::{Path, PathBuf};

/// Renders a report whose JSON is in the given directory.
type Render = fn(&Report, &Path) -> String;

/// Each rendering: the golden file's suffix and how it is made.
const KINDS: &[(&str, Render)] = &[
    ("junit.xml", |report, dir| {
        super::junit::render(report, &[dir]).unwrap()
    }),
    ("tested-on.md", |report, _| {
        super::markdown::render(report, &topologies())
    }),
    ("tested-on.txt", |report, _| {
        super::plain::render(report, &topologies())
    }),
    ("table.txt", |report, _| report.table()),
];

fn data() -> PathBuf {
    crate::project_root().join("xtask/test_data/report")
}

fn topologies() -> PathBuf {
    data().join("topologies")
}

fn inputs() -> Vec<PathBuf> {
    let dir = data();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    inputs.sort();
    inputs
}

#[test]
fn every_rendering_matches_its_golden_file() {
    let bless = std::env::var_os("UPDATE_EXPECT").is_some();
    let inputs = inputs();
    assert!(!inputs.is_empty(), "no test_data/report/*.json");
    let mut wrong = Vec::new();
    for json in &inputs {
        let mut report = Report::read_json(json).unwrap();
        report.resolve_logs(json);
        let dir = json.parent().unwrap();
        for (kind, render) in KINDS {
            let got = render(&report, dir);
            let golden = json.with_extension(kind);
            if bless {
                std::fs::write(&golden, &got).unwrap();
                continue;
            }
            let want = std::fs::read_to_string(&golden).unwrap_or_default();
            if got != want {
                let line = got
                    .lines()
                    .zip(want.lines())
                    .position(|(g, w)| g != w)
                    .unwrap_or(got.lines().count().min(want.lines().count()));
                wrong.push(format!(
                    "{}: differs from line {}:\n  got:  {:?}\n  want: {:?}",
                    crate::config::display(&golden),
                    line + 1,
                    got.lines().nth(line).unwrap_or("(end)"),
                    want.lines().nth(line).unwrap_or("(end)"),
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{}\nif the change is meant: UPDATE_EXPECT=1 cargo test -p xtask golden, then review git diff",
        wrong.join("\n")
    );
}

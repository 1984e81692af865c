//! The "Tested on" block ([`super::tested_on`]) as plain text wrapped at
//! 75 columns, to paste under a cover letter: LKML mail is plain text, and
//! a Markdown table with a column per topology is wider than a mail line.
//! The verdict table has a row per topology and a column per revision;
//! more revisions than fit are split into further tables.

use super::table::grid;
use super::tested_on::TestedOn;
use crate::report::Report;
use anyhow::{Context, Result};
use std::path::Path;

/// The widest line of the block, as mail is conventionally wrapped.
pub const WIDTH: usize = 75;

/// The block for `report`; topology descriptions come from `topo_dir`.
pub fn render(report: &Report, topo_dir: &Path) -> String {
    let block = TestedOn::gather(report, topo_dir);
    let mut out = String::from("Tested on:\n\n");
    for (key, value) in [
        ("kernel:", &block.kernel),
        ("guests:", &block.guests),
        ("runs:", &block.runs),
    ] {
        out.push_str(&wrap(&format!("{key} {value}"), "  ", "          "));
    }
    out.push('\n');
    let mut rows = vec![std::iter::once("topology".to_string())
        .chain(block.revisions.iter().cloned())
        .collect::<Vec<_>>()];
    for topo in &block.topologies {
        let mut row = vec![topo.clone()];
        for rev in &block.revisions {
            row.push(block.run(rev, topo).map_or("-".into(), |r| r.summary()));
        }
        rows.push(row);
    }
    out.push_str(&grid(&rows, WIDTH, "  "));

    if !block.xfails.is_empty() {
        out.push_str("\nExpected failures (listed in configs/matrix.toml):\n");
        for x in &block.xfails {
            let text = format!(
                "- {}: {} trial(s) on {}: {}",
                x.revision,
                x.count,
                x.topologies.join(", "),
                x.reason
            );
            out.push_str(&wrap(&text, "  ", "    "));
        }
    }
    if !block.failures.is_empty() {
        out.push_str("\nFailures:\n");
        for failure in &block.failures {
            out.push_str(&wrap(&format!("- {failure}"), "  ", "    "));
        }
    }
    out.push_str("\nTopologies:\n");
    for (topo, description) in &block.descriptions {
        out.push_str(&wrap(&format!("- {topo}: {description}"), "  ", "    "));
    }
    out
}

/// Writes [`render`] to `path`.
pub fn write(report: &Report, topo_dir: &Path, path: &Path) -> Result<()> {
    crate::write_atomic(path, render(report, topo_dir).as_bytes())
        .with_context(|| format!("writing the plain-text report {}", path.display()))
}

/// `text` on lines of at most [`WIDTH`] columns, broken between words,
/// the first line after `first`, the others after `rest`. A word longer
/// than a line (a path) gets a line of its own rather than being cut.
pub fn wrap(text: &str, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_breaks_between_words_and_indents_the_rest() {
        let text = "- q35-bridges: q35 with a chain of root ports, a pcie-pci-bridge and a pci-bridge behind it: the swizzle at every level";
        let wrapped = wrap(text, "  ", "    ");
        for line in wrapped.lines() {
            assert!(line.chars().count() <= WIDTH, "{line:?}");
        }
        assert!(
            wrapped.starts_with("  - q35-bridges: q35 with"),
            "{wrapped}"
        );
        assert!(
            wrapped.lines().skip(1).all(|l| l.starts_with("    ")),
            "{wrapped}"
        );
        let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(words(&wrapped), words(text));
        // A word longer than a line is never cut: it gets a line of its own.
        let long = "x".repeat(90);
        assert_eq!(
            wrap(&format!("- {long}"), "  ", "    "),
            format!("  -\n    {long}\n")
        );
    }
}

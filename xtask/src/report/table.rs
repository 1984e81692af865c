//! The terminal rendering of a report: a table with a row per topology
//! and a column per revision (so it grows down, not across, as topologies
//! are added), the failing checks named under it, and one block per run
//! that did not pass, with where to look.

use super::{Report, Run};

/// The widest line of the terminal table: more revisions than fit are
/// shown in further blocks of whole columns, each with the topology column.
pub const TERMINAL_WIDTH: usize = 100;

impl Report {
    /// The topology x revision table. A cell is the run's
    /// [`Run::summary`], `*` when the result was reused from an identical
    /// earlier boot, and `[n]` on a failing run: note `n` under the table
    /// names its first failing check.
    pub fn table(&self) -> String {
        let (revisions, topologies) = axes(self);
        let mut notes: Vec<String> = Vec::new();
        let mut cell = |run: Option<&Run>| -> String {
            let Some(run) = run else {
                return "-".into();
            };
            let mut text = run.summary();
            if let Some(bad) = run.failing_trials().next() {
                notes.push(format!("{}/{}: {}", run.revision, run.topology, bad.name));
                text.push_str(&format!(" [{}]", notes.len()));
            }
            if run.reused_from.is_some() {
                text.push('*');
            }
            text
        };
        let mut rows = vec![std::iter::once("topology".to_string())
            .chain(revisions.iter().cloned())
            .collect::<Vec<_>>()];
        for t in &topologies {
            let mut row = vec![t.clone()];
            for r in &revisions {
                row.push(cell(self.run(r, t)));
            }
            rows.push(row);
        }
        let mut out = grid(&rows, TERMINAL_WIDTH, "");
        for (n, note) in notes.iter().enumerate() {
            out.push_str(&format!("[{}] {note}\n", n + 1));
        }
        if self.reused() > 0 {
            out.push_str("* reused: the result of an identical earlier boot\n");
        }
        out.push_str(&self.differential_note());
        out
    }

    /// The run of `revision` on `topology`, if there is one.
    pub fn run(&self, revision: &str, topology: &str) -> Option<&Run> {
        self.runs
            .iter()
            .find(|x| x.revision == revision && x.topology == topology)
    }

    /// A line naming the runs the differential check could not compare
    /// for want of a baseline run of their topology; empty when none.
    pub fn differential_note(&self) -> String {
        let missing = crate::report::differential::without_baseline(&self.runs);
        if missing.is_empty() {
            return String::new();
        }
        let mut topologies: Vec<String> = missing
            .iter()
            .filter_map(|pair| pair.split_once('/'))
            .map(|(_, t)| format!("{}/{t}", crate::report::differential::BASELINE))
            .collect();
        topologies.dedup();
        format!(
            "differential: not run for {} - no {} in this report\n",
            missing.join(", "),
            topologies.join(", ")
        )
    }

    /// One line per run that did not pass, with where to look.
    pub fn failures(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for run in self.runs.iter().filter(|r| !r.verdict.is_success()) {
            lines.push(format!(
                "{}/{}: {} - log: {}",
                run.revision,
                run.topology,
                run.verdict.name(),
                run.log
            ));
            if !run.detail.is_empty() {
                for l in run.detail.lines().take(12) {
                    lines.push(format!("    {l}"));
                }
            }
            for t in run.failing_trials() {
                lines.push(format!(
                    "    {}: {}",
                    t.name,
                    t.message.replace('\n', "\n      ")
                ));
            }
        }
        lines
    }
}

/// Revisions and topologies in the order the runs first name them.
pub fn axes(report: &Report) -> (Vec<String>, Vec<String>) {
    let mut revisions: Vec<String> = Vec::new();
    let mut topologies: Vec<String> = Vec::new();
    for run in &report.runs {
        if !revisions.contains(&run.revision) {
            revisions.push(run.revision.clone());
        }
        if !topologies.contains(&run.topology) {
            topologies.push(run.topology.clone());
        }
    }
    (revisions, topologies)
}

/// `rows` (the first is the header, the first column names the rows) laid
/// out in aligned columns two spaces apart, each line starting with
/// `indent`. Where the columns do not fit in `width`, they are split into
/// blocks of whole columns, each block repeating the first column and
/// separated by a blank line.
pub fn grid(rows: &[Vec<String>], width: usize, indent: &str) -> String {
    let Some(header) = rows.first() else {
        return String::new();
    };
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|row| row[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    // Greedy blocks of the columns after the first; a column too wide for
    // any block gets one of its own.
    let mut blocks: Vec<Vec<usize>> = Vec::new();
    let mut used = indent.len() + widths[0];
    for c in 1..header.len() {
        match blocks.last_mut() {
            Some(block) if used + 2 + widths[c] <= width => block.push(c),
            _ => {
                blocks.push(vec![c]);
                used = indent.len() + widths[0];
            }
        }
        used += 2 + widths[c];
    }
    if blocks.is_empty() {
        blocks.push(vec![]);
    }
    let mut out = String::new();
    for (i, block) in blocks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        for row in rows {
            let line: Vec<String> = std::iter::once(0)
                .chain(block.iter().copied())
                .map(|c| format!("{:<w$}", row[c], w = widths[c]))
                .collect();
            out.push_str(indent);
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(revisions: usize) -> Vec<Vec<String>> {
        let mut rows = vec![std::iter::once("topology".to_string())
            .chain((0..revisions).map(|r| format!("mutants/rev-{r}")))
            .collect::<Vec<_>>()];
        for t in ["microvm-ioapic2-off", "q35"] {
            rows.push(
                std::iter::once(t.to_string())
                    .chain((0..revisions).map(|_| "passed 59/59 (17 xfail)*".to_string()))
                    .collect(),
            );
        }
        rows
    }

    #[test]
    fn three_revisions_fit_in_a_terminal_and_more_continue_below() {
        let three = grid(&rows(3), TERMINAL_WIDTH, "");
        assert_eq!(three.lines().count(), 3, "{three}");
        assert!(three.lines().all(|l| l.len() <= TERMINAL_WIDTH), "{three}");
        let eight = grid(&rows(8), TERMINAL_WIDTH, "");
        let blocks: Vec<&str> = eight.split("\n\n").collect();
        assert_eq!(blocks.len(), 3, "{eight}");
        for block in &blocks {
            assert!(block.starts_with("topology "), "{block}");
            assert!(block.lines().all(|l| l.len() <= TERMINAL_WIDTH), "{block}");
        }
        for r in 0..8 {
            assert_eq!(
                eight.matches(&format!("mutants/rev-{r}")).count(),
                1,
                "{eight}"
            );
        }
    }
}

//! The terminal rendering of a report: the revision x topology table and
//! one block per run that did not pass, with where to look.

use super::Report;

impl Report {
    /// Revision x topology table, failing check named.
    pub fn table(&self) -> String {
        let mut revisions: Vec<&str> = Vec::new();
        let mut topologies: Vec<&str> = Vec::new();
        for run in &self.runs {
            if !revisions.contains(&run.revision.as_str()) {
                revisions.push(&run.revision);
            }
            if !topologies.contains(&run.topology.as_str()) {
                topologies.push(&run.topology);
            }
        }
        let cell = |r: &str, t: &str| -> String {
            let Some(run) = self
                .runs
                .iter()
                .find(|x| x.revision == r && x.topology == t)
            else {
                return "-".into();
            };
            let mut text = run.summary();
            if let Some(bad) = run.failing_trials().next() {
                text.push_str(&format!(" [{}]", bad.name));
            }
            if run.reused_from.is_some() {
                text.push_str(" (reused)");
            }
            text
        };
        let mut rows = vec![std::iter::once("revision".to_string())
            .chain(topologies.iter().map(|t| t.to_string()))
            .collect::<Vec<_>>()];
        for r in &revisions {
            rows.push(
                std::iter::once(r.to_string())
                    .chain(topologies.iter().map(|t| cell(r, t)))
                    .collect(),
            );
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|c| rows.iter().map(|row| row[c].len()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in rows {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(text, w)| format!("{text:<w$}"))
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
        out.push_str(&self.differential_note());
        out
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

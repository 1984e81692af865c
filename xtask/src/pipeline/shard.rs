//! Splitting a matrix over CI jobs: `test-matrix --shard i/n` runs one
//! deterministic slice of the (revision, topology) pairs, and
//! `test-matrix --list` prints the selection (plain, or as a GitHub or
//! GitLab job matrix) without building anything.
//!
//! Pairs are sorted by revision then topology and pair `k` (0-based) goes
//! to shard `k % n + 1`, so every machine that sees the same selection
//! computes the same slices and round-robin keeps one revision's boots
//! spread over the shards. The CI emits one job per non-empty shard.

use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// `--shard`: one slice `i/n` (1-based), or `*/n` (every slice, `--list`
/// only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    One { index: usize, count: usize },
    All { count: usize },
}

impl Spec {
    pub fn count(self) -> usize {
        match self {
            Spec::One { count, .. } | Spec::All { count } => count,
        }
    }
}

impl FromStr for Spec {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Spec> {
        let usage = "write i/n with 1 <= i <= n (e.g. 2/4), or */n with --list";
        let (index, count) = text
            .split_once('/')
            .with_context(|| format!("shard {text:?} has no '/'; {usage}"))?;
        let count: usize = count
            .trim()
            .parse()
            .with_context(|| format!("shard {text:?}: {count:?} is not a count; {usage}"))?;
        if count == 0 {
            bail!("shard {text:?}: the count must be at least 1; {usage}");
        }
        if index.trim() == "*" {
            return Ok(Spec::All { count });
        }
        let index: usize = index
            .trim()
            .parse()
            .with_context(|| format!("shard {text:?}: {index:?} is not an index; {usage}"))?;
        if index == 0 || index > count {
            bail!("shard {text:?}: the index must be between 1 and {count}; {usage}");
        }
        Ok(Spec::One { index, count })
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Spec::One { index, count } => write!(f, "{index}/{count}"),
            Spec::All { count } => write!(f, "*/{count}"),
        }
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pair {
    pub revision: String,
    pub topology: String,
}

/// A pair with the 1-based shard it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub shard: usize,
    pub count: usize,
    pub pair: Pair,
}

impl Placed {
    pub fn shard_name(&self) -> String {
        format!("{}/{}", self.shard, self.count)
    }
}

/// Every pair of `revisions` x `topologies`, sorted by revision then
/// topology, each placed in its shard; `spec` `None` is one shard holding
/// everything, `i/n` keeps only slice `i`. Pure: the same names give the
/// same slices on every machine.
pub fn place(revisions: &[String], topologies: &[String], spec: Option<Spec>) -> Vec<Placed> {
    let pairs: BTreeSet<Pair> = revisions
        .iter()
        .flat_map(|r| {
            topologies.iter().map(move |t| Pair {
                revision: r.clone(),
                topology: t.clone(),
            })
        })
        .collect();
    let count = spec.map_or(1, Spec::count);
    pairs
        .into_iter()
        .enumerate()
        .map(|(k, pair)| Placed {
            shard: k % count + 1,
            count,
            pair,
        })
        .filter(|p| match spec {
            Some(Spec::One { index, .. }) => p.shard == index,
            _ => true,
        })
        .collect()
}

/// What `test-matrix --shard` keeps of a selection; without `--shard`
/// it keeps everything.
#[derive(Debug, Clone)]
pub struct Slice {
    pairs: Option<BTreeSet<Pair>>,
}

impl Slice {
    /// The slice of `revisions` x `topologies` that `spec` runs. `*/n`
    /// and a slice with no pair are errors: a CI job that boots nothing
    /// must not pass.
    pub fn of(spec: Option<Spec>, revisions: &[String], topologies: &[String]) -> Result<Slice> {
        let Some(spec) = spec else {
            return Ok(Slice { pairs: None });
        };
        if let Spec::All { count } = spec {
            bail!("--shard */{count} names every slice and only works with --list; run one slice with --shard i/{count}");
        }
        let placed = place(revisions, topologies, Some(spec));
        if placed.is_empty() {
            let total = place(revisions, topologies, None).len();
            bail!(
                "shard {spec} selects none of the {total} (revision, topology) pair(s) of this selection; use at most {total} shard(s) (`test-matrix --list --shard */N` shows the split)"
            );
        }
        Ok(Slice {
            pairs: Some(placed.into_iter().map(|p| p.pair).collect()),
        })
    }

    /// [`Slice::of`] the names of a resolved selection.
    pub fn of_selection(
        spec: Option<Spec>,
        selection: &crate::pipeline::selection::Selection,
    ) -> Result<Slice> {
        let (revisions, topologies) = names(selection);
        Slice::of(spec, &revisions, &topologies)
    }

    pub fn keeps(&self, revision: &str, topology: &str) -> bool {
        match &self.pairs {
            None => true,
            Some(pairs) => pairs
                .iter()
                .any(|p| p.revision == revision && p.topology == topology),
        }
    }

    /// Whether any pair of `revision` is kept, so its kernel must be built.
    pub fn needs_revision(&self, revision: &str) -> bool {
        match &self.pairs {
            None => true,
            Some(pairs) => pairs.iter().any(|p| p.revision == revision),
        }
    }
}

/// `--format` of `test-matrix --list`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per pair: shard, revision, topology.
    #[default]
    Plain,
    /// `{"include":[...]}`, one entry per shard, for
    /// `strategy.matrix: ${{ fromJSON(...) }}`.
    Github,
    /// A `parallel: matrix:` YAML snippet, one entry per shard.
    Gitlab,
}

/// One CI job: a shard and what it runs.
struct Job {
    shard: String,
    revisions: Vec<String>,
    pairs: Vec<String>,
}

fn jobs(placed: &[Placed]) -> Vec<Job> {
    let mut jobs: Vec<Job> = Vec::new();
    let mut sorted: Vec<&Placed> = placed.iter().collect();
    sorted.sort_by_key(|p| p.shard);
    for p in sorted {
        let shard = p.shard_name();
        if jobs.last().map(|j| &j.shard) != Some(&shard) {
            jobs.push(Job {
                shard,
                revisions: vec![],
                pairs: vec![],
            });
        }
        let job = jobs.last_mut().expect("pushed above");
        if !job.revisions.contains(&p.pair.revision) {
            job.revisions.push(p.pair.revision.clone());
        }
        job.pairs
            .push(format!("{}/{}", p.pair.revision, p.pair.topology));
    }
    jobs
}

/// The `--list` output. Entries of the CI formats are per shard, not per
/// pair: a CI job runs `--shard i/n`, so a job per pair would run its
/// whole shard once for every pair in it. Empty shards are left out so CI
/// never starts a job that boots nothing.
pub fn render(placed: &[Placed], format: Format) -> String {
    match format {
        Format::Plain => {
            let mut sorted: Vec<&Placed> = placed.iter().collect();
            sorted.sort_by_key(|p| p.shard);
            let rows: Vec<[String; 3]> = sorted
                .iter()
                .map(|p| {
                    [
                        p.shard_name(),
                        p.pair.revision.clone(),
                        p.pair.topology.clone(),
                    ]
                })
                .collect();
            let width = |c: usize| {
                rows.iter()
                    .map(|r| r[c].len())
                    .chain([["shard", "revision", "topology"][c].len()])
                    .max()
                    .unwrap_or(0)
            };
            let (w0, w1) = (width(0), width(1));
            let mut out = format!("{:<w0$}  {:<w1$}  topology\n", "shard", "revision");
            for [s, r, t] in rows {
                out.push_str(&format!("{s:<w0$}  {r:<w1$}  {t}\n"));
            }
            out
        }
        Format::Github => {
            let include: Vec<serde_json::Value> = jobs(placed)
                .into_iter()
                .map(|j| {
                    serde_json::json!({
                        "shard": j.shard,
                        "revisions": j.revisions.join(" "),
                        "pairs": j.pairs.join(" "),
                    })
                })
                .collect();
            // One line: it goes into $GITHUB_OUTPUT as `matrix=...`.
            format!("{}\n", serde_json::json!({ "include": include }))
        }
        Format::Gitlab => {
            // JSON strings are valid YAML double-quoted scalars.
            let quote = |s: &str| serde_json::Value::from(s).to_string();
            let mut out = String::from("parallel:\n  matrix:\n");
            for j in jobs(placed) {
                out.push_str(&format!("    - SHARD: {}\n", quote(&j.shard)));
                out.push_str(&format!(
                    "      REVISIONS: {}\n",
                    quote(&j.revisions.join(" "))
                ));
                out.push_str(&format!("      PAIRS: {}\n", quote(&j.pairs.join(" "))));
            }
            out
        }
    }
}

/// The revision and topology names of a resolved selection.
pub fn names(selection: &crate::pipeline::selection::Selection) -> (Vec<String>, Vec<String>) {
    (
        selection.revisions.iter().map(|r| r.name.clone()).collect(),
        selection
            .topologies
            .iter()
            .map(|t| t.name.clone())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn pairs(placed: &[Placed]) -> Vec<String> {
        placed
            .iter()
            .map(|p| format!("{} {}/{}", p.shard_name(), p.pair.revision, p.pair.topology))
            .collect()
    }

    #[test]
    fn specs_parse_and_bad_ones_say_how_to_write_them() {
        assert_eq!(
            "2/4".parse::<Spec>().unwrap(),
            Spec::One { index: 2, count: 4 }
        );
        assert_eq!("*/3".parse::<Spec>().unwrap(), Spec::All { count: 3 });
        assert_eq!("1/1".parse::<Spec>().unwrap().to_string(), "1/1");
        for bad in ["0/2", "3/2", "2", "a/2", "1/0", "1/x", "", "/"] {
            let err = bad.parse::<Spec>().unwrap_err().to_string();
            assert!(err.contains("i/n"), "{bad}: {err}");
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
    }

    #[test]
    fn pairs_are_sorted_and_dealt_round_robin() {
        let revs = names(&["v4", "baseline"]);
        let topos = names(&["q35", "microvm", "pc"]);
        let all = place(&revs, &topos, Some(Spec::All { count: 4 }));
        assert_eq!(
            pairs(&all),
            [
                "1/4 baseline/microvm",
                "2/4 baseline/pc",
                "3/4 baseline/q35",
                "4/4 v4/microvm",
                "1/4 v4/pc",
                "2/4 v4/q35",
            ]
        );
        let two = place(&revs, &topos, Some(Spec::One { index: 2, count: 4 }));
        assert_eq!(pairs(&two), ["2/4 baseline/pc", "2/4 v4/q35"]);
        let none = place(&revs, &topos, None);
        assert_eq!(none.len(), 6);
        assert!(none.iter().all(|p| p.shard_name() == "1/1"));
    }

    #[test]
    fn the_slices_partition_the_pairs_whatever_the_input_order() {
        let revs = names(&["v5", "baseline", "v4", "mutants/prints-irq"]);
        let topos = names(&["q35", "microvm", "pc", "pc-bridge", "q35"]);
        let total = place(&revs, &topos, None).len();
        assert_eq!(total, 16, "duplicate names collapse");
        for n in 1..=7 {
            let mut seen: Vec<Pair> = (1..=n)
                .flat_map(|i| {
                    place(&revs, &topos, Some(Spec::One { index: i, count: n }))
                        .into_iter()
                        .map(|p| p.pair)
                })
                .collect();
            assert_eq!(seen.len(), total, "n = {n}");
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), total, "n = {n}");
            let mut reversed = revs.clone();
            reversed.reverse();
            assert_eq!(
                place(&revs, &topos, Some(Spec::One { index: 1, count: n })),
                place(&reversed, &topos, Some(Spec::One { index: 1, count: n })),
            );
        }
    }

    #[test]
    fn a_slice_keeps_its_pairs_and_only_the_revisions_it_needs() {
        let revs = names(&["baseline", "v4"]);
        let topos = names(&["q35"]);
        let slice = Slice::of(Some(Spec::One { index: 2, count: 2 }), &revs, &topos).unwrap();
        assert!(slice.keeps("v4", "q35"));
        assert!(!slice.keeps("baseline", "q35"));
        assert!(slice.needs_revision("v4"));
        assert!(!slice.needs_revision("baseline"));
        let all = Slice::of(None, &revs, &topos).unwrap();
        assert!(all.keeps("baseline", "q35") && all.needs_revision("baseline"));

        let err = Slice::of(Some(Spec::One { index: 3, count: 3 }), &revs, &topos)
            .unwrap_err()
            .to_string();
        assert!(err.contains("shard 3/3 selects none of the 2"), "{err}");
        let err = Slice::of(Some(Spec::All { count: 2 }), &revs, &topos)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--list"), "{err}");
    }

    #[test]
    fn ci_formats_have_one_job_per_non_empty_shard() {
        let placed = place(
            &names(&["baseline", "v4"]),
            &names(&["microvm", "q35"]),
            Some(Spec::All { count: 3 }),
        );
        let github: serde_json::Value =
            serde_json::from_str(&render(&placed, Format::Github)).unwrap();
        let include = github["include"].as_array().unwrap();
        assert_eq!(include.len(), 3);
        assert_eq!(include[0]["shard"], "1/3");
        assert_eq!(include[0]["pairs"], "baseline/microvm v4/q35");
        assert_eq!(include[0]["revisions"], "baseline v4");
        assert_eq!(include[2]["pairs"], "v4/microvm");
        assert!(!render(&placed, Format::Github).trim_end().contains('\n'));

        let gitlab = render(&placed, Format::Gitlab);
        assert!(gitlab.starts_with("parallel:\n  matrix:\n"), "{gitlab}");
        assert!(
            gitlab.contains("    - SHARD: \"2/3\"\n      REVISIONS: \"baseline\"\n      PAIRS: \"baseline/q35\"\n"),
            "{gitlab}"
        );
        assert_eq!(gitlab.matches("- SHARD").count(), 3);

        let empty_shards = place(
            &names(&["v4"]),
            &names(&["q35"]),
            Some(Spec::All { count: 4 }),
        );
        let github: serde_json::Value =
            serde_json::from_str(&render(&empty_shards, Format::Github)).unwrap();
        assert_eq!(github["include"].as_array().unwrap().len(), 1);

        let plain = render(&placed, Format::Plain);
        assert!(plain.starts_with("shard  revision  topology\n"), "{plain}");
        assert!(plain.contains("1/3    v4        q35\n"), "{plain}");
    }
}

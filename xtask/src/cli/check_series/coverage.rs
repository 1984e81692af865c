//! Build coverage at every patch: the series built under several configs
//! and compilers, each patch's diagnostics compared with what the same
//! objects give on the base, so that only what the series adds counts.
//!
//! One check per variant (`build-x86_64`, `build-allno`, `build-noacpi`,
//! `build-i386`, `build-arm64`, `build-w1`, `sparse`), each in its own
//! persistent `O=` directory of the shared check tree (see [`super::builds`])
//! so a warm run recompiles only what a patch changes, through ccache.
//!
//! For each variant: the config is made (and every setting of its
//! fragments checked to survive olddefconfig, as the matrix config is);
//! the tree goes to the base, `make prepare`, then the goals (the kbuild
//! directories of the objects the series touches; vmlinux for allnoconfig,
//! which builds none of them, and for CONFIG_ACPI=n, whose typical break,
//! a missing stub, shows only when vmlinux links); then to
//! each patch in turn, `make prepare` and the goals again. Stepping from
//! the base means each patch recompiles exactly what it changed (and what
//! includes it), so every diagnostic a patch adds is printed at that
//! patch. The base's diagnostics for the goals are recorded once per `O=`
//! dir (a full compile of the goals on the base, kept in the `O=` dir);
//! a patch's diagnostic is new when its file and message occur more often
//! than on the base (line numbers move, so they are not compared).

use super::builds::{layered, CheckTree, Targets};
use super::mail::Mail;
use super::CheckResult;
use crate::config::kernel::KernelConfig;
use crate::pipeline::build;
use crate::pipeline::pin::Pin;
use crate::sys::progress::{Event, Reporter};
use crate::sys::tools::Tool;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The check names of the variants, in report order.
pub const CHECKS: [&str; 7] = [
    "build-x86_64",
    "build-allno",
    "build-noacpi",
    "build-i386",
    "build-arm64",
    "build-w1",
    "sparse",
];

/// One way of building the series.
#[derive(Debug, Clone)]
pub struct Variant {
    /// The check it reports as (`build-arm64`).
    pub check: &'static str,
    /// How messages name it (`arm64`, `CONFIG_ACPI=n`, `W=1`).
    pub label: String,
    pub config: KernelConfig,
    /// make variables given to every make in this variant's `O=` dir.
    pub vars: Vec<String>,
    /// Build vmlinux instead of the touched objects' directories.
    pub vmlinux: bool,
    /// Host tools it needs beyond the usual build tools.
    pub tools: Vec<Tool>,
    /// Only the checker's own diagnostics count (gcc's, which carry their
    /// `[-W...]` option, are the compile variants' to judge).
    pub checker_only: bool,
}

impl Variant {
    fn new(check: &'static str, label: &str, config: KernelConfig) -> Variant {
        Variant {
            check,
            label: label.to_string(),
            config,
            vars: Vec::new(),
            vmlinux: false,
            tools: Vec::new(),
            checker_only: false,
        }
    }

    /// The `O=` dir name: the config's hash, and the make variables. With
    /// no variables it is the one every other build of this config uses
    /// (bisect-build, build-only), so they share their objects.
    pub fn dir_name(&self) -> String {
        format!(
            "{}{}",
            crate::pipeline::revision::BUILD_DIR_PREFIX,
            &self.hash()[..12]
        )
    }

    fn hash(&self) -> String {
        if self.vars.is_empty() {
            self.config.hash()
        } else {
            crate::sha256_hex(format!("{}\n{}", self.config.hash(), self.vars.join(" ")).as_bytes())
        }
    }

    /// `arm64: tinyconfig + configs/kernel/build-arm64.config, ARCH=arm64 ...`
    pub fn describe(&self) -> String {
        let mut parts = vec![self.config.base.clone()];
        parts.extend(
            self.config
                .fragments
                .iter()
                .map(|(p, _)| crate::config::display(p)),
        );
        let mut text = format!("{}: {}", self.label, parts.join(" + "));
        let vars: Vec<&str> = self
            .vars
            .iter()
            .filter(|v| !v.starts_with("CC="))
            .map(String::as_str)
            .collect();
        if !vars.is_empty() {
            text.push_str(&format!(", {}", vars.join(" ")));
        }
        text
    }
}

/// The variants every series is built with.
pub fn variants(pin: &Pin) -> Result<Vec<Variant>> {
    let dir = crate::config::configs_dir().join("kernel");
    let read = |name: &str| -> Result<(PathBuf, String)> {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", crate::config::display(&path)))?;
        Ok((path, text))
    };
    let tiny = |fragment: (PathBuf, String)| KernelConfig {
        base: "tinyconfig".into(),
        fragments: vec![fragment],
        variant: None,
    };
    let (noacpi_path, noacpi) = read("build-only-noacpi.config")?;
    let mut out = vec![
        Variant::new("build-x86_64", "x86_64", pin.config.clone()),
        Variant {
            vmlinux: true,
            ..Variant::new(
                "build-allno",
                "allnoconfig",
                KernelConfig {
                    base: "allnoconfig".into(),
                    fragments: Vec::new(),
                    variant: None,
                },
            )
        },
        // vmlinux: a missing !CONFIG_ACPI stub is most often a link error.
        Variant {
            vmlinux: true,
            ..Variant::new(
                "build-noacpi",
                "CONFIG_ACPI=n",
                layered(&pin.config, &noacpi_path, &noacpi),
            )
        },
        Variant {
            vars: vec!["ARCH=i386".into()],
            ..Variant::new("build-i386", "i386", tiny(read("build-i386.config")?))
        },
        Variant {
            vars: vec![
                "ARCH=arm64".into(),
                "CROSS_COMPILE=aarch64-linux-gnu-".into(),
                "CC=ccache aarch64-linux-gnu-gcc".into(),
            ],
            tools: vec![Tool {
                probe: "aarch64-linux-gnu-gcc",
                package: "gcc-aarch64-linux-gnu",
            }],
            ..Variant::new("build-arm64", "arm64", tiny(read("build-arm64.config")?))
        },
        Variant {
            vars: vec!["W=1".into()],
            ..Variant::new("build-w1", "W=1", pin.config.clone())
        },
        Variant {
            vars: vec!["C=1".into()],
            tools: vec![Tool {
                probe: "sparse",
                package: "sparse",
            }],
            checker_only: true,
            ..Variant::new("sparse", "sparse (C=1)", pin.config.clone())
        },
    ];
    out.sort_by_key(|v| CHECKS.iter().position(|c| *c == v.check));
    Ok(out)
}

/// One compiler or checker message.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// Relative to the tree (`drivers/pci/pci-sysfs.c`).
    pub file: String,
    pub line: u32,
    /// `warning` or `error`.
    pub severity: String,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}: {}: {}",
                self.file, self.line, self.severity, self.message
            )
        } else {
            write!(f, "{}: {}: {}", self.file, self.severity, self.message)
        }
    }
}

/// The diagnostics in a build log, each once (a header's warning is
/// printed for every file that includes it).
pub fn diagnostics(log: &str) -> Vec<Diagnostic> {
    let re = regex::Regex::new(
        r"^(?P<file>[^\s:]+):(?P<line>\d+):(?:\d+:)? (?P<sev>warning|error|fatal error): (?P<msg>.*)$",
    )
    .expect("valid regex");
    let ld =
        regex::Regex::new(r"^(?:\S*ld: )?(?P<file>[^\s:]+):.*(?P<msg>undefined reference to .*)$")
            .expect("valid regex");
    let mut found = std::collections::BTreeSet::new();
    for line in log.lines() {
        // gcc quotes with U+2018/U+2019 where the locale allows it (and
        // ccache replays what it stored): one spelling for every run.
        let line = line.trim_end().replace(['\u{2018}', '\u{2019}'], "'");
        let line = line.as_str();
        if let Some(c) = re.captures(line) {
            let severity = match &c["sev"] {
                "warning" => "warning",
                _ => "error",
            };
            found.insert(Diagnostic {
                file: tree_path(&c["file"]),
                line: c["line"].parse().unwrap_or(0),
                severity: severity.to_string(),
                message: c["msg"].trim().to_string(),
            });
        } else if let Some(c) = ld.captures(line) {
            found.insert(Diagnostic {
                file: tree_path(&c["file"]),
                line: 0,
                severity: "error".into(),
                message: c["msg"].trim().to_string(),
            });
        }
    }
    found.into_iter().collect()
}

/// `../drivers/pci/x.c` (kbuild's `srctree := ..`) and `./x` as
/// `drivers/pci/x.c`.
fn tree_path(file: &str) -> String {
    let mut f = file;
    while let Some(rest) = f.strip_prefix("../").or_else(|| f.strip_prefix("./")) {
        f = rest;
    }
    f.to_string()
}

/// gcc names the option of each of its warnings; sparse never does.
fn from_gcc(d: &Diagnostic) -> bool {
    d.severity == "warning" && d.message.ends_with(']') && d.message.contains("[-W")
}

/// The diagnostics of `now` that the base does not account for: per
/// file and message, the ones beyond the base's count.
pub fn new_diagnostics(base: &[Diagnostic], now: &[Diagnostic]) -> Vec<Diagnostic> {
    let key = |d: &Diagnostic| (d.file.clone(), d.severity.clone(), d.message.clone());
    let mut budget: BTreeMap<_, usize> = BTreeMap::new();
    for d in base {
        *budget.entry(key(d)).or_default() += 1;
    }
    let mut out = Vec::new();
    for d in now {
        let left = budget.entry(key(d)).or_default();
        if *left > 0 {
            *left -= 1;
        } else {
            out.push(d.clone());
        }
    }
    out
}

fn store_text(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(|d| format!("{}\t{}\t{}\t{}\n", d.file, d.line, d.severity, d.message))
        .collect()
}

fn parse_store(text: &str) -> Vec<Diagnostic> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(4, '\t');
            Some(Diagnostic {
                file: parts.next()?.to_string(),
                line: parts.next()?.parse().ok()?,
                severity: parts.next()?.to_string(),
                message: parts.next()?.to_string(),
            })
        })
        .collect()
}

/// What one make step printed and whether it succeeded.
struct Step {
    ok: bool,
    diagnostics: Vec<Diagnostic>,
    /// The make error's last lines when it failed.
    failure: Option<String>,
    log: PathBuf,
    secs: f64,
}

impl CheckTree<'_> {
    /// Builds the series at the base and at every patch under `variant`;
    /// fails on a diagnostic the base does not have.
    pub fn coverage(
        &self,
        variant: &Variant,
        mails: &[Mail],
        touched: &[String],
        jobs: usize,
        reporter: &Reporter,
    ) -> Result<CheckResult> {
        if let Err(err) = crate::sys::tools::ensure(&variant.tools, true, reporter) {
            return Ok(CheckResult::fail(
                format!("{}: a tool is missing", variant.label),
                format!("{err:#}").lines().map(str::to_string).collect(),
            ));
        }
        let goals: Vec<String> = if variant.vmlinux || touched.is_empty() {
            vec!["vmlinux".into()]
        } else {
            Targets::Objects(touched.to_vec()).make_goals()
        };
        let out = self.dir.join(variant.dir_name());
        std::fs::create_dir_all(&out)?;
        let mut evidence = vec![format!(
            "{}; O={}; make {}",
            variant.describe(),
            crate::config::display(&out),
            goals.join(" ")
        )];
        let config_log = self.log(&format!("{}-config", variant.check));
        if let Err(err) = self.configure_variant(variant, &out, &config_log, reporter) {
            evidence.extend(format!("{err:#}").lines().map(str::to_string));
            return Ok(CheckResult::fail(
                format!("{}: the config cannot be made", variant.label),
                evidence,
            ));
        }
        // configure_variant() already failed on any dropped setting; say
        // what the final .config holds for the variant's own ones.
        if variant.config.hash() != self.pin.config.hash() {
            if let Some((_, own)) = variant.config.fragments.last() {
                let config = std::fs::read_to_string(out.join(".config"))?;
                let held: Vec<String> = super::builds::settings(own)
                    .iter()
                    .map(|s| super::builds::found(&config, s))
                    .collect();
                evidence.push(format!("verified in .config: {}", held.join(", ")));
            }
        }

        // The base: a full compile of the goals once per O= dir records
        // its diagnostics; later runs only bring the objects back to it.
        self.leave_head()?;
        let result = self.coverage_steps(variant, mails, &out, &goals, jobs, reporter);
        self.back_to_head()?;
        let (base_note, steps) = match result? {
            Ok(x) => x,
            Err(failure) => {
                evidence.extend(failure);
                return Ok(CheckResult::fail(
                    format!(
                        "{}: the base does not build; nothing to compare the patches with",
                        variant.label
                    ),
                    evidence,
                ));
            }
        };
        evidence.push(base_note);
        let n = steps.len();
        let mut first: Option<(usize, Diagnostic, usize)> = None;
        for (k, (step, new)) in steps.iter().enumerate() {
            let k = k + 1;
            let file = &mails[k - 1].file;
            let state = if step.ok {
                "builds"
            } else {
                "BREAKS THE BUILD"
            };
            let news = if new.is_empty() {
                "no new warnings".to_string()
            } else {
                format!("{} NEW diagnostic(s)", new.len())
            };
            evidence.push(format!(
                "patch {k}/{n} {file}: {state}, {news} ({:.1} s), log {}",
                step.secs,
                crate::config::display(&step.log)
            ));
            for d in new {
                evidence.push(format!("  {}: {d}", variant.label));
            }
            if !step.ok && new.is_empty() {
                if let Some(tail) = &step.failure {
                    evidence.extend(tail.lines().map(|l| format!("    {l}")));
                }
            }
            if first.is_none() && (!new.is_empty() || !step.ok) {
                let d = new.first().cloned().unwrap_or_else(|| Diagnostic {
                    file: "make".into(),
                    line: 0,
                    severity: "error".into(),
                    message: step
                        .failure
                        .as_deref()
                        .and_then(|t| t.lines().rev().find(|l| !l.trim().is_empty()))
                        .unwrap_or("failed")
                        .to_string(),
                });
                first = Some((k, d, new.len()));
            }
        }
        if !variant.vmlinux {
            let (yes, no): (Vec<_>, Vec<_>) = super::builds::membership(&out, touched)
                .into_iter()
                .partition(|(_, b)| *b);
            let names = |v: Vec<(String, bool)>| v.into_iter().map(|(o, _)| o).collect::<Vec<_>>();
            if !yes.is_empty() {
                evidence.push(format!("compiled here: {}", names(yes).join(", ")));
            }
            if !no.is_empty() {
                evidence.push(format!(
                    "not built by this config: {}",
                    names(no).join(", ")
                ));
            }
        }
        Ok(match first {
            None => CheckResult::pass(
                format!(
                    "{}: all {n} patches build with no new warning ({})",
                    variant.label,
                    goals.join(" ")
                ),
                evidence,
            ),
            Some((k, d, count)) => CheckResult::fail(
                format!(
                    "{}: patch {k}/{n} ({}): {d}{}",
                    variant.label,
                    mails[k - 1].file,
                    if count > 1 {
                        format!(" (and {} more)", count - 1)
                    } else {
                        String::new()
                    }
                ),
                evidence,
            ),
        })
    }

    /// The base, then each patch. The outer error is a broken run (git,
    /// I/O); the inner one a base that does not build, with its evidence.
    #[allow(clippy::type_complexity)]
    fn coverage_steps(
        &self,
        variant: &Variant,
        mails: &[Mail],
        out: &Path,
        goals: &[String],
        jobs: usize,
        reporter: &Reporter,
    ) -> Result<std::result::Result<(String, Vec<(Step, Vec<Diagnostic>)>), Vec<String>>> {
        checkout(&self.dir, &self.pin.base)?;
        let key = crate::sha256_hex(format!("{}\n{}", self.pin.base, goals.join(" ")).as_bytes());
        let store = out.join(format!(".gsi-base-diagnostics-{}", &key[..12]));
        let recorded = std::fs::read_to_string(&store)
            .ok()
            .map(|t| parse_store(&t));
        if recorded.is_none() {
            // Every object of the goals compiles again (from ccache where
            // it can), so the base's diagnostics are all printed.
            forget_objects(out, goals)?;
        }
        let base = self.step(variant, out, goals, 0, jobs, reporter)?;
        if !base.ok {
            let mut lines = vec![format!(
                "base {}: make FAILED, log {}",
                &self.pin.base[..12],
                crate::config::display(&base.log)
            )];
            lines.extend(
                base.diagnostics
                    .iter()
                    .filter(|d| d.severity == "error")
                    .map(|d| format!("  {d}")),
            );
            if let Some(tail) = &base.failure {
                lines.extend(tail.lines().map(|l| format!("    {l}")));
            }
            return Ok(Err(lines));
        }
        let keep = |d: &Diagnostic| !(variant.checker_only && from_gcc(d));
        let known: Vec<Diagnostic> = match recorded {
            Some(known) => known,
            None => {
                let known: Vec<Diagnostic> = base.diagnostics.into_iter().filter(keep).collect();
                crate::write_atomic(&store, store_text(&known).as_bytes())?;
                known
            }
        };
        let note = format!(
            "base {}: builds, {} known diagnostic(s) in the goals (recorded in {})",
            &self.pin.base[..12],
            known.len(),
            crate::config::display(&store)
        );
        let mut steps = Vec::new();
        for (k, commit) in self.commits.iter().enumerate() {
            checkout(&self.dir, commit)?;
            let step = self.step(variant, out, goals, k + 1, jobs, reporter)?;
            let now: Vec<Diagnostic> = step
                .diagnostics
                .iter()
                .filter(|d| keep(d))
                .cloned()
                .collect();
            let new = new_diagnostics(&known, &now);
            steps.push((step, new));
        }
        debug_assert_eq!(steps.len(), mails.len());
        Ok(Ok((note, steps)))
    }

    /// `make prepare`, then the goals, at whatever commit the tree is at.
    fn step(
        &self,
        variant: &Variant,
        out: &Path,
        goals: &[String],
        k: usize,
        jobs: usize,
        reporter: &Reporter,
    ) -> Result<Step> {
        let log = self.log(&format!("{}-{k}", variant.check));
        let started = Instant::now();
        let label = if k == 0 {
            format!("{} base ({})", self.label, variant.label)
        } else {
            format!(
                "{} patch {k}/{} ({})",
                self.label,
                self.commits.len(),
                variant.label
            )
        };
        reporter.send(Event::BuildStart {
            revision: label.clone(),
        });
        std::fs::create_dir_all(log.parent().unwrap())?;
        let mut file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let jobs = format!("-j{}", jobs.max(1));
        let mut prepare: Vec<&str> = variant.vars.iter().map(String::as_str).collect();
        prepare.extend([jobs.as_str(), "prepare"]);
        let mut result = build::make(&self.dir, out, &prepare, &mut file, &self.rev, reporter);
        // Only the goals' output is compared: prepare's compiles (asm
        // offsets) differ with every header a patch changes.
        let prepared = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        if result.is_ok() {
            let mut args: Vec<&str> = variant.vars.iter().map(String::as_str).collect();
            args.push(&jobs);
            args.extend(goals.iter().map(String::as_str));
            result = build::make(&self.dir, out, &args, &mut file, &self.rev, reporter);
        }
        drop(file);
        let secs = started.elapsed().as_secs_f64();
        reporter.send(Event::BuildEnd {
            revision: label,
            built: result.is_ok(),
            secs,
        });
        let text = std::fs::read(&log).unwrap_or_default();
        let from = if result.is_ok() { prepared as usize } else { 0 };
        let text = String::from_utf8_lossy(&text[from.min(text.len())..]).to_string();
        Ok(Step {
            ok: result.is_ok(),
            diagnostics: diagnostics(&text),
            failure: result.err().map(|e| super::builds::make_failure(&e)),
            log,
            secs,
        })
    }

    /// `make <base>`, the fragments, olddefconfig and the survival check
    /// of every fragment setting, with the variant's make variables;
    /// skipped when the `O=` dir holds this exact config.
    fn configure_variant(
        &self,
        variant: &Variant,
        out: &Path,
        log: &Path,
        reporter: &Reporter,
    ) -> Result<()> {
        let stamp = out.join(".gsi-config-hash");
        let hash = variant.hash();
        if out.join(".config").is_file()
            && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&hash)
        {
            return Ok(());
        }
        let _ = std::fs::remove_file(&stamp);
        std::fs::create_dir_all(log.parent().unwrap())?;
        let mut file =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let vars: Vec<&str> = variant.vars.iter().map(String::as_str).collect();
        let make = |file: &mut std::fs::File, goal: &str| {
            let mut args = vars.clone();
            args.push(goal);
            build::make(&self.dir, out, &args, file, &self.rev, reporter)
        };
        make(&mut file, &variant.config.base)?;
        let mut config = std::fs::read_to_string(out.join(".config"))?;
        for (path, contents) in &variant.config.fragments {
            config.push_str(&format!("# fragment {}\n{contents}\n", path.display()));
        }
        std::fs::write(out.join(".config"), config)?;
        make(&mut file, "olddefconfig")?;
        let final_config = std::fs::read_to_string(out.join(".config"))?;
        for (path, contents) in &variant.config.fragments {
            let dropped = build::dropped_symbols(contents, &final_config);
            if !dropped.is_empty() {
                bail!(
                    "{} ({}): Kconfig dropped {}: the symbol does not exist or its dependencies \
                     are not met for this architecture; add what it depends on to the fragment \
                     (see `make O={} {}menuconfig`)",
                    crate::config::display(path),
                    variant.label,
                    dropped.join(", "),
                    out.display(),
                    variant
                        .vars
                        .iter()
                        .filter(|v| v.starts_with("ARCH=") || v.starts_with("CROSS_COMPILE="))
                        .map(|v| format!("{v} "))
                        .collect::<String>()
                );
            }
        }
        std::fs::write(&stamp, &hash)?;
        Ok(())
    }
}

/// Removes the objects under the goals (all of `out` for vmlinux), so
/// the next make compiles every one of them again.
fn forget_objects(out: &Path, goals: &[String]) -> Result<()> {
    let dirs: Vec<PathBuf> = if goals.iter().any(|g| g == "vmlinux") {
        vec![out.to_path_buf()]
    } else {
        goals
            .iter()
            .map(|g| out.join(g.trim_end_matches('/')))
            .collect()
    };
    fn walk(dir: &Path) -> std::io::Result<()> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                walk(&path)?;
            } else if path.extension().is_some_and(|e| e == "o") {
                std::fs::remove_file(&path)?;
            }
        }
        Ok(())
    }
    for dir in dirs {
        walk(&dir).with_context(|| format!("removing the objects under {}", dir.display()))?;
    }
    Ok(())
}

fn checkout(dir: &Path, commit: &str) -> Result<()> {
    super::builds::checkout(dir, commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_are_read_from_gcc_sparse_and_ld_lines() {
        let log = "\
  CC      drivers/pci/pci-sysfs.o
../drivers/pci/pci-sysfs.c: In function 'gsi_show':
../drivers/pci/pci-sysfs.c:123:13: warning: variable ‘ret’ set but not used [-Wunused-but-set-variable]
../include/linux/acpi.h:10:5: error: 'nr_ioapics' undeclared (first use in this function)
../include/linux/acpi.h:10:5: error: 'nr_ioapics' undeclared (first use in this function)
  CHECK   ../drivers/pci/pci-sysfs.c
../drivers/pci/pci-sysfs.c:130:26: warning: Using plain integer as NULL pointer
ld: drivers/pci/pci-sysfs.o: in function `gsi_show': pci-sysfs.c:(.text+0x1): undefined reference to `acpi_foo'
make[4]: *** [../scripts/Makefile.build:229: drivers/pci/pci-sysfs.o] Error 1
";
        let d = diagnostics(log);
        assert_eq!(d.len(), 4, "{d:#?}");
        assert_eq!(
            d.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            vec![
                "drivers/pci/pci-sysfs.c:123: warning: variable 'ret' set but not used \
                 [-Wunused-but-set-variable]",
                "drivers/pci/pci-sysfs.c:130: warning: Using plain integer as NULL pointer",
                "drivers/pci/pci-sysfs.o: error: undefined reference to `acpi_foo'",
                "include/linux/acpi.h:10: error: 'nr_ioapics' undeclared (first use in this \
                 function)",
            ]
        );
        assert!(from_gcc(&d[0]));
        assert!(!from_gcc(&d[1]));
    }

    #[test]
    fn only_diagnostics_beyond_the_base_count_are_new() {
        let d = |file: &str, line: u32, msg: &str| Diagnostic {
            file: file.into(),
            line,
            severity: "warning".into(),
            message: msg.into(),
        };
        let base = vec![d("a.c", 10, "x"), d("a.c", 20, "y")];
        // Moved lines are the same warnings; a second `x` is new.
        let now = vec![d("a.c", 12, "x"), d("a.c", 22, "y"), d("a.c", 40, "x")];
        assert_eq!(new_diagnostics(&base, &now), vec![d("a.c", 40, "x")]);
        assert!(new_diagnostics(&base, &base[..1]).is_empty());
        assert_eq!(new_diagnostics(&[], &base), base);
        assert_eq!(parse_store(&store_text(&base)), base);
    }

    #[test]
    fn every_variant_has_its_own_o_dir_but_the_matrix_configs() {
        let config = |base: &str| KernelConfig {
            base: base.into(),
            fragments: Vec::new(),
            variant: None,
        };
        let plain = Variant::new("build-x86_64", "x86_64", config("tinyconfig"));
        let w1 = Variant {
            vars: vec!["W=1".into()],
            ..plain.clone()
        };
        assert_eq!(
            plain.dir_name(),
            format!(".build-{}", &config("tinyconfig").hash()[..12])
        );
        assert_ne!(plain.dir_name(), w1.dir_name());
        assert_ne!(
            plain.dir_name(),
            Variant::new("a", "b", config("allnoconfig")).dir_name()
        );
    }
}

//! The reports and the CI plumbing as CI uses them: the built `xtask`
//! binary runs every `cargo xtask` line of .github/workflows/matrix.yml
//! (the ones that build or boot kernels stop at `--list` or `--help`),
//! on fixture shard reports; the JUnit it writes is read back with a real
//! XML parser and validated against a JUnit schema with xmllint.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Runs `xtask args` in `dir`; returns success, stdout, stdout+stderr.
fn xtask(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(dir)
        .env(
            "GSI_WORK_DIR",
            std::env::temp_dir().join("gsi-report-cli-test-unused"),
        )
        .env_remove("GSI_CONFIG_DIR")
        .output()
        .expect("running xtask");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    (out.status.success(), stdout, all)
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (success, stdout, all) = xtask(dir, args);
    assert!(success, "xtask {args:?} failed:\n{all}");
    stdout
}

fn fails(dir: &Path, args: &[&str]) -> String {
    let (success, _, all) = xtask(dir, args);
    assert!(!success, "xtask {args:?} should have failed:\n{all}");
    all
}

/// A CI workspace after the boot jobs: `shards/<n>/shard.json` with the
/// console logs beside it, as actions/download-artifact lays them out.
/// The logs carry what guest consoles do: ANSI colour, CRLF, NUL, BEL and
/// text that looks like XML.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (n, name) in [(0, "shard-1.json"), (1, "shard-2.json")] {
        let shard = dir.path().join(format!("shards/shard-{n}"));
        std::fs::create_dir_all(&shard).unwrap();
        std::fs::copy(fixtures().join(name), shard.join("shard.json")).unwrap();
    }
    let log = |shard: u32, path: &str, text: &[u8]| {
        let path = dir.path().join(format!("shards/shard-{shard}/{path}"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    log(
        0,
        "logs/v4/microvm.console.log",
        b"[    0.000000] Linux version 6.12.117\r\n\x1b[1;31mgsi-suite\x1b[0m: <device> & ]]> \x00\x07done\r\n\xff\xfe bytes\n",
    );
    log(
        1,
        "logs/baseline/microvm.console.log",
        b"[    1.200000] Kernel panic - not syncing: VFS: Unable to mount root fs\n",
    );
    dir
}

/// Every `cargo xtask` line of the workflow, as written there, and what
/// this file runs for it (`$PROFILE`, `$SHARDS`, `$SHARD` and the shell
/// glob filled in). Lines that build or boot kernels are checked up to
/// the point where they would start building: `--list` resolves the
/// same selection and shard, `--help` proves the verb and flags parse.
const WORKFLOW_LINES: &[(&str, &[&str])] = &[
    (
        r#"cargo xtask test-matrix --list --format github --profile "$PROFILE" --shard "*/$SHARDS""#,
        &["test-matrix", "--list", "--format", "github", "--profile", "smoke", "--shard", "*/2"],
    ),
    ("cargo xtask kernel build", &["kernel", "build", "--help"]),
    (
        r#"cargo xtask test-matrix --profile "$PROFILE" --shard "$SHARD" --json shard.json --junit shard.xml"#,
        &[
            "test-matrix", "--profile", "smoke", "--shard", "2/2", "--json", "shard.json",
            "--junit", "shard.xml", "--list",
        ],
    ),
    (
        "cargo xtask report merge shards/*/shard.json --out merged.json",
        &[
            "report", "merge", "shards/shard-0/shard.json", "shards/shard-1/shard.json", "--out",
            "merged.json",
        ],
    ),
    (
        "cargo xtask report render --from merged.json --junit merged.xml --markdown tested-on.md --tested-on tested-on.txt --table",
        &[
            "report", "render", "--from", "merged.json", "--junit", "merged.xml", "--markdown",
            "tested-on.md", "--tested-on", "tested-on.txt", "--table",
        ],
    ),
];

/// The `cargo xtask` command lines of a workflow file: from `cargo xtask`
/// to the end of the line, without a trailing redirection or pipe.
fn cargo_xtask_lines(yaml: &str) -> Vec<String> {
    yaml.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.find("cargo xtask").map(|at| &l[at..]))
        .map(|cmd| {
            let end = [" > ", " >> ", " | ", " && ", ")"]
                .iter()
                .filter_map(|sep| cmd.find(sep))
                .min()
                .unwrap_or(cmd.len());
            cmd[..end].split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .collect()
}

#[test]
fn every_cargo_xtask_line_of_the_workflow_is_tested() {
    let path = root().join(".github/workflows/matrix.yml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    let lines = cargo_xtask_lines(&yaml);
    assert!(lines.len() >= 5, "{lines:#?}");
    let tested: Vec<&str> = WORKFLOW_LINES.iter().map(|(line, _)| *line).collect();
    for line in &lines {
        assert!(
            tested.contains(&line.as_str()),
            "{}: `{line}` is not run by this test; add it to WORKFLOW_LINES",
            path.display()
        );
    }
    for line in tested {
        assert!(
            lines.iter().any(|l| l == line),
            "WORKFLOW_LINES has `{line}`, which the workflow no longer runs"
        );
    }
    for job in ["plan:", "build:", "boot:", "merge:"] {
        assert!(yaml.contains(&format!("\n  {job}\n")), "no job {job}");
    }
    assert!(yaml.contains("fromJSON(needs.plan.outputs.matrix)"));
    assert!(yaml.contains("actions/cache"));
    assert!(yaml.contains("path: target/gsi"));
}

#[test]
fn the_workflow_lines_run_end_to_end_on_fixture_shards() {
    let ws = workspace();
    let dir = ws.path();

    // plan: one job per shard, together covering the smoke profile once.
    let (_, plan) = WORKFLOW_LINES[0];
    let matrix: serde_json::Value = serde_json::from_str(&ok(dir, plan)).unwrap();
    let include = matrix["include"].as_array().unwrap();
    assert_eq!(include.len(), 2, "{matrix}");
    assert_eq!(include[0]["shard"], "1/2");
    let mut pairs: Vec<&str> = include
        .iter()
        .flat_map(|j| j["pairs"].as_str().unwrap().split(' '))
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        ["baseline/microvm", "baseline/q35", "v4/microvm", "v4/q35"]
    );

    // build: the verb and its flags exist (building is the e2e test's job).
    let (_, build) = WORKFLOW_LINES[1];
    assert!(ok(dir, build).contains("Usage"));

    // boot: the same selection and shard resolve; --list stops before building.
    let (_, boot) = WORKFLOW_LINES[2];
    let listed = ok(dir, boot);
    assert!(listed.contains("2/2    baseline  q35\n"), "{listed}");
    assert!(listed.contains("2/2    v4        q35\n"), "{listed}");
    assert!(!listed.contains("1/2"), "{listed}");
    assert!(!dir.join("shard.json").exists());

    // merge
    let (_, merge) = WORKFLOW_LINES[3];
    let said = ok(dir, merge);
    assert!(
        said.contains("merged 2 report(s): 5 runs, 2 passed"),
        "{said}"
    );
    let merged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("merged.json")).unwrap()).unwrap();
    let runs: Vec<String> = merged["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{}/{}", r["revision"], r["topology"]).replace('"', ""))
        .collect();
    assert_eq!(
        runs,
        [
            "baseline/microvm",
            "baseline/q35",
            "v4/microvm",
            "v4/q35",
            "v5/q35"
        ]
    );

    // render
    let (_, render) = WORKFLOW_LINES[4];
    let table = ok(dir, render);
    assert!(table.contains("kernel-panic 0/0"), "{table}");
    check_junit(&dir.join("merged.xml"));
    let md = std::fs::read_to_string(dir.join("tested-on.md")).unwrap();
    assert!(md.starts_with("Tested on:\n"), "{md}");
    assert!(md.contains("sha256 3c1e8d1e4b7c)"), "{md}");
    assert!(
        md.contains("- v4: 2 trial(s) on microvm, q35: v4 prints 0 for a device"),
        "{md}"
    );
    assert!(md.contains("- q35: q35 (ICH9)"), "{md}");
    let text = std::fs::read_to_string(dir.join("tested-on.txt")).unwrap();
    assert!(text.starts_with("Tested on:\n"), "{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 75), "{text}");
    assert!(!text.contains('|') && !text.contains('`'), "{text}");
}

/// Counts, element shapes and content of the merged fixture's JUnit, read
/// with a real XML parser, then the schema check.
fn check_junit(path: &Path) {
    let xml = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    // 2 + 3 trials, 1 synthetic boot (panic), 3 trials, 1 synthetic (build).
    assert_eq!(root.attribute("tests"), Some("10"), "{xml}");
    assert_eq!(root.attribute("failures"), Some("3"), "{xml}");
    assert_eq!(root.attribute("skipped"), Some("1"), "{xml}");
    assert_eq!(root.attribute("errors"), Some("0"), "{xml}");
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    let names: Vec<&str> = suites.iter().filter_map(|s| s.attribute("name")).collect();
    assert_eq!(
        names,
        [
            "baseline/microvm",
            "baseline/q35",
            "v4/microvm",
            "v4/q35",
            "v5/q35"
        ]
    );
    let counted: usize = suites
        .iter()
        .map(|s| s.attribute("tests").unwrap().parse::<usize>().unwrap())
        .sum();
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    assert_eq!(counted, cases);
    let case = |suite: usize, name: &str| {
        suites[suite]
            .children()
            .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no testcase {name} in suite {suite}"))
    };
    let panic = case(0, "boot");
    assert_eq!(panic.attribute("classname"), Some("baseline.microvm"));
    let failure = panic
        .children()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert!(failure
        .attribute("message")
        .unwrap()
        .starts_with("kernel-panic: Kernel panic"));
    let build = case(4, "boot");
    assert!(build
        .children()
        .any(|n| n.has_tag_name("failure") && n.attribute("type") == Some("build-failed")));
    let xfail = case(3, "nopin::gsi-none");
    assert!(xfail.children().any(|n| n.has_tag_name("system-out")));
    assert!(!xfail.children().any(|n| n.has_tag_name("failure")));
    assert!(case(2, "msi::gsi-msi")
        .children()
        .any(|n| n.has_tag_name("skipped")));
    let out = |suite: usize| {
        suites[suite]
            .children()
            .find(|n| n.has_tag_name("system-out"))
            .and_then(|n| n.text())
            .map(str::to_string)
    };
    assert_eq!(out(1), None, "a passing run carries no log");
    let console = out(2).unwrap();
    assert!(
        console.contains("gsi-suite: <device> & ]]> done\n\u{fffd}\u{fffd} bytes\n"),
        "{console:?}"
    );
    assert!(out(0).unwrap().contains("Kernel panic - not syncing"));
    assert!(out(4).unwrap().contains("not available here"));

    if let Err(err) = xmllint(path) {
        panic!("{} does not validate:\n{err}", path.display());
    }
}

/// Validates against tests/fixtures/junit.xsd; the error is xmllint's.
/// A machine without xmllint fails here, the install command first in the
/// message: skipping would pass without checking. (`cargo xtask
/// test-matrix` and `cargo xtask ci` install it.)
fn xmllint(path: &Path) -> Result<(), String> {
    if xtask::sys::tools::find_on_path("xmllint").is_none() {
        panic!(
            "{}\nxmllint (Debian libxml2-utils) is missing: it validates the JUnit output against its schema",
            xtask::sys::tools::install_command(&["libxml2-utils"])
        );
    }
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(fixtures().join("junit.xsd"))
        .arg(path)
        .output()
        .unwrap();
    match out.status.success() {
        true => Ok(()),
        false => Err(String::from_utf8_lossy(&out.stderr).to_string()),
    }
}

#[test]
fn the_schema_check_catches_a_bad_document() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.xml");
    std::fs::write(
        &bad,
        "<testsuites><testsuite name='x' tests='one'><testcase name='a'/></testsuite></testsuites>",
    )
    .unwrap();
    let err = xmllint(&bad).unwrap_err();
    assert!(
        err.contains("'tests'") && err.contains("'one'") && !err.contains("junit.xsd:"),
        "{err}"
    );
    let good = dir.path().join("good.xml");
    std::fs::write(
        &good,
        "<testsuites><testsuite name='x' tests='1'><testcase name='a'/></testsuite></testsuites>",
    )
    .unwrap();
    xmllint(&good).unwrap();
}

#[test]
fn merge_refuses_other_pins_and_duplicate_pairs() {
    let ws = workspace();
    let dir = ws.path();
    std::fs::copy(fixtures().join("other-pin.json"), dir.join("other.json")).unwrap();
    let err = fails(
        dir,
        &[
            "report",
            "merge",
            "shards/shard-0/shard.json",
            "other.json",
            "--out",
            "m.json",
        ],
    );
    assert!(
        err.contains("other.json was tested on a different kernel than shards/shard-0/shard.json"),
        "{err}"
    );
    assert!(
        err.contains("6.12.118") && err.contains("6.12.117"),
        "{err}"
    );

    std::fs::copy(
        dir.join("shards/shard-0/shard.json"),
        dir.join("again.json"),
    )
    .unwrap();
    let err = fails(
        dir,
        &[
            "report",
            "merge",
            "shards/shard-0/shard.json",
            "again.json",
            "--out",
            "m.json",
        ],
    );
    assert!(
        err.contains("baseline/q35 is in both shards/shard-0/shard.json and again.json"),
        "{err}"
    );
    assert!(!dir.join("m.json").exists());
    let err = fails(dir, &["report", "merge", "--out", "m.json"]);
    assert!(err.contains("<JSON>"), "{err}");
}

#[test]
fn render_prints_the_table_by_default_and_reads_only_reports() {
    let ws = workspace();
    let dir = ws.path();
    let table = ok(
        dir,
        &["report", "render", "--from", "shards/shard-0/shard.json"],
    );
    assert!(table.contains("test-failed 1/3 (1 xfail) [1]"), "{table}");
    assert!(table.contains("\n[1] v4/microvm: rng::gsi\n"), "{table}");
    std::fs::write(dir.join("not.json"), "{}").unwrap();
    let err = fails(dir, &["report", "render", "--from", "not.json"]);
    assert!(err.contains("not a gsi-workbench JSON report"), "{err}");
    let err = fails(dir, &["report", "render", "--from", "missing.json"]);
    assert!(err.contains("missing.json"), "{err}");
}

#[test]
fn list_formats_and_shards() {
    let dir = std::env::temp_dir();
    let plain = ok(&dir, &["test-matrix", "--list", "--profile", "smoke"]);
    assert_eq!(plain.lines().count(), 5, "{plain}");
    assert!(plain.contains("1/1    v4        q35"), "{plain}");

    let one = ok(
        &dir,
        &[
            "test-matrix",
            "--list",
            "--profile",
            "smoke",
            "-r",
            "v4",
            "--shard",
            "1/2",
        ],
    );
    assert_eq!(one, "shard  revision  topology\n1/2    v4        microvm\n");

    let gitlab = ok(
        &dir,
        &[
            "test-matrix",
            "--list",
            "--format",
            "gitlab",
            "--profile",
            "smoke",
            "--shard",
            "*/3",
        ],
    );
    assert!(gitlab.starts_with("parallel:\n  matrix:\n"), "{gitlab}");
    assert_eq!(gitlab.matches("- SHARD:").count(), 3, "{gitlab}");

    for bad in ["0/2", "3/2", "two", "1/0"] {
        let err = fails(
            &dir,
            &[
                "test-matrix",
                "--list",
                "--profile",
                "smoke",
                "--shard",
                bad,
            ],
        );
        assert!(err.contains("i/n"), "{bad}: {err}");
    }
    let err = fails(
        &dir,
        &[
            "test-matrix",
            "--list",
            "--profile",
            "smoke",
            "-r",
            "v4",
            "-t",
            "q35",
            "--shard",
            "2/2",
        ],
    );
    assert!(err.contains("shard 2/2 selects none of the 1"), "{err}");
    let err = fails(
        &dir,
        &[
            "test-matrix",
            "--profile",
            "smoke",
            "--shard",
            "*/2",
            "--no-install",
        ],
    );
    assert!(err.contains("only works with --list"), "{err}");
    let err = fails(&dir, &["test-matrix", "--format", "github"]);
    assert!(err.contains("--list"), "{err}");
}

//! `cargo xtask bench` as a user meets it: help that names every section
//! and its cost, and bad input refused before any work starts.

use std::process::Command;

fn xtask(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env(
            "GSI_WORK_DIR",
            std::env::temp_dir().join("gsi-bench-cli-test-unused"),
        )
        .output()
        .expect("running xtask");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn bench_has_help_naming_each_section() {
    let (ok, text) = xtask(&["bench", "--help"]);
    assert!(ok, "{text}");
    assert!(text.contains("Usage"), "{text}");
    for flag in ["--cold", "--vng", "--flake", "--boots", "--json", "--only"] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
    let (_, verbs) = xtask(&[]);
    assert!(verbs.contains("bench"), "{verbs}");
}

#[test]
fn bench_refuses_bad_counts_and_sections_before_any_work() {
    let (ok, text) = xtask(&["bench", "--boots", "0"]);
    assert!(!ok);
    assert!(text.contains("at least 1"), "{text}");
    let (ok, text) = xtask(&["bench", "--only", "lukewarm"]);
    assert!(!ok);
    assert!(text.contains("warm") && text.contains("flake"), "{text}");
    assert!(
        !std::env::temp_dir()
            .join("gsi-bench-cli-test-unused/bench")
            .exists(),
        "a refused bench wrote into the work dir"
    );
}

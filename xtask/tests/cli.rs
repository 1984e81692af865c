//! The command line as a user meets it: verbs listed, `--help` everywhere,
//! bad input answered with the known names and no work done.

mod common;

fn xtask(args: &[&str]) -> (bool, String) {
    common::xtask_in(&std::env::temp_dir().join("gsi-cli-test-unused"), args)
}

#[test]
fn no_argument_lists_the_verbs() {
    let (ok, text) = xtask(&[]);
    assert!(!ok);
    for verb in ["test-matrix", "kernel", "boot"] {
        assert!(text.contains(verb), "{verb} missing from:\n{text}");
    }
}

#[test]
fn every_verb_has_help() {
    for verb in [
        &["test-matrix"][..],
        &["kernel", "fetch"],
        &["kernel", "build"],
        &["boot"],
    ] {
        let mut args = verb.to_vec();
        args.push("--help");
        let (ok, text) = xtask(&args);
        assert!(ok, "{args:?}: {text}");
        assert!(text.contains("Usage"), "{args:?}: {text}");
    }
}

#[test]
fn unknown_names_list_the_known_ones() {
    let (ok, text) = xtask(&["test-matrix", "--topology", "sparc64", "--no-install"]);
    assert!(!ok);
    assert!(text.contains("unknown topology \"sparc64\""), "{text}");
    assert!(text.contains("q35") && text.contains("microvm"), "{text}");

    let (ok, text) = xtask(&["test-matrix", "--revision", "v99", "--no-install"]);
    assert!(!ok);
    assert!(
        text.contains("unknown revision \"v99\"") && text.contains("baseline"),
        "{text}"
    );

    let (ok, text) = xtask(&["test-matrix", "--profile", "nightly", "--no-install"]);
    assert!(!ok);
    assert!(
        text.contains("unknown profile \"nightly\"") && text.contains("smoke"),
        "{text}"
    );
}

// `cargo xtask bench`: help that names every section and its cost, and
// bad input refused before any work starts.

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

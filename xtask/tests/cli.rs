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

/// The names under `Commands:` in a `--help` text, without `help`.
fn commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_verb_has_help() {
    // The verbs as the binary lists them, so a new verb is covered too;
    // a verb with its own verbs (kernel, report) down to the leaves.
    let (_, top) = xtask(&["--help"]);
    let mut queue: Vec<Vec<String>> = commands(&top).into_iter().map(|v| vec![v]).collect();
    assert!(queue.len() >= 8, "too few verbs in:\n{top}");
    let mut checked = Vec::new();
    while let Some(verb) = queue.pop() {
        let mut args: Vec<&str> = verb.iter().map(String::as_str).collect();
        args.push("--help");
        let (ok, text) = xtask(&args);
        assert!(ok, "{args:?}: {text}");
        assert!(
            text.contains(&format!("Usage: cargo xtask {}", verb.join(" "))),
            "{args:?}: {text}"
        );
        for sub in commands(&text) {
            queue.push(verb.iter().cloned().chain([sub]).collect());
        }
        checked.push(verb.join(" "));
    }
    checked.sort();
    for leaf in [
        "kernel build",
        "kernel fetch",
        "report merge",
        "bench",
        "ci",
    ] {
        assert!(
            checked.iter().any(|c| c == leaf),
            "{leaf} not in {checked:?}"
        );
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
    // A work dir of this test's own that does not exist yet: a refused
    // bench must not even create it.
    let scratch = tempfile::tempdir().unwrap();
    let work = scratch.path().join("work");
    let bench = |args: &[&str]| common::xtask_in(&work, args);
    let (ok, text) = bench(&["bench", "--boots", "0"]);
    assert!(!ok);
    assert!(text.contains("at least 1"), "{text}");
    let (ok, text) = bench(&["bench", "--only", "lukewarm"]);
    assert!(!ok);
    assert!(text.contains("warm") && text.contains("flake"), "{text}");
    assert!(
        !work.exists(),
        "a refused bench wrote into its work dir {}",
        work.display()
    );
}

//! The command line as a user meets it: verbs listed, `--help` everywhere,
//! bad input answered with the known names and no work done.

use std::process::Command;

fn xtask(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env(
            "GSI_WORK_DIR",
            std::env::temp_dir().join("gsi-cli-test-unused"),
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

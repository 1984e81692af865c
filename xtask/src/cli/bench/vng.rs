//! virtme-ng side by side: the tool kernel developers reach for to boot a
//! kernel in QEMU and run one command. Installed from PyPI into a venv
//! under `target/gsi/vng/`, its kernel configured its own way
//! (`vng --kconfig`: x86 defconfig plus virtme's options) in a checkout of
//! the same pinned tree, built once with make and ccache (cached by the
//! config's hash), then `vng --run <bzImage> --disable-kvm --exec true`
//! timed a few times. When any step fails, the error text is the result:
//! never a made-up number.

use super::{round3, Setup, Stats};
use crate::sys::git::git;
use crate::sys::process::Cmd;
use crate::sys::progress::Reporter;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The virtme-ng release measured (pinned: its defaults change).
pub const VERSION: &str = "1.42";

/// How long one vng boot may take before it counts as hung.
const BOOT_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VngRun {
    pub version: String,
    pub kernel: String,
    /// Seconds the kernel build took in this run (`None`: cached).
    pub build_s: Option<f64>,
    /// Built-in symbols of its config (`=y`), against ours for scale.
    pub config_builtin: usize,
    pub command: Vec<String>,
    /// Wall seconds of each `vng --run ... --exec true`.
    pub boots: Stats,
    /// Boots vng ended with 255 (its guest init reported no exit code)
    /// and that were run again, once each; not in `boots`.
    #[serde(default)]
    pub retried: usize,
}

struct Layout {
    dir: PathBuf,
    venv: PathBuf,
    src: PathBuf,
    out: PathBuf,
}

fn layout(setup: &Setup) -> Layout {
    let dir = crate::work_dir().join("vng");
    Layout {
        venv: dir.join("venv"),
        src: dir.join(format!("src-{}", setup.pin.key)),
        out: dir.join(format!("out-{}", setup.pin.key)),
        dir,
    }
}

/// PATH with the venv's bin first (vng calls its sibling scripts by name).
fn path_with(venv: &Path) -> std::ffi::OsString {
    let mut paths = vec![venv.join("bin")];
    if let Some(old) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&old));
    }
    std::env::join_paths(paths).unwrap_or_default()
}

fn ensure_venv(l: &Layout, reporter: &Reporter) -> Result<()> {
    let vng = l.venv.join("bin/vng");
    if vng.is_file() {
        let have = Cmd::new(&vng).arg("--version").read().unwrap_or_default();
        if have.contains(VERSION) {
            return Ok(());
        }
    }
    reporter.note(format!(
        "vng: installing virtme-ng {VERSION} into {}",
        crate::config::display(&l.venv)
    ));
    let venv = &l.venv;
    let make_venv = || {
        Cmd::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(venv)
            .run()
    };
    if make_venv().is_err() {
        // Debian's python3 has no ensurepip without python3-venv.
        Cmd::new("apt-get")
            .args(["install", "-y", "-q", "python3-venv"])
            .run()
            .context(
                "python3 -m venv failed and python3-venv could not be installed (apt-get install python3-venv)",
            )?;
        make_venv()?;
    }
    let spec = format!("virtme-ng=={VERSION}");
    Cmd::new(l.venv.join("bin/pip"))
        .args(["install", "-q", &spec])
        .run()
        .with_context(|| format!("pip install {spec} into {}", venv.display()))?;
    Ok(())
}

/// A plain checkout of the pinned tree (not hard links: nothing may write
/// through to the pin), configured with `vng --kconfig O=...`.
fn ensure_config(setup: &Setup, l: &Layout, reporter: &Reporter) -> Result<()> {
    if !l.src.join("Makefile").is_file() {
        reporter.note(format!(
            "vng: checking out the pinned tree into {} (about a minute)",
            crate::config::display(&l.src)
        ));
        let (repo, src, base) = (&setup.pin.repo, &l.src, &setup.pin.base);
        let _ = std::fs::remove_dir_all(src);
        git(repo, &["worktree", "prune"])?;
        crate::sys::git::add_worktree(repo, src, base, true)
            .context("checking out the pinned tree for virtme-ng")?;
    }
    if !l.out.join(".config").is_file() {
        reporter.note("vng: vng --kconfig (its recommended config)");
        let out = Cmd::new(l.venv.join("bin/vng"))
            .arg("--kconfig")
            .arg(format!("O={}", l.out.display()))
            .dir(&l.src)
            .env("PATH", path_with(&l.venv))
            .output()?;
        if !out.status.success() {
            let _ = std::fs::remove_file(l.out.join(".config"));
            bail!(
                "vng --kconfig failed: {}",
                tail(
                    &format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    ),
                    10
                )
            );
        }
    }
    Ok(())
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The cached bzImage, building it when its config changed or it is missing.
fn ensure_kernel(setup: &Setup, l: &Layout, reporter: &Reporter) -> Result<(PathBuf, Option<f64>)> {
    let config = std::fs::read_to_string(l.out.join(".config"))?;
    let key =
        &crate::sha256_hex(format!("{}\n{VERSION}\n{config}", setup.pin.key).as_bytes())[..16];
    let image = l.dir.join("kernels").join(key).join("bzImage");
    let sum = image.with_extension("sha256");
    if let (Ok(want), true) = (std::fs::read_to_string(&sum), image.is_file()) {
        if crate::sha256_file(&image)? == want.trim() {
            return Ok((image, None));
        }
    }
    reporter.note(
        "vng: building its kernel (x86 defconfig + virtme options, ccache): about an hour of 2 cores the first time",
    );
    let started = Instant::now();
    let rev = crate::pipeline::revision::Revision {
        name: "virtme-ng".into(),
        dir: l.src.clone(),
        patches: vec![],
        hash: String::new(),
        source_hash: String::new(),
        origin: None,
    };
    let log = l.dir.join("build.log");
    let mut file = std::fs::File::create(&log)?;
    let jobs = format!("-j{}", crate::pipeline::selection::cores());
    crate::pipeline::build::make(
        &l.src,
        &l.out,
        &[&jobs, "bzImage"],
        &mut file,
        &rev,
        reporter,
    )?;
    let bytes = std::fs::read(l.out.join("arch/x86/boot/bzImage"))?;
    crate::write_atomic(&image, &bytes)?;
    crate::write_atomic(&sum, crate::sha256_hex(&bytes).as_bytes())?;
    Ok((image, Some(round3(started.elapsed().as_secs_f64()))))
}

/// The command line of one timed boot.
pub fn boot_command(vng: &Path, image: &Path) -> Vec<String> {
    vec![
        vng.display().to_string(),
        "--run".into(),
        image.display().to_string(),
        "--disable-kvm".into(),
        "--skip-modules".into(),
        "--exec".into(),
        "true".into(),
    ]
}

pub fn run(setup: &Setup, boots: usize, reporter: &Reporter) -> Result<VngRun> {
    reporter.stage(format!(
        "bench vng: virtme-ng {VERSION} with its own config, {boots} boots of `--exec true` under TCG"
    ));
    let l = layout(setup);
    std::fs::create_dir_all(&l.dir)?;
    crate::sys::tools::ensure(crate::sys::tools::VNG, true, reporter)?;
    ensure_venv(&l, reporter)?;
    ensure_config(setup, &l, reporter)?;
    let (image, build_s) = ensure_kernel(setup, &l, reporter)?;
    let config_builtin = std::fs::read_to_string(l.out.join(".config"))?
        .lines()
        .filter(|l| l.starts_with("CONFIG_") && l.ends_with("=y"))
        .count();
    let command = boot_command(&l.venv.join("bin/vng"), &image);
    let mut secs = Vec::new();
    let (mut retried, mut retried_boot) = (0, None);
    let mut i = 0;
    while i < boots {
        let started = Instant::now();
        let handle = Cmd::new(&command[0])
            .args(&command[1..])
            .env("PATH", path_with(&l.venv))
            .dir(&l.dir)
            .stderr_to_stdout()
            .start()
            .context("starting vng")?;
        let output = loop {
            if let Some(output) = handle.try_wait()? {
                break Some(output.clone());
            }
            if started.elapsed() > BOOT_LIMIT {
                let _ = handle.kill();
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        drop(handle);
        crate::sys::process::park_if_interrupted();
        let elapsed = started.elapsed().as_secs_f64();
        let Some(output) = output else {
            bail!(
                "`{}` did not end within {:?}",
                command.join(" "),
                BOOT_LIMIT
            );
        };
        // vng's own code for "the script's exit code never came back":
        // seen in about one boot of five here, its own flake. Run again,
        // once per boot; the count goes into the report.
        if output.status.code() == Some(255) && retried_boot != Some(i) {
            retried_boot = Some(i);
            retried += 1;
            reporter.send(crate::sys::progress::Event::Warn(format!(
                "vng: boot {}/{boots} ended 255 after {elapsed:.2} s (no exit code from its guest init); running it again",
                i + 1
            )));
            continue;
        }
        if !output.status.success() {
            let hint = if output.status.code() == Some(255) {
                "\nvng says 255 when its guest init reported no exit code; run the command by hand with --verbose to see the guest console"
            } else {
                ""
            };
            bail!(
                "`{}` failed ({}):\n{}{hint}",
                command.join(" "),
                output.status,
                tail(&String::from_utf8_lossy(&output.stdout), 15)
            );
        }
        reporter.note(format!("vng: boot {}/{boots}: {elapsed:.2} s", i + 1));
        secs.push(elapsed);
        i += 1;
    }
    Ok(VngRun {
        version: VERSION.into(),
        kernel: crate::config::display(&image),
        build_s,
        config_builtin,
        command,
        boots: Stats::of(&secs).expect("at least one boot"),
        retried,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boot_runs_one_command_without_kvm() {
        let cmd = boot_command(Path::new("/v/bin/vng"), Path::new("/k/bzImage"));
        assert_eq!(cmd[0], "/v/bin/vng");
        assert!(cmd
            .windows(2)
            .any(|w| w[0] == "--run" && w[1] == "/k/bzImage"));
        assert!(cmd.windows(2).any(|w| w[0] == "--exec" && w[1] == "true"));
        assert!(cmd.contains(&"--disable-kvm".to_string()));
    }

    #[test]
    fn the_venv_comes_first_on_path() {
        let p = path_with(Path::new("/x/venv"));
        let first = std::env::split_paths(&p).next().unwrap();
        assert_eq!(first, Path::new("/x/venv/bin"));
    }
}

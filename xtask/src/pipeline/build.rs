//! Kernel builds: one persistent `O=` directory per pin, revision and
//! config, ccache shared by all, and a cache of finished images keyed by
//! everything that goes into them. A finished image is copied out of `O=`
//! with a rename, so an interrupted build never leaves a usable-looking
//! bzImage behind.

use crate::pipeline::pin::Pin;
use crate::pipeline::revision::Revision;
use crate::sys::process::Cmd;
use crate::sys::progress::{Event, Reporter};
use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A built kernel.
#[derive(Debug, Clone)]
pub struct Build {
    /// Hash of everything the image depends on.
    pub key: String,
    pub bzimage: PathBuf,
    /// True when the image came from the cache without running make.
    pub cached: bool,
}

/// The cache key of `rev` built on `pin` with the pin's config: the
/// series enters by its diffs alone ([`Revision::source_hash`]), so a
/// reworded message, or the same patches under another name (a git
/// range), finds the kernel already built.
pub fn key(pin: &Pin, rev: &Revision) -> String {
    let text = format!(
        "layout 1\npin {} {}\nseries {}\nconfig {}\n",
        pin.key,
        pin.base,
        rev.source_hash,
        pin.config.hash()
    );
    crate::sha256_hex(text.as_bytes())[..16].to_string()
}

/// The intact cached image with this key: the revision's own
/// (`kernels/<slug>-<key>`) first, else one built under another name.
fn find_cached(kernels: &Path, slug: &str, key: &str, reporter: &Reporter) -> Option<PathBuf> {
    let own = kernels.join(format!("{slug}-{key}")).join("bzImage");
    if cached_image_is_intact(&own, reporter, true) {
        return Some(own);
    }
    let mut others: Vec<PathBuf> = std::fs::read_dir(kernels)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .ends_with(&format!("-{key}"))
        })
        .map(|e| e.path().join("bzImage"))
        .filter(|p| *p != own)
        .collect();
    others.sort();
    others
        .into_iter()
        .find(|p| cached_image_is_intact(p, reporter, false))
}

/// The ELF image QEMU boots a kernel from, beside its `bzImage` in the
/// cache: `-kernel vmlinux` enters at the PVH entry point (boot.config's
/// `CONFIG_PVH`), with no real-mode setup and no decompression under the
/// emulated CPU. Xen takes the bzImage as dom0's module.
pub fn pvh_image(bzimage: &Path) -> PathBuf {
    bzimage.with_file_name("vmlinux")
}

/// A cached kernel is used only when the recorded sha256 of both of its
/// images matches.
fn cached_image_is_intact(bzimage: &Path, reporter: &Reporter, warn: bool) -> bool {
    [bzimage.to_path_buf(), pvh_image(bzimage)]
        .iter()
        .all(|image| file_is_intact(image, reporter, warn))
}

fn file_is_intact(image: &Path, reporter: &Reporter, warn: bool) -> bool {
    let Ok(want) = std::fs::read_to_string(image.with_extension("sha256")) else {
        return false;
    };
    match crate::sha256_file(image) {
        Ok(found) if found == want.trim() => true,
        Ok(found) if warn => {
            reporter.send(Event::Warn(format!(
                "{} has sha256 {found}, recorded {}: rebuilding it",
                image.display(),
                want.trim()
            )));
            false
        }
        Ok(_) | Err(_) => false,
    }
}

/// The name of the `O=` directory inside a revision's tree; it survives a
/// re-application of the series (see [`crate::pipeline::revision::prepare`]).
pub fn build_dir_name(pin: &Pin) -> String {
    format!(
        "{}{}",
        crate::pipeline::revision::BUILD_DIR_PREFIX,
        &pin.config.hash()[..12]
    )
}

/// `rev`'s image directory name: its slug, and the pin's flavor (`v5-xen`
/// for v5's dom0 kernel). A variant's kernel differs by its key.
pub fn name(pin: &Pin, rev: &Revision) -> String {
    if pin.flavor.is_empty() {
        rev.slug()
    } else {
        format!("{}-{}", rev.slug(), pin.flavor)
    }
}

/// `v5`, `v5+debug` for a kernel variant, `v5 (xen kernel)` for the dom0
/// kernel (progress lines, notes).
pub fn label(pin: &Pin, rev: &Revision) -> String {
    let mut label = rev.name.clone();
    if let Some(variant) = &pin.config.variant {
        label.push_str(&format!("+{variant}"));
    }
    if !pin.flavor.is_empty() {
        label.push_str(&format!(" ({} kernel)", pin.flavor));
    }
    label
}

/// The build log of `rev`'s kernel on `pin`:
/// `target/gsi/logs/build-<name>[+<variant>].log`.
pub fn log_path(pin: &Pin, rev: &Revision) -> PathBuf {
    let variant = match &pin.config.variant {
        Some(v) => format!("+{v}"),
        None => String::new(),
    };
    crate::work_dir()
        .join("logs")
        .join(format!("build-{}{variant}.log", name(pin, rev)))
}
/// Returns the kernel for `rev`, building it when the cache has none.
pub fn build(pin: &Pin, rev: &Revision, jobs: usize, reporter: &Reporter) -> Result<Build> {
    let key = key(pin, rev);
    let kernels = crate::work_dir().join("kernels");
    let slug = name(pin, rev);
    let image_dir = kernels.join(format!("{slug}-{key}"));
    let bzimage = image_dir.join("bzImage");
    let log = log_path(pin, rev);
    let hit = |bzimage: PathBuf| Build {
        key: key.clone(),
        bzimage,
        cached: true,
    };
    if let Some(found) = find_cached(&kernels, &slug, &key, reporter) {
        return Ok(hit(found));
    }
    // Two runs that miss the cache at once: the second waits here and
    // then finds the first one's image instead of building it again.
    let trees = crate::work_dir().join("trees").join(&pin.key);
    let _lock = crate::sys::lock::Lock::acquire(
        &trees.join(format!("{}.build.lock", rev.slug())),
        reporter,
    )?;
    if cached_image_is_intact(&bzimage, reporter, false) {
        return Ok(hit(bzimage));
    }
    let started = Instant::now();
    reporter.send(Event::BuildStart {
        revision: label(pin, rev),
    });
    let result = build_uncached(pin, rev, jobs, &log, reporter);
    reporter.send(Event::BuildEnd {
        revision: label(pin, rev),
        built: result.is_ok(),
        secs: started.elapsed().as_secs_f64(),
    });
    let out = result?;
    std::fs::create_dir_all(&image_dir)?;
    // Each checksum is written after its image, bzImage's last: a kernel
    // without matching checksums is from an interrupted copy (or was
    // changed) and is rebuilt.
    for (from, to) in [
        (out.join("vmlinux"), pvh_image(&bzimage)),
        (out.join("arch/x86/boot/bzImage"), bzimage.clone()),
    ] {
        let image = std::fs::read(&from).with_context(|| format!("reading {}", from.display()))?;
        crate::write_atomic(&to, &image)?;
        crate::write_atomic(
            &to.with_extension("sha256"),
            crate::sha256_hex(&image).as_bytes(),
        )?;
    }
    Ok(Build {
        key,
        bzimage,
        cached: false,
    })
}

/// Applies and builds `rev`; returns its `O=` directory.
fn build_uncached(
    pin: &Pin,
    rev: &Revision,
    jobs: usize,
    log: &Path,
    reporter: &Reporter,
) -> Result<PathBuf> {
    // O= is a direct subdirectory of the revision's tree: kbuild then uses
    // `srctree := ..`, so every command line and preprocessed file is the
    // same byte for byte in every revision's tree, and ccache serves one
    // revision's objects to the next (a mutant costs the files it touches).
    let tree = crate::pipeline::revision::prepare(pin, rev, reporter)?;
    let out = tree.dir.join(build_dir_name(pin));
    std::fs::create_dir_all(&out)?;
    std::fs::create_dir_all(log.parent().unwrap())?;
    let mut log_file =
        std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    configure(pin, &tree.dir, &out, &mut log_file, rev, reporter)?;
    let jobs = jobs.max(1).to_string();
    make(
        &tree.dir,
        &out,
        &[&format!("-j{jobs}"), "bzImage"],
        &mut log_file,
        rev,
        reporter,
    )?;
    Ok(out)
}

/// `make <base>`, fragments, `olddefconfig`, then the survival check; skipped
/// when the O= dir already holds this exact config.
pub(crate) fn configure(
    pin: &Pin,
    tree: &Path,
    out: &Path,
    log: &mut std::fs::File,
    rev: &Revision,
    reporter: &Reporter,
) -> Result<()> {
    let stamp = out.join(".gsi-config-hash");
    let hash = pin.config.hash();
    if out.join(".config").is_file()
        && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&hash)
    {
        return Ok(());
    }
    let _ = std::fs::remove_file(&stamp);
    make(tree, out, &[&pin.config.base], log, rev, reporter)?;
    let mut config = std::fs::read_to_string(out.join(".config"))?;
    for (path, contents) in &pin.config.fragments {
        config.push_str(&format!("# fragment {}\n{contents}\n", path.display()));
    }
    std::fs::write(out.join(".config"), config)?;
    make(tree, out, &["olddefconfig"], log, rev, reporter)?;
    let final_config = std::fs::read_to_string(out.join(".config"))?;
    for (path, contents) in &pin.config.fragments {
        let dropped = dropped_symbols(contents, &final_config);
        if !dropped.is_empty() {
            bail!(
                "{}: Kconfig dropped {} (an unmet dependency; see `make O={} menuconfig` and search \
                 for the symbol): add what it depends on to the fragment",
                crate::config::display(path),
                dropped.join(", "),
                out.display()
            );
        }
    }
    std::fs::write(&stamp, &hash)?;
    Ok(())
}

/// The settings of `fragment` that `config` does not carry: `CONFIG_X=v`
/// must appear as is; `# CONFIG_X is not set` must not be set to anything.
pub fn dropped_symbols(fragment: &str, config: &str) -> Vec<String> {
    let set: std::collections::HashMap<&str, &str> = config
        .lines()
        .filter_map(|l| l.strip_prefix("CONFIG_").and_then(|l| l.split_once('=')))
        .collect();
    let mut dropped = Vec::new();
    for line in fragment.lines().map(str::trim) {
        if let Some((name, value)) = line.strip_prefix("CONFIG_").and_then(|l| l.split_once('=')) {
            if set.get(name) != Some(&value) {
                let found = set
                    .get(name)
                    .map_or("not set".to_string(), |v| format!("={v}"));
                dropped.push(format!("CONFIG_{name}={value} (found {found})"));
            }
        } else if let Some(name) = line
            .strip_prefix("# CONFIG_")
            .and_then(|l| l.strip_suffix(" is not set"))
        {
            if let Some(v) = set.get(name) {
                dropped.push(format!("CONFIG_{name} unset (found ={v})"));
            }
        }
    }
    dropped
}

/// Runs make in `tree` with `O=out`, streaming output to the log and to
/// progress; on failure the error quotes the last lines.
pub(crate) fn make(
    tree: &Path,
    out: &Path,
    args: &[&str],
    log: &mut std::fs::File,
    rev: &Revision,
    reporter: &Reporter,
) -> Result<()> {
    let work = crate::work_dir();
    let mut argv: Vec<String> = vec![
        "-C".into(),
        tree.display().to_string(),
        format!("O={}", out.display()),
        "CC=ccache gcc".into(),
        "HOSTCC=ccache gcc".into(),
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    writeln!(log, "$ make {}", argv.join(" "))?;
    let reader = Cmd::new("make")
        .args(&argv)
        .env("CCACHE_DIR", work.join("ccache"))
        .env("CCACHE_BASEDIR", &work)
        .env("CCACHE_NOHASHDIR", "1")
        .env("CCACHE_MAXSIZE", "5G")
        .env("KBUILD_BUILD_TIMESTAMP", "2024-01-01")
        .env("KBUILD_BUILD_USER", "gsi")
        .env("KBUILD_BUILD_HOST", "workbench")
        .env("LC_ALL", "C")
        .stderr_to_stdout()
        .reader()
        .context("starting make (is it installed? see `cargo xtask test-matrix` tool check)")?;
    let mut tail: std::collections::VecDeque<String> = Default::default();
    let mut lines = BufReader::new(&reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if lines.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&buf).trim_end().to_string();
        log.write_all(&buf)?;
        if tail.len() == 25 {
            tail.pop_front();
        }
        tail.push_back(line.clone());
        reporter.send(Event::BuildLine {
            revision: rev.name.clone(),
            line,
        });
    }
    crate::sys::process::park_if_interrupted();
    let status = reader
        .try_wait()?
        .map(|o| o.status)
        .context("make did not finish")?;
    if !status.success() {
        let tail: Vec<String> = tail.into_iter().collect();
        let hint = missing_command(&tail)
            .map(|cmd| {
                format!(
                    "\nmake ran `{cmd}`, which is not installed: install the Debian package \
                     that provides it (`apt-get install {cmd}` on most) and run again"
                )
            })
            .unwrap_or_default();
        bail!(
            "building revision {}: `make {}` failed ({status})\n{}{hint}\nfull log: {}",
            rev.name,
            args.join(" "),
            tail.join("\n"),
            log_path_hint(log)
        );
    }
    Ok(())
}

/// The command a failed make could not run, from the shell's own words
/// (`/bin/sh: 1: lz4: not found`, bash's `lz4: command not found`).
fn missing_command(lines: &[String]) -> Option<String> {
    lines.iter().find_map(|line| {
        let head = line
            .strip_suffix(": not found")
            .or_else(|| line.strip_suffix(": command not found"))?;
        let cmd = head.rsplit(": ").next()?.trim();
        (!cmd.is_empty() && !cmd.contains(' ')).then(|| cmd.to_string())
    })
}

fn log_path_hint(log: &std::fs::File) -> String {
    // The log is opened from a known path; recover it for the message.
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", log.as_raw_fd()))
        .map(|p| crate::config::display(&p))
        .unwrap_or_else(|_| "target/gsi/logs/".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_is_named_from_the_shells_words() {
        let lines = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // The tail of a real build on a machine without lz4.
        let dash = lines(&[
            "  LZ4     arch/x86/boot/compressed/vmlinux.bin.lz4",
            "/bin/sh: 1: lz4: not found",
            "make[4]: *** [../arch/x86/boot/compressed/Makefile:139: arch/x86/boot/compressed/vmlinux.bin.lz4] Error 127",
        ]);
        assert_eq!(missing_command(&dash).as_deref(), Some("lz4"));
        let bash = lines(&["bash: line 1: zstd: command not found"]);
        assert_eq!(missing_command(&bash).as_deref(), Some("zstd"));
        let compile_error = lines(&[
            "drivers/pci/pci-sysfs.c:12:10: fatal error: foo.h: No such file or directory",
            "make[4]: *** [scripts/Makefile.build:229: drivers/pci/pci-sysfs.o] Error 1",
        ]);
        assert_eq!(missing_command(&compile_error), None);
    }

    #[test]
    fn dropped_symbols_are_named() {
        let fragment = "CONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\nCONFIG_D=\"x\"\n# comment\n";
        let config = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=y\nCONFIG_D=\"x\"\n";
        assert_eq!(
            dropped_symbols(fragment, config),
            vec![
                "CONFIG_B=y (found not set)".to_string(),
                "CONFIG_C unset (found =y)".to_string()
            ]
        );
        assert!(dropped_symbols(fragment, "CONFIG_A=y\nCONFIG_B=y\nCONFIG_D=\"x\"\n").is_empty());
    }

    #[test]
    fn a_cached_kernel_needs_both_images_intact() {
        let dir = tempfile::tempdir().unwrap();
        let bzimage = dir.path().join("bzImage");
        let silent = Reporter::silent();
        let put = |path: &Path, bytes: &[u8]| {
            std::fs::write(path, bytes).unwrap();
            std::fs::write(path.with_extension("sha256"), crate::sha256_hex(bytes)).unwrap();
        };
        put(&bzimage, b"setup and lz4 payload");
        // A kernel cached before boots entered at the PVH entry point.
        assert!(!cached_image_is_intact(&bzimage, &silent, false));
        put(&pvh_image(&bzimage), b"\x7fELF with a PVH note");
        assert_eq!(pvh_image(&bzimage), dir.path().join("vmlinux"));
        assert!(cached_image_is_intact(&bzimage, &silent, false));
        // An interrupted copy of either image is not a kernel.
        std::fs::write(pvh_image(&bzimage), b"\x7fELF cut").unwrap();
        assert!(!cached_image_is_intact(&bzimage, &silent, false));
    }

    #[test]
    fn the_shipped_fragment_is_well_formed() {
        let text =
            std::fs::read_to_string(crate::project_root().join("configs/kernel/boot.config"))
                .unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                line.starts_with("CONFIG_") && line.contains('=')
                    || line.starts_with("# CONFIG_") && line.ends_with(" is not set")
                    || line.starts_with("# "),
                "malformed fragment line: {line:?}"
            );
        }
    }
}

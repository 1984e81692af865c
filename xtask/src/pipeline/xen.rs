//! The pinned hypervisor: `configs/xen.toml` resolved into a [`Xen`], the
//! verified .deb (fetched like the kernel's, `target/gsi/downloads/`) and
//! the ELF QEMU's multiboot loader boots, gunzipped from it once into
//! `target/gsi/xen/<sha256 of the .deb>/xen.elf` (temp file, then rename;
//! its own sha256 beside it, checked on every use).

use crate::config;
use crate::config::kernel::KernelConfig;
use crate::config::xen::XenToml;
use crate::sys::process::Cmd;
use crate::sys::progress::{Event, Reporter};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// A resolved hypervisor.
#[derive(Debug, Clone)]
pub struct Xen {
    /// Human form, e.g. `xen-hypervisor-4.17-amd64 4.17.7+13-...`.
    pub description: String,
    /// The ELF QEMU boots with `-kernel`.
    pub elf: PathBuf,
    /// sha256 of [`Xen::elf`]: an input of every stored result.
    pub elf_sha256: String,
    /// The dom0 kernel's config fragments (`[dom0] fragments`), read once.
    pub fragments: Vec<(PathBuf, String)>,
}

impl Xen {
    /// The dom0 kernel's config: `base`'s, then Xen's fragments.
    pub fn dom0_config(&self, base: &KernelConfig) -> KernelConfig {
        let mut config = base.clone();
        config.fragments.extend(self.fragments.iter().cloned());
        config
    }
}

/// Loads `configs/xen.toml` (or `path`), and fetches, verifies and unpacks
/// the hypervisor when the cache does not hold it.
pub fn resolve(path: &Path, reporter: &Reporter) -> Result<Xen> {
    let toml = XenToml::load(path)?;
    let mut fragments = Vec::new();
    for fragment in &toml.dom0.fragments {
        let file = config::resolve(path, fragment);
        let text = std::fs::read_to_string(&file).with_context(|| {
            format!(
                "{}: dom0.fragments names {}, which cannot be read",
                config::display(path),
                config::display(&file)
            )
        })?;
        fragments.push((file, text));
    }
    let s = &toml.source;
    let description = format!("{} {}", s.package, s.version);
    let dir = crate::work_dir().join("xen").join(&s.sha256[..16]);
    std::fs::create_dir_all(dir.parent().unwrap())?;
    let _lock = crate::sys::lock::Lock::acquire(&dir.with_extension("lock"), reporter)?;
    let elf = dir.join("xen.elf");
    let recorded = elf.with_extension("elf.sha256");
    if let (Ok(want), true) = (std::fs::read_to_string(&recorded), elf.is_file()) {
        let found = crate::sha256_file(&elf)?;
        if found == want.trim() {
            return Ok(Xen {
                description,
                elf,
                elf_sha256: found,
                fragments,
            });
        }
        reporter.send(Event::Warn(format!(
            "{} has sha256 {found}, recorded {}: unpacking it again",
            elf.display(),
            want.trim()
        )));
    }
    let deb = crate::pipeline::pin::download_deb(
        &s.package,
        &s.version,
        &s.sha256,
        s.suite.as_deref(),
        crate::pipeline::debian::XEN_PIN,
        reporter,
    )?;
    reporter.note(format!("xen: unpacking {} from {}", s.image, deb.display()));
    let bytes = gunzip_member(&deb, &s.image)?;
    std::fs::create_dir_all(&dir)?;
    // The checksum is written after the image: an ELF without a matching
    // checksum is from an interrupted unpack and is made again.
    let _ = std::fs::remove_file(&recorded);
    crate::write_atomic(&elf, &bytes)?;
    let sum = crate::sha256_hex(&bytes);
    crate::write_atomic(&recorded, sum.as_bytes())?;
    Ok(Xen {
        description,
        elf,
        elf_sha256: sum,
        fragments,
    })
}

/// `dpkg-deb --fsys-tarfile deb | tar -xO ./member | gunzip -c`, checked:
/// the result must be an ELF file.
fn gunzip_member(deb: &Path, member: &str) -> Result<Vec<u8>> {
    let output = Cmd::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .pipe(Cmd::new("tar").arg("-xO").arg(format!("./{member}")))
        .pipe(Cmd::new("gunzip").arg("-c"))
        .output()
        .context("starting dpkg-deb, tar and gunzip (apt-get install dpkg tar gzip)")?;
    if !output.status.success() {
        bail!(
            "unpacking {member} from {} failed ({}): {}\nsource.image in configs/xen.toml must \
             name the gzipped hypervisor inside the package (`dpkg-deb -c {}` lists it)",
            deb.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim(),
            deb.display()
        );
    }
    if !output.stdout.starts_with(b"\x7fELF") {
        bail!(
            "{member} from {} is not an ELF file once gunzipped: source.image in configs/xen.toml \
             must name the hypervisor image (`dpkg-deb -c {}` lists the package)",
            deb.display(),
            deb.display()
        );
    }
    Ok(output.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real .deb built with dpkg-deb, holding a gzipped file.
    fn deb_with(dir: &Path, member: &str, contents: &[u8]) -> PathBuf {
        let root = dir.join("root");
        let file = root.join(member.trim_end_matches(".gz"));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
        std::fs::write(
            root.join("DEBIAN/control"),
            "Package: fake-xen\nVersion: 1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n",
        )
        .unwrap();
        std::fs::write(&file, contents).unwrap();
        Cmd::new("gzip").arg(&file).run().unwrap();
        let deb = dir.join("fake.deb");
        Cmd::new("dpkg-deb")
            .args(["--build", "-Zgzip"])
            .arg(&root)
            .arg(&deb)
            .run()
            .unwrap();
        deb
    }

    #[test]
    fn the_gzipped_elf_comes_out_of_the_package() {
        let dir = tempfile::tempdir().unwrap();
        let deb = deb_with(dir.path(), "boot/xen.gz", b"\x7fELF and the rest");
        assert_eq!(
            gunzip_member(&deb, "boot/xen.gz").unwrap(),
            b"\x7fELF and the rest"
        );
        let missing = gunzip_member(&deb, "boot/other.gz")
            .unwrap_err()
            .to_string();
        assert!(missing.contains("source.image"), "{missing}");
    }

    #[test]
    fn a_member_that_is_no_elf_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let deb = deb_with(dir.path(), "boot/xen.gz", b"#!/bin/sh\n");
        let err = gunzip_member(&deb, "boot/xen.gz").unwrap_err().to_string();
        assert!(err.contains("not an ELF"), "{err}");
    }
}

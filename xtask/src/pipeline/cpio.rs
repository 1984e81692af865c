//! A minimal cpio "newc" writer for the initramfs.
//!
//! Written by hand rather than with a crate: the format is a fixed ASCII
//! header per entry, and owning it lets the archive be reproducible (fixed
//! inode numbers, mtime 0, uid/gid 0) and hold device nodes without root.

/// One archive being built in memory (a few MB at most).
#[derive(Default)]
pub struct Archive {
    bytes: Vec<u8>,
    next_ino: u32,
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFCHR: u32 = 0o020000;
const S_IFLNK: u32 = 0o120000;

impl Archive {
    pub fn new() -> Archive {
        Archive {
            bytes: Vec::new(),
            next_ino: 1,
        }
    }

    pub fn dir(&mut self, path: &str) {
        self.entry(path, S_IFDIR | 0o755, 2, (0, 0), &[]);
    }

    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) {
        self.entry(path, S_IFREG | mode, 1, (0, 0), data);
    }

    pub fn symlink(&mut self, path: &str, target: &str) {
        self.entry(path, S_IFLNK | 0o777, 1, (0, 0), target.as_bytes());
    }

    /// A character device node, e.g. `/dev/console` (5, 1): the kernel
    /// opens it for init's stdio before init can mount devtmpfs.
    pub fn char_dev(&mut self, path: &str, mode: u32, major: u32, minor: u32) {
        self.entry(path, S_IFCHR | mode, 1, (major, minor), &[]);
    }

    fn entry(&mut self, path: &str, mode: u32, nlink: u32, rdev: (u32, u32), data: &[u8]) {
        let name = path.trim_start_matches('/');
        let ino = self.next_ino;
        self.next_ino += 1;
        let fields = [
            ino,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime: reproducible archives
            data.len() as u32,
            0, // dev major
            0, // dev minor
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0, // check
        ];
        self.bytes.extend_from_slice(b"070701");
        for field in fields {
            self.bytes
                .extend_from_slice(format!("{field:08x}").as_bytes());
        }
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        self.pad();
        self.bytes.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
    }

    /// Appends the trailer and returns the archive.
    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, 1, (0, 0), &[]);
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::process::Cmd;

    #[test]
    fn archive_is_read_back_by_real_cpio() {
        if crate::sys::tools::find_on_path("cpio").is_none() {
            eprintln!("cpio not installed; skipping the cross-check");
            return;
        }
        let mut archive = Archive::new();
        archive.dir("etc");
        archive.file("etc/hello", 0o644, b"hello world\n");
        archive.file("init", 0o755, b"#!/bin/sh\n");
        archive.symlink("bin", "usr/bin");
        archive.char_dev("dev/console", 0o600, 5, 1);
        let bytes = archive.finish();
        assert_eq!(bytes.len() % 4, 0);
        let listing = Cmd::new("cpio")
            .args(["-itv", "--quiet"])
            .stdin_bytes(bytes.clone())
            .read()
            .unwrap();
        assert!(listing.contains("etc/hello"), "{listing}");
        assert!(listing.contains("bin -> usr/bin"), "{listing}");
        assert!(
            listing
                .lines()
                .any(|l| l.starts_with('c') && l.contains("dev/console")),
            "{listing}"
        );
        let dir = tempfile::tempdir().unwrap();
        Cmd::new("cpio")
            .args(["-id", "--quiet", "etc/hello"])
            .dir(dir.path())
            .stdin_bytes(bytes)
            .run()
            .unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("etc/hello")).unwrap(),
            b"hello world\n"
        );
    }

    #[test]
    fn archives_are_reproducible() {
        let make = || {
            let mut a = Archive::new();
            a.file("x", 0o644, b"1");
            a.finish()
        };
        assert_eq!(make(), make());
    }
}

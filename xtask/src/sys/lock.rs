//! Advisory file locks around cache entries, so two runs on one `target/`
//! serialize instead of corrupting each other. The lock is released when
//! the [`Lock`] is dropped or the process dies.

use crate::sys::progress::Reporter;
use anyhow::{Context, Result};
use std::fs::{File, TryLockError};
use std::path::Path;

pub struct Lock {
    _file: File,
}

impl Lock {
    /// Takes an exclusive lock on `path`, waiting (and saying so) when
    /// another run holds it.
    pub fn acquire(path: &Path, reporter: &Reporter) -> Result<Lock> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("opening the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                reporter.note(format!(
                    "waiting for another gsi-workbench run that holds {}",
                    path.display()
                ));
                file.lock()
                    .with_context(|| format!("locking {}", path.display()))?;
            }
            Err(TryLockError::Error(err)) => {
                return Err(err).with_context(|| format!("locking {}", path.display()))
            }
        }
        Ok(Lock { _file: file })
    }
}

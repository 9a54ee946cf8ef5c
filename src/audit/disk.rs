//! Reads of segment files by `log verify` and the log query. They go
//! through here so that tests can make the disk fail one block of one file
//! with EIO and see what each makes of it (the forwarder and the export
//! read segments directly).

use std::os::unix::fs::FileExt;
use std::path::Path;

/// `pread` of `file` (at `path`) into `buf` at `offset`.
pub(crate) fn read_at(
    file: &std::fs::File,
    path: &Path,
    buf: &mut [u8],
    offset: u64,
) -> std::io::Result<usize> {
    #[cfg(test)]
    faults::injected(path, offset, buf.len())?;
    #[cfg(not(test))]
    let _ = path;
    file.read_at(buf, offset)
}

/// [`read_at`] that fills all of `buf` or fails.
pub(crate) fn read_exact_at(
    file: &std::fs::File,
    path: &Path,
    buf: &mut [u8],
    offset: u64,
) -> std::io::Result<()> {
    #[cfg(test)]
    faults::injected(path, offset, buf.len())?;
    #[cfg(not(test))]
    let _ = path;
    file.read_exact_at(buf, offset)
}

#[cfg(test)]
pub(crate) mod faults {
    use std::cell::RefCell;
    use std::path::{Path, PathBuf};

    thread_local! {
        /// A byte of a file that this thread's reads fail on, with EIO.
        static BAD_BYTE: RefCell<Option<(PathBuf, u64)>> = const { RefCell::new(None) };
    }

    /// From now on this thread's reads of `path` that cover `byte` fail.
    pub(crate) fn fail_reads(path: &Path, byte: u64) {
        BAD_BYTE.with_borrow_mut(|b| *b = Some((path.to_owned(), byte)));
    }

    /// The disk reads again.
    pub(crate) fn heal() {
        BAD_BYTE.with_borrow_mut(|b| *b = None);
    }

    pub(super) fn injected(path: &Path, offset: u64, len: usize) -> std::io::Result<()> {
        BAD_BYTE.with_borrow(|bad| match bad {
            Some((p, at)) if p == path && (offset..offset + len as u64).contains(at) => {
                Err(std::io::Error::from_raw_os_error(libc::EIO))
            }
            _ => Ok(()),
        })
    }
}

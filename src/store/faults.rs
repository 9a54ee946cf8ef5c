//! Test builds only: a redb storage backend over the real file that fails
//! on demand, to prove what the store does when the disk does: an `fsync`
//! that reports EIO.

use std::fs::File;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};

/// Switches shared by a test and the backend it gave the store.
#[derive(Debug, Default)]
pub struct Faults {
    /// While set, every `sync_data` fails with EIO (the writes before it
    /// went through, as they do when writeback fails).
    fail_syncs: AtomicBool,
}

impl Faults {
    /// Turns the failing `fsync` on or off.
    pub fn failing_syncs(&self, on: bool) {
        self.fail_syncs.store(on, Ordering::Release);
    }
}

#[derive(Debug)]
pub struct Backend {
    file: FileBackend,
    faults: Arc<Faults>,
}

impl Backend {
    pub fn new(file: File, faults: Arc<Faults>) -> Result<Backend, redb::DatabaseError> {
        Ok(Backend {
            file: FileBackend::new(file)?,
            faults,
        })
    }
}

type Io<T> = Result<T, std::io::Error>;
type Lock<T> = Result<T, BackendError>;

impl StorageBackend for Backend {
    fn len(&self) -> Io<u64> {
        self.file.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Io<()> {
        self.file.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Io<()> {
        self.file.set_len(len)
    }
    fn sync_data(&self) -> Io<()> {
        if self.faults.fail_syncs.load(Ordering::Acquire) {
            return Err(std::io::Error::from_raw_os_error(libc::EIO));
        }
        self.file.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Io<()> {
        self.file.write(offset, data)
    }
    fn close(&self) -> Io<()> {
        self.file.close()
    }
    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Lock<bool> {
        self.file.try_lock_range(start, end)
    }
    fn try_lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Lock<bool> {
        self.file.try_lock_shared_range(start, end)
    }
    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Lock<()> {
        self.file.lock_range(start, end)
    }
    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Lock<()> {
        self.file.lock_shared_range(start, end)
    }
    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Lock<()> {
        self.file.unlock_range(start, end)
    }
    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Lock<bool> {
        self.file.query_lock_range(start, end)
    }
}

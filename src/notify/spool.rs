//! The spool transport (R12.2), the default for air-gapped sites: each
//! message becomes one RFC 5322 `.eml` file for an external relay to pick up.
//!
//! The one thing to know: a file appears whole or not at all (written to a
//! hidden temporary name in the same directory, synced, renamed, directory
//! synced), and its name comes from the outbox sequence number and the
//! subscription tag, so writing a message again after a crash replaces the
//! same file instead of adding a second one. Relays must ignore dot-files.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::SendError;
use super::message::Outgoing;

#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    /// Creates `dir` (mode 0700) when missing.
    pub fn open(dir: &Path) -> Result<Spool, super::SetupError> {
        crate::fsutil::create_private_dir(dir).map_err(|source| super::SetupError::SpoolDir {
            path: dir.to_owned(),
            source,
        })?;
        Ok(Spool {
            dir: dir.to_owned(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<seq, 20 digits>.<Message-ID local part's tag>.eml`: sorts in
    /// queue order, and is the same for every try of one message.
    pub fn file_name(out: &Outgoing) -> String {
        let tag = out
            .message_id
            .split_once('@')
            .map_or("", |(local, _)| local)
            .rsplit_once('.')
            .map_or("", |(_, t)| t);
        format!("{:020}.{tag}.eml", out.seq)
    }

    /// Writes `out` durably. Blocking: call it off the async workers.
    pub fn write(&self, out: &Outgoing) -> Result<PathBuf, SendError> {
        let name = Spool::file_name(out);
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let io = |what: &str, e: std::io::Error| {
            // A full or read-only disk may clear up: not permanent.
            SendError::transient(format!("spool {what} {}: {e}", path.display()))
        };
        let bytes = out.message.formatted();
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| io("create", e))?;
        // A temporary file left by a crash keeps its old mode: set it again.
        crate::fsutil::set_mode(&tmp, 0o600).map_err(|e| io("chmod", e))?;
        f.write_all(&bytes).map_err(|e| io("write", e))?;
        f.sync_all().map_err(|e| io("sync", e))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(|e| io("rename", e))?;
        crate::fsutil::sync_dir(&self.dir).map_err(|e| io("sync directory of", e))?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;
    use crate::notify::message::build;
    use crate::notify::templates::Rendered;
    use std::os::unix::fs::PermissionsExt;

    fn outgoing(seq: u64, text: &str) -> Outgoing {
        let r = Rendered {
            to_name: String::new(),
            to_email: "u@example.org".into(),
            subject: "s".into(),
            text: text.into(),
            html: String::new(),
        };
        let from = "bw@example.org".parse().unwrap();
        build(
            seq,
            format!("{seq}.0123456789abcdef@example.org"),
            &from,
            &r,
            Timestamp::from_unix_micros(0),
        )
        .unwrap()
    }

    #[test]
    fn r12_2_spool_files_are_private_whole_and_rewritten_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(&dir.path().join("spool")).unwrap();
        let first = spool.write(&outgoing(3, "first\n")).unwrap();
        assert_eq!(
            first.file_name().unwrap().to_str().unwrap(),
            "00000000000000000003.0123456789abcdef.eml"
        );
        let mode = std::fs::metadata(&first).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A stale temporary file from a crash is replaced, not kept.
        std::fs::write(
            spool
                .dir()
                .join(".00000000000000000003.0123456789abcdef.eml.tmp"),
            "torn",
        )
        .unwrap();
        let again = spool.write(&outgoing(3, "first\n")).unwrap();
        assert_eq!(first, again);
        let names: Vec<_> = std::fs::read_dir(spool.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        let text = std::fs::read_to_string(&again).unwrap();
        assert!(text.contains("Message-ID: <3.0123456789abcdef@example.org>\r\n"));
        assert!(text.contains("\r\n\r\nfirst\r\n"), "{text}");
    }
}

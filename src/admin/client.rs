//! The `bailiwick ctl` side of the admin socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Request, Response};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the daemon at {path}: {source}; is `bailiwick serve` running with this --data-dir, and are you its user or root?"
    )]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("talking to the daemon failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the daemon answered something unreadable: {0}")]
    Protocol(String),
    #[error("{0}")]
    Refused(String),
}

pub struct Client {
    stream: UnixStream,
}

impl Client {
    pub fn connect(data_dir: &Path) -> Result<Client, ClientError> {
        let path = data_dir.join(super::SOCKET);
        let stream =
            UnixStream::connect(&path).map_err(|source| ClientError::Connect { path, source })?;
        stream.set_read_timeout(Some(Duration::from_secs(600)))?;
        Ok(Client { stream })
    }

    fn send(
        &mut self,
        request: &Request,
    ) -> Result<(Response, BufReader<&UnixStream>), ClientError> {
        let mut line =
            serde_json::to_vec(request).map_err(|e| ClientError::Protocol(e.to_string()))?;
        line.push(b'\n');
        self.stream.write_all(&line)?;
        let mut reader = BufReader::new(&self.stream);
        let mut answer = String::new();
        reader.read_line(&mut answer)?;
        let response: Response =
            serde_json::from_str(&answer).map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok((response, reader))
    }

    /// Sends a request that answers with a JSON value.
    pub fn call(mut self, request: &Request) -> Result<serde_json::Value, ClientError> {
        match self.send(request)?.0 {
            Response::Ok { result } => Ok(result),
            Response::Error { message } => Err(ClientError::Refused(message)),
            Response::Backup { .. } => Err(ClientError::Protocol("unexpected backup".into())),
        }
    }

    /// Asks for a backup and writes it to `out` (a new file, mode 0600,
    /// synced before it is renamed into place).
    pub fn backup(mut self, out: &Path) -> Result<(u64, u64), ClientError> {
        if out.exists() {
            return Err(ClientError::Refused(format!(
                "{} already exists; choose a new file name",
                out.display()
            )));
        }
        let (response, mut reader) = self.send(&Request::Backup)?;
        let (bytes, rows) = match response {
            Response::Backup { bytes, rows } => (bytes, rows),
            Response::Error { message } => return Err(ClientError::Refused(message)),
            Response::Ok { .. } => return Err(ClientError::Protocol("expected a backup".into())),
        };
        let mut data = Vec::with_capacity(bytes.min(1 << 30) as usize);
        (&mut reader).take(bytes).read_to_end(&mut data)?;
        if data.len() as u64 != bytes {
            return Err(ClientError::Protocol(format!(
                "backup cut short: {} of {bytes} bytes",
                data.len()
            )));
        }
        crate::fsutil::write_private_atomic(out, &data)?;
        Ok((bytes, rows))
    }
}

//! A connection whose client stops reading is closed.
//!
//! hyper waits for a writable socket without end, and the kernel keeps a
//! peer that advertises a zero window open for as long as it answers
//! probes, so a client that never reads a response (a download it stalls on
//! purpose) would hold its connection and buffers forever. [`WriteStall`]
//! fails a write, flush or shutdown that has made no progress for `limit`,
//! which makes hyper drop the connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

pub struct WriteStall<IO> {
    io: IO,
    limit: Duration,
    /// Armed at the first write that could not proceed; cleared by progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<IO> WriteStall<IO> {
    pub fn new(io: IO, limit: Duration) -> WriteStall<IO> {
        WriteStall {
            io,
            limit,
            stalled: None,
        }
    }

    fn guard<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if r.is_ready() {
            self.stalled = None;
            return r;
        }
        let limit = self.limit;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client has not read for too long",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for WriteStall<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for WriteStall<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.guard(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.guard(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        self.guard(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_shutdown(cx);
        self.guard(cx, r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_client_that_stops_reading_fails_the_write_after_the_limit() {
        let (server, mut client) = tokio::io::duplex(1024);
        let mut guarded = WriteStall::new(server, Duration::from_millis(200));
        // Progress is fine, however long it takes in all.
        guarded.write_all(&[1; 1024]).await.unwrap();
        let mut buf = vec![0; 1024];
        tokio::io::AsyncReadExt::read_exact(&mut client, &mut buf)
            .await
            .unwrap();
        guarded.write_all(&[2; 1024]).await.unwrap();
        // Nobody reads now: the next write stalls and then fails.
        let err = tokio::time::timeout(Duration::from_secs(10), guarded.write_all(&[3; 1]))
            .await
            .expect("the stalled write gave up")
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}

//! A read buffer under tungstenite that exists only while a frame spans
//! several reads.
//!
//! tungstenite reads at most `read_buffer_size` bytes per `read` call and
//! allocates that much per connection up front, so one number sets both
//! the idle memory (small is good: 512 B) and the cost of a large frame
//! (a 16 KiB frame took 16 `recv` calls: docs/BENCHMARKS.md, echo). This
//! wrapper takes them apart. Reads go straight into tungstenite's buffer
//! until one fills it completely, a sign that more is waiting; then the
//! socket is read in large chunks into a buffer of this wrapper's, which
//! tungstenite drains by memcpy, and which is freed as soon as it is empty
//! and the socket has nothing more (or would block). An idle connection
//! holds no read-ahead buffer; small frames are never copied twice.
//! Freed buffers go back to a small per-thread pool, so a connection that
//! keeps receiving large frames does not allocate and zero 32 KiB for each
//! burst (the pool holds at most `POOL_BUFFERS` per worker thread, whatever
//! the number of connections).

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Size of one read while a large frame streams in: two 16 KiB frames, or
/// half of the default 64 KiB maximum frame, per `recv`.
pub(crate) const READ_AHEAD_BYTES: usize = 32 * 1024;
const _: () = assert!(READ_AHEAD_BYTES <= u16::MAX as usize);

/// Read-ahead buffers kept per thread for the next connection that needs one.
const POOL_BUFFERS: usize = 4;

/// A thin pointer (8 bytes per connection, not 16).
type Chunk = Box<[u8; READ_AHEAD_BYTES]>;

thread_local! {
    static POOL: RefCell<Vec<Chunk>> = const { RefCell::new(Vec::new()) };
}

fn take_buffer() -> Option<Chunk> {
    POOL.try_with(|pool| pool.borrow_mut().pop())
        .ok()
        .flatten()
        // Straight on the heap: a 32 KiB array would pass through the stack.
        .or_else(|| vec![0; READ_AHEAD_BYTES].into_boxed_slice().try_into().ok())
}

fn give_back(buf: Chunk) {
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < POOL_BUFFERS {
            pool.push(buf);
        }
    });
}

/// `S` with a read-ahead buffer that grows only while frames span reads.
#[derive(Debug)]
pub(crate) struct ReadAhead<S> {
    inner: S,
    /// None unless a large read is being handed out.
    buf: Option<Chunk>,
    /// `buf[start..end]` is read from the socket and not yet handed out
    /// (`READ_AHEAD_BYTES` fits a `u16`: the wrapper is part of every idle
    /// connection).
    start: u16,
    end: u16,
    /// The last direct read filled the caller's whole buffer, or the last
    /// read-ahead filled this one: read the next one in a large chunk.
    streaming: bool,
}

impl<S> ReadAhead<S> {
    pub(crate) fn new(inner: S) -> Self {
        ReadAhead {
            inner,
            buf: None,
            start: 0,
            end: 0,
            streaming: false,
        }
    }

    fn release(&mut self) {
        if let Some(buf) = self.buf.take() {
            give_back(buf);
        }
        self.start = 0;
        self.end = 0;
    }

    /// Hands out buffered bytes; frees the buffer once it is drained.
    fn hand_out(&mut self, out: &mut ReadBuf<'_>) {
        let Some(buf) = &self.buf else {
            return;
        };
        let (start, end) = (usize::from(self.start), usize::from(self.end));
        let n = out.remaining().min(end - start);
        out.put_slice(&buf[start..start + n]);
        // n <= end - start, which fits.
        self.start += u16::try_from(n).unwrap_or(0);
        if self.start == self.end && !self.streaming {
            self.release();
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadAhead<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.start < this.end {
            this.hand_out(out);
            return Poll::Ready(Ok(()));
        }
        if !this.streaming || out.remaining() >= READ_AHEAD_BYTES {
            let before = out.filled().len();
            ready!(Pin::new(&mut this.inner).poll_read(cx, out))?;
            let read = out.filled().len() - before;
            this.streaming = read > 0 && out.remaining() == 0;
            return Poll::Ready(Ok(()));
        }
        if this.buf.is_none() {
            this.buf = take_buffer();
        }
        let Some(buf) = this.buf.as_deref_mut() else {
            return Pin::new(&mut this.inner).poll_read(cx, out);
        };
        let mut chunk = ReadBuf::new(buf);
        match Pin::new(&mut this.inner).poll_read(cx, &mut chunk) {
            Poll::Pending => {
                // Nothing more for now: an idle connection keeps no buffer.
                this.release();
                return Poll::Pending;
            }
            Poll::Ready(Err(error)) => {
                this.release();
                return Poll::Ready(Err(error));
            }
            Poll::Ready(Ok(())) => {}
        }
        let read = chunk.filled().len();
        this.start = 0;
        // read <= READ_AHEAD_BYTES, which fits.
        this.end = u16::try_from(read).unwrap_or(0);
        this.streaming = read == READ_AHEAD_BYTES;
        if read == 0 {
            this.release();
            return Poll::Ready(Ok(()));
        }
        this.hand_out(out);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadAhead<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn small_reads_go_straight_through_and_large_ones_stream_then_free_the_buffer() {
        let (mut tx, rx) = tokio::io::duplex(256 * 1024);
        let mut reader = ReadAhead::new(rx);
        tx.write_all(b"hello").await.expect("write");
        let mut small = [0u8; 1024];
        let n = reader.read(&mut small).await.expect("read");
        assert_eq!(&small[..n], b"hello");
        assert!(reader.buf.is_none() && !reader.streaming);

        // 100 KiB in 1 KiB reads, as tungstenite asks for a large frame.
        let sent: Vec<u8> = (0..100 * 1024).map(|i| (i % 251) as u8).collect();
        tx.write_all(&sent).await.expect("write");
        let mut got = Vec::new();
        let mut saw_buffer = false;
        while got.len() < sent.len() {
            let n = reader.read(&mut small).await.expect("read");
            assert!(n > 0);
            got.extend_from_slice(&small[..n]);
            saw_buffer |= reader.buf.is_some();
        }
        assert_eq!(got, sent, "every byte in order");
        assert!(saw_buffer, "a frame spanning reads was read ahead");

        // Nothing waiting: the next read blocks and drops the buffer.
        let pending = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            reader.read(&mut small),
        )
        .await;
        assert!(pending.is_err());
        assert!(reader.buf.is_none(), "an idle connection holds no buffer");

        drop(tx);
        assert_eq!(reader.read(&mut small).await.expect("eof"), 0);
    }
}

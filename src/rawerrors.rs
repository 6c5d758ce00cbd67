//! ECE error envelopes for the requests hyper refuses before our router sees them.
//!
//! When an HTTP/1 request head cannot be parsed (bad request line, obs-fold, NUL in a header,
//! bad Content-Length or Transfer-Encoding, head over the size cap), hyper 1.x writes a bare
//! `400`, `414` or `431` itself (`role.rs`, `Server::on_error`) and closes the connection; it
//! offers no hook to shape that reply. Pre-parsing every head with `httparse` would duplicate
//! hyper's parser and its keep-alive framing, so instead [`EnvelopeIo`] wraps the connection's
//! IO and recognises hyper's automatic reply on its way out: a response head with one of those
//! statuses and no `content-type` (every reply of the router carries one, and a body never
//! starts with `HTTP/1.`). It replaces that reply with the same status plus the envelope and
//! `x-cloud-error-codes`. HTTP/2 refuses such requests with stream or connection errors, where
//! there is no reply to shape.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::http::error::{ApiError, Code};

/// The connection IO, with hyper's bare error replies turned into ECE envelopes.
pub struct EnvelopeIo<I> {
    inner: I,
    /// Replacement bytes still to be written.
    pending: Vec<u8>,
    written: usize,
}

impl<I> EnvelopeIo<I> {
    pub fn new(inner: I) -> Self {
        EnvelopeIo {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

/// The envelope reply replacing hyper's bare reply in `head`, if `head` is one.
fn replacement(head: &[u8]) -> Option<Vec<u8>> {
    let rest = head.strip_prefix(b"HTTP/1.1 ")?;
    let (code, message) = match rest.get(..4)? {
        b"400 " => (
            Code::BadRequest,
            "The request is not valid HTTP/1.1 (request line, header syntax or message framing).",
        ),
        b"414 " => (Code::UriTooLong, "The request target is too long."),
        b"431 " => (
            Code::HeaderTooLarge,
            "The request head (request line and headers) is larger than the server accepts.",
        ),
        _ => return None,
    };
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    let lower = head[..end].to_ascii_lowercase();
    if lower.windows(13).any(|w| w == b"content-type:") {
        return None;
    }
    let body = ApiError::new(code, message).envelope_json();
    let status = crate::http::error::status(code);
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\nx-cloud-error-codes: {}\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        code.as_str(),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    Some(out)
}

impl<I: AsyncWrite + Unpin> EnvelopeIo<I> {
    /// Writes out what is left of a replacement reply.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n = match Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for EnvelopeIo<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for EnvelopeIo<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.written < this.pending.len() {
            // After a replacement hyper writes nothing more than the rest of its own reply.
            first_error(this.poll_pending(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        if let Some(reply) = replacement(buf) {
            this.pending = reply;
            this.written = 0;
            first_error(this.poll_pending(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let first = bufs.iter().find(|b| !b.is_empty());
        let replaced = self.written < self.pending.len()
            || first.is_some_and(|b| b.starts_with(b"HTTP/1.1 4"));
        if replaced {
            // Rare path (error replies only): handled one slice at a time by `poll_write`.
            return match first {
                Some(b) => self.poll_write(cx, b),
                None => Poll::Ready(Ok(0)),
            };
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match this.poll_pending(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match this.poll_pending(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

/// A write error of the replacement is reported at once; `Pending` is left to `poll_flush`.
fn first_error(p: Poll<io::Result<()>>) -> io::Result<()> {
    match p {
        Poll::Ready(r) => r,
        Poll::Pending => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyper_bare_replies_are_replaced() {
        let bare =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let out = String::from_utf8(replacement(bare).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 431 "), "{out}");
        assert!(out.contains("root.request_header_too_large"), "{out}");
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\r\n{}";
        assert!(replacement(ours).is_none());
        assert!(replacement(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(replacement(b"{\"errors\":[]}").is_none());
    }
}

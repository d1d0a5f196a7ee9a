//! NDJSON framing: network reads can hold several lines or half of one; this decoder
//! turns arbitrary byte chunks into complete lines.

use std::time::Duration;

use futures_util::StreamExt;

use super::{CallError, ErrorKind};

/// Reads a line-oriented body (NDJSON, SSE) line by line until `on_line` returns a value.
/// A gap longer than `stall` between chunks is a stall, a broken body is truncation;
/// `Ok(None)` means the body ended first (including a last line without a newline).
pub async fn read_lines<S, B, E, T>(
    mut body: S,
    stall: Duration,
    mut on_line: impl FnMut(&[u8]) -> Result<Option<T>, CallError>,
) -> Result<Option<T>, CallError>
where
    S: futures_util::Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    let mut decoder = LineDecoder::default();
    loop {
        let next = tokio::time::timeout(stall, body.next())
            .await
            .map_err(|_| {
                CallError::new(
                    ErrorKind::Stall,
                    format!("no data for {:.0} s (backend.stall_s)", stall.as_secs_f64()),
                )
            })?;
        match next {
            None => break,
            Some(Err(err)) => {
                return Err(CallError::new(
                    ErrorKind::Truncated,
                    format!("stream broke: {err}"),
                ));
            }
            Some(Ok(bytes)) => {
                for line in decoder.push(bytes.as_ref()) {
                    if let Some(done) = on_line(&line)? {
                        return Ok(Some(done));
                    }
                }
            }
        }
    }
    match decoder.finish() {
        Some(line) => on_line(&line),
        None => Ok(None),
    }
}

/// Accumulates bytes and yields complete, non-empty lines (without the newline).
#[derive(Debug, Default)]
pub struct LineDecoder {
    pending: Vec<u8>,
}

impl LineDecoder {
    /// Adds a chunk and returns every line it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Vec<u8>> {
        self.pending.extend_from_slice(chunk);
        let mut lines = Vec::new();
        let mut start = 0;
        while let Some(offset) = self.pending[start..].iter().position(|b| *b == b'\n') {
            let end = start + offset;
            let line = trim_cr(&self.pending[start..end]);
            if !line.iter().all(u8::is_ascii_whitespace) {
                lines.push(line.to_vec());
            }
            start = end + 1;
        }
        self.pending.drain(..start);
        lines
    }

    /// The last line when the stream ended without a trailing newline.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        let rest = std::mem::take(&mut self.pending);
        let line = trim_cr(&rest);
        (!line.iter().all(u8::is_ascii_whitespace)).then(|| line.to_vec())
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_several_lines_in_one_chunk() {
        let mut decoder = LineDecoder::default();
        assert_eq!(
            decoder.push(b"{\"a\":1}\n{\"b\":2}\n"),
            vec![b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec()]
        );
        assert_eq!(decoder.finish(), None);
    }

    #[test]
    fn joins_a_line_split_across_chunks() {
        let mut decoder = LineDecoder::default();
        assert!(decoder.push(b"{\"resp").is_empty());
        assert!(decoder.push(b"onse\":\"hi").is_empty());
        assert_eq!(
            decoder.push(b"\"}\n{\"x"),
            vec![b"{\"response\":\"hi\"}".to_vec()]
        );
        assert_eq!(decoder.finish(), Some(b"{\"x".to_vec()));
    }

    #[test]
    fn skips_blank_lines_and_carriage_returns() {
        let mut decoder = LineDecoder::default();
        assert_eq!(decoder.push(b"\n\r\n{}\r\n  \n"), vec![b"{}".to_vec()]);
    }

    #[test]
    fn every_split_point_gives_the_same_lines() {
        let stream = b"{\"response\":\"\"}\n{\"response\":\"a\"}\n{\"done\":true}\n";
        for split in 0..=stream.len() {
            let mut decoder = LineDecoder::default();
            let mut lines = decoder.push(&stream[..split]);
            lines.extend(decoder.push(&stream[split..]));
            assert_eq!(lines.len(), 3, "split at {split}");
            assert_eq!(lines[2], b"{\"done\":true}".to_vec());
        }
    }
}

//! The fast path for CloudTrail log files: split `{"Records":[...]}` into records without
//! parsing them, so the 99.9% of CloudTrail that is not EKS costs a structural scan and a byte
//! search, never a JSON parse.
//!
//! The splitter tracks only what decides record boundaries: whether we are inside a string
//! (jumping to the next `"` or `\` with `memchr2`) and the nesting depth of `{`/`[`. A record
//! that contains one of the watched event sources is handed out for a full parse
//! ([`crate::pipeline::is_candidate`] decides); the others are counted and dropped.
//!
//! What it does not do: validate the JSON *inside* a record it skips. Broken structure
//! (unbalanced braces, a truncated file, garbage between records) is reported with its byte
//! offset; a bad token inside another service's record is not. `replay --strict` parses every
//! record when that matters.
//!
//! Memory: one read buffer (1 MiB, grown only to hold a single record larger than that).

use std::io::{self, BufRead};

use memchr::memchr2;

/// What the splitter found: a record's bytes, or the end of the `Records` array.
pub enum Step<'a> {
    Record(&'a [u8]),
    End,
}

/// Why the structure is broken, with the byte offset in the (decompressed) input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructureError {
    pub offset: u64,
    pub message: String,
}

/// True when `head` (the first bytes of an input) starts a CloudTrail log file:
/// `{` `"Records"` `:` `[` with optional whitespace. Other shapes take the general path.
pub fn looks_like_records_file(head: &[u8]) -> Option<usize> {
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < head.len() && head[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    if head.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    skip_ws(&mut i);
    if !head[i..].starts_with(b"\"Records\"") {
        return None;
    }
    i += 9;
    skip_ws(&mut i);
    if head.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    skip_ws(&mut i);
    if head.get(i) != Some(&b'[') {
        return None;
    }
    Some(i + 1)
}

/// Splits the records of a `Records` array out of a reader positioned just after the `[`.
pub struct Splitter<R> {
    reader: R,
    buf: Vec<u8>,
    /// Valid bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Offset of `buf[0]` in the input, for error messages.
    base: u64,
    eof: bool,
    finished: bool,
}

const CHUNK: usize = 1 << 20;

impl<R: BufRead> Splitter<R> {
    /// `consumed` is how many bytes of the input precede the reader's position.
    pub fn new(reader: R, consumed: u64) -> Self {
        Splitter {
            reader,
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
            base: consumed,
            eof: false,
            finished: false,
        }
    }

    fn err(&self, at: usize, message: impl Into<String>) -> StructureError {
        StructureError {
            offset: self.base + at as u64,
            message: message.into(),
        }
    }

    /// Make room and read more; false at end of input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // One record larger than the buffer: grow to hold it.
            self.buf.resize(self.buf.len() * 2, 0);
        }
        loop {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The next record, or the end of the array. After `End`, trailing content is checked.
    pub fn next_record(&mut self) -> Result<Option<Step<'_>>, SplitError> {
        if self.finished {
            return Ok(None);
        }
        // Between records: whitespace, commas, then `{` or `]`.
        loop {
            while self.start < self.end
                && matches!(self.buf[self.start], b' ' | b'\n' | b'\r' | b'\t' | b',')
            {
                self.start += 1;
            }
            if self.start < self.end {
                break;
            }
            if !self.fill()? {
                return Err(SplitError::Structure(self.err(
                    self.end,
                    "the input ends inside the Records array (truncated file?)",
                )));
            }
        }
        match self.buf[self.start] {
            b'{' | b'[' => {}
            b']' => {
                self.start += 1;
                self.finish()?;
                return Ok(Some(Step::End));
            }
            // A string or scalar where a record should be: hand it out whole, so the caller
            // reports it as "not a record" and goes on with the next one.
            _ => return self.scalar().map(|r| Some(Step::Record(r))),
        }
        // Scan to the record's closing brace, reading more as needed; `pos` is relative to `start`.
        let mut pos = 1usize;
        let mut depth = 1usize;
        let mut in_string = false;
        loop {
            let data = &self.buf[self.start..self.end];
            while pos < data.len() {
                if in_string {
                    match memchr2(b'"', b'\\', &data[pos..]) {
                        Some(i) => {
                            pos += i;
                            if data[pos] == b'\\' {
                                if pos + 1 >= data.len() {
                                    break; // the escaped byte is in the next chunk
                                }
                                pos += 2;
                            } else {
                                in_string = false;
                                pos += 1;
                            }
                        }
                        None => pos = data.len(),
                    }
                } else {
                    match data[pos] {
                        b'"' => in_string = true,
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                let record = &self.buf[self.start..self.start + pos + 1];
                                self.start += pos + 1;
                                return Ok(Some(Step::Record(record)));
                            }
                        }
                        _ => {}
                    }
                    pos += 1;
                }
            }
            if !self.fill()? {
                return Err(SplitError::Structure(
                    self.err(self.end, "the input ends inside a record (truncated file?)"),
                ));
            }
        }
    }

    /// A non-container element of the array: up to the next `,` or `]` outside a string.
    fn scalar(&mut self) -> Result<&[u8], SplitError> {
        let mut pos = 0usize;
        let mut in_string = false;
        loop {
            let data = &self.buf[self.start..self.end];
            while pos < data.len() {
                match (in_string, data[pos]) {
                    (true, b'\\') => pos += 1,
                    (true, b'"') => in_string = false,
                    (false, b'"') => in_string = true,
                    (false, b',' | b']' | b' ' | b'\n' | b'\r' | b'\t') if pos > 0 => {
                        let value = &self.buf[self.start..self.start + pos];
                        self.start += pos;
                        return Ok(value);
                    }
                    _ => {}
                }
                pos += 1;
            }
            if !self.fill()? {
                return Err(SplitError::Structure(self.err(
                    self.end,
                    "the input ends inside the Records array (truncated file?)",
                )));
            }
        }
    }

    /// After `]`: whitespace, `}`, whitespace, end of input.
    fn finish(&mut self) -> Result<(), SplitError> {
        self.finished = true;
        let mut closed = false;
        loop {
            while self.start < self.end {
                match self.buf[self.start] {
                    b' ' | b'\n' | b'\r' | b'\t' => self.start += 1,
                    b'}' if !closed => {
                        closed = true;
                        self.start += 1;
                    }
                    other => {
                        return Err(SplitError::Structure(self.err(
                            self.start,
                            format!(
                                "unexpected `{}` after the Records array (only `}}` may follow)",
                                char::from(other).escape_default()
                            ),
                        )));
                    }
                }
            }
            if !self.fill()? {
                break;
            }
        }
        if !closed {
            return Err(SplitError::Structure(self.err(
                self.end,
                "the input ends before the closing `}` (truncated file?)",
            )));
        }
        Ok(())
    }
}

/// Reading failed (I/O, corrupt compression) or the structure is broken.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("broken structure at byte {}: {}", .0.offset, .0.message)]
    Structure(StructureError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(input: &[u8], chunk: usize) -> Result<Vec<String>, String> {
        let start = looks_like_records_file(input).ok_or("not a records file")?;
        // A reader that hands out tiny pieces exercises every buffer boundary.
        let reader = io::BufReader::with_capacity(chunk, &input[start..]);
        let mut s = Splitter::new(reader, start as u64);
        s.buf = vec![0; chunk.max(1)];
        let mut out = Vec::new();
        loop {
            match s.next_record().map_err(|e| e.to_string())? {
                Some(Step::Record(r)) => out.push(String::from_utf8_lossy(r).into_owned()),
                Some(Step::End) | None => return Ok(out),
            }
        }
    }

    #[test]
    fn splits_records_with_tricky_strings_at_every_chunk_size() {
        let input = br#"{"Records":[{"a":"}{\"]","b":[1,{"c":"\\"}]}, {"d":"x"} ,{"e":{}}]}"#;
        for chunk in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(
                split(input, chunk).unwrap(),
                vec![
                    r#"{"a":"}{\"]","b":[1,{"c":"\\"}]}"#,
                    r#"{"d":"x"}"#,
                    r#"{"e":{}}"#
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn truncation_and_garbage_are_structure_errors_with_offsets() {
        let err = split(br#"{"Records":[{"a":1},{"b":"#, 4096).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
        let err = split(br#"{"Records":[{"a":1}]]"#, 4096).unwrap_err();
        assert!(
            err.contains("byte 20") && err.contains("after the Records array"),
            "{err}"
        );
        let err = split(br#"{"Records":[{"a":1}],"more":1}"#, 4096).unwrap_err();
        assert!(err.contains("after the Records array"), "{err}");
    }

    #[test]
    fn only_records_files_take_the_fast_path() {
        assert_eq!(looks_like_records_file(b" {\n \"Records\" : [ "), Some(17));
        assert_eq!(looks_like_records_file(br#"{"detail-type":"x"}"#), None);
        assert_eq!(looks_like_records_file(b"[{}]"), None);
    }

    #[test]
    fn non_object_elements_are_handed_out_whole_and_scanning_goes_on() {
        let input = br#"{"Records":[42, "a,]b", [1,{"x":"]"}], true ,{"ok":1}]}"#;
        for chunk in [1, 5, 4096] {
            assert_eq!(
                split(input, chunk).unwrap(),
                vec!["42", r#""a,]b""#, r#"[1,{"x":"]"}]"#, "true", r#"{"ok":1}"#]
            );
        }
    }

    #[test]
    fn an_empty_records_array_is_fine() {
        assert_eq!(
            split(br#"{"Records":[]}"#, 16).unwrap(),
            Vec::<String>::new()
        );
    }
}

//! The fast path for CloudTrail log files: split `{"Records":[...]}` into records without
//! parsing them, so the 99.9% of CloudTrail that is not EKS costs a structural scan and a byte
//! search, never a JSON parse.
//!
//! The splitter tracks only what decides record boundaries: whether we are inside a string
//! and the nesting depth of `{`/`[` (64-byte blocks at a time where there are no escapes).
//! Every record is handed out as bytes; [`super::prefilter`] decides which are worth a parse.
//!
//! What it does not do: validate the JSON *inside* a record it skips. Broken structure
//! (unbalanced braces, a truncated file, garbage between records) is reported with its byte
//! offset; a bad token inside another service's record is not. `replay --strict` parses every
//! record when that matters.
//!
//! Memory: one read buffer (1 MiB, grown only to hold a single record larger than that).

use std::io::{self, BufRead};

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
        // Scan to the record's closing brace, reading more as needed; positions are relative to
        // `start`. Objects are matched by braces alone (brackets balance on their own in JSON),
        // which lets 64-byte blocks without backslashes go through the bitmask path.
        let brackets = self.buf[self.start] == b'[';
        let mut cursor = Cursor {
            pos: 1,
            depth: 1,
            in_string: false,
            escape_pending: false,
        };
        loop {
            let data = &self.buf[self.start..self.end];
            if let Some(end) = cursor.run(data, brackets) {
                let record = &self.buf[self.start..self.start + end + 1];
                self.start += end + 1;
                return Ok(Some(Step::Record(record)));
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

/// Where the scan of one record stands; survives refills of the buffer.
struct Cursor {
    /// Next byte to look at, relative to the record's first byte.
    pos: usize,
    depth: usize,
    in_string: bool,
    /// Inside a string, the previous byte was a backslash: this byte is escaped.
    escape_pending: bool,
}

impl Cursor {
    /// Scan `data` from `pos`; the offset of the record's closing byte, or `None` when `data`
    /// ends first (the state is kept for the next call).
    fn run(&mut self, data: &[u8], brackets: bool) -> Option<usize> {
        while self.pos < data.len() {
            #[cfg(target_arch = "x86_64")]
            if !brackets && !self.escape_pending && self.pos + 64 <= data.len() {
                let block: &[u8; 64] = data[self.pos..self.pos + 64].try_into().ok()?;
                match self.block(block) {
                    Block::End(i) => return Some(self.pos + i),
                    Block::Done => {
                        self.pos += 64;
                        continue;
                    }
                    Block::HasEscapes => {
                        let end = self.pos + 64;
                        if let Some(found) = self.bytes(data, end, brackets) {
                            return Some(found);
                        }
                        continue;
                    }
                }
            }
            return self.bytes(data, data.len(), brackets);
        }
        None
    }

    /// The exact byte-at-a-time step, up to `end`.
    fn bytes(&mut self, data: &[u8], end: usize, brackets: bool) -> Option<usize> {
        while self.pos < end {
            let b = data[self.pos];
            if self.in_string {
                if self.escape_pending {
                    self.escape_pending = false;
                } else if b == b'\\' {
                    self.escape_pending = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
            } else {
                match b {
                    b'"' => self.in_string = true,
                    b'{' => self.depth += 1,
                    b'[' if brackets => self.depth += 1,
                    b'}' => {
                        self.depth -= 1;
                        if self.depth == 0 {
                            return Some(self.pos);
                        }
                    }
                    b']' if brackets => {
                        self.depth -= 1;
                        if self.depth == 0 {
                            return Some(self.pos);
                        }
                    }
                    _ => {}
                }
            }
            self.pos += 1;
        }
        None
    }

    /// 64 bytes at once (simdjson's stage 1, minus escapes): bitmasks of quotes and braces,
    /// the in-string mask as a prefix XOR of the quotes, then only the braces outside strings
    /// are visited. A block holding a backslash is left to [`Cursor::bytes`].
    #[cfg(target_arch = "x86_64")]
    fn block(&mut self, block: &[u8; 64]) -> Block {
        let [quotes, backslashes, opens, closes] = masks(block);
        if backslashes != 0 {
            return Block::HasEscapes;
        }
        let mut inside = quotes;
        for shift in [1, 2, 4, 8, 16, 32] {
            inside ^= inside << shift;
        }
        if self.in_string {
            inside = !inside;
        }
        self.in_string = inside >> 63 == 1;
        let mut structural = (opens | closes) & !inside;
        while structural != 0 {
            let i = structural.trailing_zeros() as usize;
            if opens >> i & 1 == 1 {
                self.depth += 1;
            } else {
                self.depth -= 1;
                if self.depth == 0 {
                    return Block::End(i);
                }
            }
            structural &= structural - 1;
        }
        Block::Done
    }
}

#[cfg(target_arch = "x86_64")]
enum Block {
    End(usize),
    Done,
    HasEscapes,
}

/// One bit per byte for `"`, `\\`, `{`, `}` in a 64-byte block (SSE2, baseline on x86_64).
#[cfg(target_arch = "x86_64")]
fn masks(block: &[u8; 64]) -> [u64; 4] {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let mut out = [0u64; 4];
    for (k, chunk) in block.chunks_exact(16).enumerate() {
        // SAFETY: `chunk` is 16 readable bytes; loadu has no alignment requirement; SSE2 is part
        // of the x86_64 baseline, so the intrinsics are available on every x86_64 CPU.
        #[allow(unused_unsafe)]
        let bits = unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
            [b'"', b'\\', b'{', b'}']
                .map(|c| _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8))) as u16 as u64)
        };
        for (m, b) in out.iter_mut().zip(bits) {
            *m |= b << (16 * k);
        }
    }
    out
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
    fn block_edges_escapes_and_strings_spanning_blocks_split_exactly() {
        // Records whose special bytes land on every offset around the 64-byte block edges.
        for pad in 0..140 {
            let filler = "x".repeat(pad);
            let records = [
                format!(r#"{{"a":"{filler}","b":{{"c":"}}{{"}},"d":[{{"e":1}}]}}"#),
                format!(r#"{{"k":"{filler}\\","q":"\"}}","z":"{filler}\\\"{{"}}"#),
                format!(r#"{{"s":"{filler}{{{{{{{{","n":{{"m":{{}}}}}}"#),
            ];
            let input = format!(r#"{{"Records":[{}]}}"#, records.join(","));
            for chunk in [7, 64, 65, 4096] {
                let got = split(input.as_bytes(), chunk).unwrap();
                assert_eq!(got, records, "pad {pad} chunk {chunk}");
                for r in &got {
                    serde_json::from_str::<serde_json::Value>(r)
                        .unwrap_or_else(|e| panic!("{r}: {e}"));
                }
            }
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

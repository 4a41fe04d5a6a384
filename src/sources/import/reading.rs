//! Reading the importers' data files within the budgets (see the module docs): CSV files
//! row by row ([`CsvFile`]) and text files line by line ([`TextLines`]), each skipping a
//! row or line it cannot read and naming it.

use super::{MAX_DECOMPRESSION_RATIO, MAX_LINE_BYTES, MIN_DECOMPRESSED_LIMIT};
use crate::csv_header;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Opens a data file that must exist, with a message that says so when it does not.
pub(crate) fn open_data_file(path: &Path) -> Result<std::fs::File> {
    std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::file(path, "file not found"),
        _ => Error::io(path, e),
    })
}

/// Checks that `dir` is a folder (an images folder an importer reads from).
pub(crate) fn require_dir(dir: &Path, what: &str) -> Result<()> {
    if dir.is_dir() {
        Ok(())
    } else {
        Err(Error::file(
            dir,
            format!("{what} is missing or not a folder"),
        ))
    }
}

/// A CSV row's fields, or why they cannot be read (a field that is not UTF-8, a row whose
/// quote is never closed, a row longer than [`MAX_LINE_BYTES`]).
pub(crate) type RowFields = std::result::Result<Vec<String>, String>;

/// The file under a CSV reader, failing a read once the row being read has grown past
/// [`MAX_LINE_BYTES`] (the CSV reader has no limit of its own: an unterminated quote in a
/// large file would otherwise make one row of the whole file).
struct RowGuard<R> {
    inner: R,
    /// Bytes read from the start of the file.
    read: u64,
    /// Where the row being read starts.
    row_start: u64,
    limit: u64,
}

/// The error [`RowGuard`] fails a read with.
#[derive(Debug)]
struct RowTooLong;

impl std::fmt::Display for RowTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a row longer than {MAX_LINE_BYTES} bytes")
    }
}

impl std::error::Error for RowTooLong {}

impl<R: std::io::Read> std::io::Read for RowGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.read.saturating_sub(self.row_start) > self.limit {
            return Err(std::io::Error::other(RowTooLong));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

impl<R: std::io::Seek> std::io::Seek for RowGuard<R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        let at = self.inner.seek(pos)?;
        self.read = at;
        self.row_start = at;
        Ok(at)
    }
}

/// A CSV file read as byte records, so that one row that is not UTF-8 skips that row only.
pub(crate) struct CsvFile {
    pub path: PathBuf,
    reader: ::csv::Reader<RowGuard<std::fs::File>>,
    /// The header's column names, trimmed.
    pub header: Vec<String>,
    record: ::csv::ByteRecord,
}

impl CsvFile {
    /// Opens `path` and reads its header line. A missing file, an empty file and a header
    /// that is not UTF-8 are errors.
    pub(crate) fn open(path: &Path) -> Result<CsvFile> {
        let file = open_data_file(path)?;
        let guard = RowGuard {
            inner: file,
            read: 0,
            row_start: 0,
            limit: MAX_LINE_BYTES as u64,
        };
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(guard);
        let mut record = ::csv::ByteRecord::new();
        let read = reader
            .read_byte_record(&mut record)
            .map_err(|e| csv_error(path, e))?;
        if !read {
            return Err(Error::file(
                path,
                "the file is empty; a header line is expected",
            ));
        }
        let mut header = Vec::with_capacity(record.len());
        for (i, field) in record.iter().enumerate() {
            let name = std::str::from_utf8(field).map_err(|_| {
                Error::format(
                    path,
                    1,
                    format!("the header is not valid UTF-8 text (column {})", i + 1),
                )
            })?;
            header.push(name.trim_start_matches('\u{feff}').trim().to_owned());
        }
        Ok(CsvFile {
            path: path.to_path_buf(),
            reader,
            header,
            record,
        })
    }

    /// The index of the column named `name` (ASCII case-insensitive).
    pub(crate) fn column(&self, name: &str) -> Option<usize> {
        csv_header::column(&self.header, name)
    }

    /// The index of the column named `name`, or the error [`Self::require_columns`] fails
    /// with when the header lacks it.
    pub(crate) fn required_column(&self, name: &str) -> Result<usize> {
        Ok(csv_header::required_columns(&self.path, &self.header, &[name])?[0])
    }

    /// Fails naming the `required` columns the header lacks, and listing those it has.
    pub(crate) fn require_columns(&self, required: &[&str]) -> Result<()> {
        csv_header::required_columns(&self.path, &self.header, required).map(|_| ())
    }

    /// The next row: its line number and its fields, or a reason it cannot be read (a field
    /// that is not UTF-8; an opening quote never closed, or a row longer than
    /// [`MAX_LINE_BYTES`]: then reading goes on at the line after the row's first, so the
    /// lines it would have swallowed are read as rows). `Ok(None)` at the end of the file.
    pub(crate) fn next_row(&mut self) -> Result<Option<(u64, RowFields)>> {
        let before = self.reader.position().clone();
        self.reader.get_mut().row_start = before.byte();
        let read = match self.reader.read_byte_record(&mut self.record) {
            Ok(read) => read,
            Err(e) if is_row_too_long(&e) => {
                let (line, next) = self.row_after(&before)?;
                self.reader
                    .seek(next)
                    .map_err(|e| csv_error(&self.path, e))?;
                let reason = format!(
                    "the row is longer than {MAX_LINE_BYTES} bytes (the limit; an opening quote \
                     that is never closed?); reading went on at the next line"
                );
                return Ok(Some((line, Err(reason))));
            }
            Err(e) => return Err(csv_error(&self.path, e)),
        };
        if !read {
            return Ok(None);
        }
        let start = self.record.position().cloned().unwrap_or(before);
        let line = start.line();
        // Only a quoted field can hold a line break. A row over several lines is good when
        // its quote was closed and it has the header's width; otherwise the lines it took
        // are named, and read again as rows.
        if self.record.iter().any(|field| field.contains(&b'\n')) {
            let end = self.reader.position().byte();
            let raw = self.raw_bytes(start.byte(), end)?;
            let left_open = quote_left_open(&raw);
            let width = self.record.len();
            if left_open || width != self.header.len() {
                let body = raw.strip_suffix(b"\n").unwrap_or(&raw);
                let swallowed = body.iter().filter(|&&b| b == b'\n').count() as u64;
                let lines = format!(
                    "{swallowed} line{} after it (lines {}–{})",
                    if swallowed == 1 { "" } else { "s" },
                    line + 1,
                    line + swallowed
                );
                let reason = if left_open {
                    format!(
                        "an opening quote on this line is never closed: the row would swallow \
                         the {lines}, to the end of the file"
                    )
                } else {
                    format!(
                        "a quoted field on this line runs over the {lines} and the row then has \
                         {width} fields, the header {}: a quote closed on a later line?",
                        self.header.len()
                    )
                };
                let (_, next) = self.row_after(&start)?;
                self.reader
                    .seek(next)
                    .map_err(|e| csv_error(&self.path, e))?;
                let reason =
                    format!("{reason}; this line was skipped and the lines after it read as rows");
                return Ok(Some((line, Err(reason))));
            }
        }
        let mut fields = Vec::with_capacity(self.record.len());
        for (i, field) in self.record.iter().enumerate() {
            match std::str::from_utf8(field) {
                Ok(text) => fields.push(text.to_owned()),
                Err(_) => {
                    let column = self
                        .header
                        .get(i)
                        .map_or_else(|| format!("field {}", i + 1), |h| format!("column {h:?}"));
                    return Ok(Some((
                        line,
                        Err(format!("{column} is not valid UTF-8 text")),
                    )));
                }
            }
        }
        Ok(Some((line, Ok(fields))))
    }

    /// The bytes `start..end` of the file, read again (for a row over several lines).
    fn raw_bytes(&self, start: u64, end: u64) -> Result<Vec<u8>> {
        use std::io::{Read, Seek};
        let mut file = open_data_file(&self.path)?;
        file.seek(std::io::SeekFrom::Start(start))
            .map_err(|e| Error::io(&self.path, e))?;
        let mut raw = Vec::new();
        file.take(end.saturating_sub(start))
            .read_to_end(&mut raw)
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(raw)
    }

    /// For a row that begins at `from` (perhaps after blank lines): the line it starts on and
    /// the position of the line after that one.
    fn row_after(&self, from: &::csv::Position) -> Result<(u64, ::csv::Position)> {
        use std::io::{BufRead, Seek};
        let io = |e| Error::io(&self.path, e);
        let mut file = std::io::BufReader::new(open_data_file(&self.path)?);
        file.seek(std::io::SeekFrom::Start(from.byte()))
            .map_err(io)?;
        let (mut byte, mut line) = (from.byte(), from.line());
        // Blank lines before the row.
        loop {
            let buf = file.fill_buf().map_err(io)?;
            let blank = buf
                .iter()
                .take_while(|&&b| b == b'\n' || b == b'\r')
                .count();
            line += buf[..blank].iter().filter(|&&b| b == b'\n').count() as u64;
            byte += blank as u64;
            let more = blank > 0 && blank == buf.len();
            file.consume(blank);
            if !more {
                break;
            }
        }
        byte += skip_line(&mut file).map_err(io)?;
        let mut next = ::csv::Position::new();
        next.set_byte(byte).set_line(line + 1);
        Ok((line, next))
    }
}

/// Consumes the rest of a line (through its `\n`) without keeping it; returns its length.
fn skip_line(reader: &mut impl std::io::BufRead) -> std::io::Result<u64> {
    let mut skipped = 0u64;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(skipped);
        }
        let (n, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        reader.consume(n);
        skipped += n as u64;
        if done {
            return Ok(skipped);
        }
    }
}

/// Whether the CSV reader failed because a row grew past [`MAX_LINE_BYTES`].
fn is_row_too_long(e: &::csv::Error) -> bool {
    match e.kind() {
        ::csv::ErrorKind::Io(io) => io.get_ref().is_some_and(|inner| inner.is::<RowTooLong>()),
        _ => false,
    }
}

/// Whether the raw bytes of one CSV row end inside a quoted field (the quote was never
/// closed), following the CSV reader's rules: a `"` opens a quoted field only at the start
/// of a field, and `""` inside one is a quote.
pub(super) fn quote_left_open(raw: &[u8]) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut state = State::FieldStart;
    for &b in raw {
        state = match (state, b) {
            (State::FieldStart, b'"') => State::Quoted,
            (State::FieldStart | State::Unquoted, b',' | b'\n' | b'\r') => State::FieldStart,
            (State::FieldStart | State::Unquoted, _) => State::Unquoted,
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (State::QuoteInQuoted, b'"') => State::Quoted,
            (State::QuoteInQuoted, b',' | b'\n' | b'\r') => State::FieldStart,
            (State::QuoteInQuoted, _) => State::Unquoted,
        };
    }
    state == State::Quoted
}

/// A line-oriented text file read line by line as bytes, so that a line that is not UTF-8
/// skips that line only. A line longer than [`MAX_LINE_BYTES`] is skipped without being
/// held in memory, and reading more than `max_total_bytes` fails.
pub(crate) struct TextLines<R> {
    path: PathBuf,
    reader: R,
    line: u64,
    buf: Vec<u8>,
    total_bytes: u64,
    max_total_bytes: u64,
    max_line_bytes: usize,
}

impl<R: std::io::BufRead> TextLines<R> {
    /// Lines of `reader` (the file at `path`), with no limit on the total read.
    pub(crate) fn new(path: &Path, reader: R) -> TextLines<R> {
        TextLines::with_limits(path, reader, u64::MAX, MAX_LINE_BYTES)
    }

    /// Lines of `reader`, failing once more than `max_total_bytes` were read, and skipping
    /// lines longer than `max_line_bytes`.
    pub(crate) fn with_limits(
        path: &Path,
        reader: R,
        max_total_bytes: u64,
        max_line_bytes: usize,
    ) -> TextLines<R> {
        TextLines {
            path: path.to_path_buf(),
            reader,
            line: 0,
            buf: Vec::new(),
            total_bytes: 0,
            max_total_bytes,
            max_line_bytes,
        }
    }

    /// The next line's number (1-based) and text without its line ending, or the reason it
    /// is skipped (not UTF-8 text, too long); `Ok(None)` at the end. A read error (a
    /// truncated gzip stream, say) or passing the total limit fails naming the line.
    pub(crate) fn next_line(&mut self) -> Result<Option<(u64, Result<String, String>)>> {
        use std::io::{BufRead, Read};
        self.buf.clear();
        let limit = self.max_line_bytes as u64 + 1;
        let read = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| line_error(&self.path, self.line + 1, e))?;
        if read == 0 {
            return Ok(None);
        }
        self.line += 1;
        self.add_total(read as u64)?;
        if self.buf.len() > self.max_line_bytes && self.buf.last() != Some(&b'\n') {
            // Skip the rest of the line without keeping it, a buffer at a time.
            self.buf.clear();
            loop {
                let chunk = self
                    .reader
                    .fill_buf()
                    .map_err(|e| line_error(&self.path, self.line, e))?;
                if chunk.is_empty() {
                    break;
                }
                let (n, done) = match chunk.iter().position(|&b| b == b'\n') {
                    Some(i) => (i + 1, true),
                    None => (chunk.len(), false),
                };
                self.reader.consume(n);
                self.add_total(n as u64)?;
                if done {
                    break;
                }
            }
            return Ok(Some((
                self.line,
                Err(format!(
                    "the line is longer than {} bytes (the limit); skipped",
                    self.max_line_bytes
                )),
            )));
        }
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        let text = match std::str::from_utf8(&self.buf) {
            Ok(text) => Ok(text.to_owned()),
            Err(e) => Err(format!(
                "the line is not valid UTF-8 text (bad byte at column {})",
                e.valid_up_to() + 1
            )),
        };
        Ok(Some((self.line, text)))
    }

    /// Counts `n` more bytes read, failing past the total limit.
    fn add_total(&mut self, n: u64) -> Result<()> {
        self.total_bytes = self.total_bytes.saturating_add(n);
        if self.total_bytes > self.max_total_bytes {
            return Err(Error::format(
                &self.path,
                self.line,
                format!(
                    "the file holds more than {} bytes once decompressed (the limit: {} times \
                     its size, at least {} bytes); a gzip bomb or a damaged file? refusing",
                    self.max_total_bytes, MAX_DECOMPRESSION_RATIO, MIN_DECOMPRESSED_LIMIT
                ),
            ));
        }
        Ok(())
    }
}

/// A read error on line `line` of `path`.
fn line_error(path: &Path, line: u64, e: std::io::Error) -> Error {
    Error::format(
        path,
        line,
        format!("cannot read this line (is the file corrupt or truncated?): {e}"),
    )
}

/// The most bytes a gzip file of `compressed_len` bytes may decompress to.
pub(crate) fn decompressed_limit(compressed_len: u64) -> u64 {
    compressed_len
        .saturating_mul(MAX_DECOMPRESSION_RATIO)
        .max(MIN_DECOMPRESSED_LIMIT)
}

fn csv_error(path: &Path, e: ::csv::Error) -> Error {
    let line = e.position().map(|p| p.line());
    let text = e.to_string();
    match (e.into_kind(), line) {
        (::csv::ErrorKind::Io(io), _) => Error::io(path, io),
        (_, Some(line)) => Error::format(path, line, text),
        (_, None) => Error::file(path, text),
    }
}

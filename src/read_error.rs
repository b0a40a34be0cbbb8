//! Why JSON does not read as the model: the description that a
//! [`PayloadError`](crate::PayloadError) and an
//! [`Unreadable`](crate::Unreadable) both give, and the positions of parts
//! of a body.

use std::fmt::{self, Write as _};

use crate::text::{
    Capped, MAX_DIGITS, MAX_DISPLAY, MAX_MESSAGE, MAX_PATH, MAX_PAYLOAD_DISPLAY, MAX_TYPE, longest,
    sanitize,
};

/// Why a body, or one notification of it, does not read as the model: the
/// class of the problem, where it is and what it is.
///
/// [`PayloadError`](crate::PayloadError) gives the same accessors for a
/// whole body, and [`Unreadable::error`](crate::Unreadable::error) gives
/// one for a delivery kept aside.
///
/// Whatever the body, its `Display` is safe to log as one line:
///
/// - it is at most 880 bytes (and any message around it, such as an
///   [`Unreadable`](crate::Unreadable)'s, at most 1 KiB). The parts the
///   sender chooses are cut one by one, keeping their head and tail around
///   `…`: the event type to 96 bytes, the path to 256 (its keys are the
///   sender's) and the message to
///   [`PayloadError::MAX_MESSAGE`](crate::PayloadError::MAX_MESSAGE), 200
///   (it can quote a sender's value);
/// - those parts show no character that could make the line read as
///   something else: control characters (C0, DEL, C1), bidi controls
///   (U+202A–U+202E, U+2066–U+2069 and the bidi marks), line and paragraph
///   separators (U+2028, U+2029), zero-width characters (U+200B–U+200D,
///   U+FEFF) and other invisible format characters are escaped, as `\n`,
///   `\t`, `\r` or `\u{202e}`. Other text is shown as sent.
///
/// The same holds for [`ReadError::event_type`], [`ReadError::path`] and
/// [`ReadError::message`].
///
/// ```
/// use utility_webhooks::{Category, Error, smartcomply};
///
/// let body = br#"{"id":"evt_1","type":"test.failed","created_at":"2026-05-05T14:30:00Z","data":{}}"#;
/// let Err(Error::Payload(err)) = smartcomply::parse(body) else { panic!() };
/// let why = err.unreadable().expect("the envelope reads").error();
/// assert_eq!(why.category(), Category::Data);
/// assert_eq!(why.path(), Some("data"));
/// assert!(why.message().starts_with("missing field"));
/// assert_eq!(why.to_string(), err.to_string());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    event_type: Option<Box<str>>,
    path: Option<Box<str>>,
    message: Box<str>,
    line: usize,
    column: usize,
    category: Category,
}

/// The broad class of a [`ReadError`], mirroring `serde_json`'s: it
/// tells a truncated body ([`Category::Eof`]) from malformed JSON
/// ([`Category::Syntax`]) and from valid JSON of another shape
/// ([`Category::Data`]), for a receiver that sorts the bodies it refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Category {
    /// The body is not syntactically valid JSON (including invalid UTF-8
    /// inside a string and nesting deeper than 128 levels).
    Syntax,
    /// The body is valid JSON, but not of the documented shape: a missing
    /// field, a wrong type, a value out of range, a malformed date.
    Data,
    /// The body ends before the JSON value does (empty or truncated).
    Eof,
}

/// The text a [`ReadError`]'s `Display` adds around its parts.
const INTRO: &str = "invalid webhook payload";
const TYPE_OPEN: &str = " for event type `";
const PATH_OPEN: &str = " at `";
const CLOSE: &str = "`";
const MESSAGE_OPEN: &str = ": ";
const LINE_OPEN: &str = " at line ";
const COLUMN_OPEN: &str = " column ";

const _: () = assert!(
    longest(
        &[
            INTRO,
            TYPE_OPEN,
            CLOSE,
            PATH_OPEN,
            CLOSE,
            MESSAGE_OPEN,
            LINE_OPEN,
            COLUMN_OPEN
        ],
        &[MAX_TYPE, MAX_PATH, MAX_MESSAGE, MAX_DIGITS, MAX_DIGITS],
    ) <= MAX_PAYLOAD_DISPLAY
        && MAX_PAYLOAD_DISPLAY <= MAX_DISPLAY
);

impl ReadError {
    /// Wrap a `serde_json` error, naming the event type and the path to the
    /// failing field where they are known.
    pub(crate) fn new(
        err: &serde_json::Error,
        event_type: Option<&str>,
        path: Option<String>,
    ) -> Self {
        let category = match err.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
                Category::Syntax
            }
            serde_json::error::Category::Data => Category::Data,
            serde_json::error::Category::Eof => Category::Eof,
        };
        let mut message = err.to_string();
        // serde_json appends " at line L column C"; we print it ourselves.
        if err.line() != 0 {
            let suffix = format!(" at line {} column {}", err.line(), err.column());
            if message.ends_with(&suffix) {
                message.truncate(message.len() - suffix.len());
            }
        }
        ReadError {
            event_type: event_type.map(|t| sanitize(t, MAX_TYPE).into()),
            path: path.map(|path| sanitize(&path, MAX_PATH).into()),
            message: sanitize(&message, MAX_MESSAGE).into(),
            line: err.line(),
            column: err.column(),
            category,
        }
    }

    /// This error, found reading the part of a body that starts at `start`
    /// (found by [`Positions::at`]), as an error of the whole body: its
    /// line and column counted from the start of the body, and, for the
    /// element `index` of an array, its path below `[index]`.
    pub(crate) fn within(mut self, start: Position, index: Option<usize>) -> Self {
        if self.line != 0 {
            if self.line == 1 {
                self.column = self.column.saturating_add(start.column);
            }
            self.line = self.line.saturating_add(start.newlines);
        }
        if let Some(index) = index {
            let path = match self.path.take() {
                None => format!("[{index}]"),
                Some(path) if path.starts_with('[') => format!("[{index}]{path}"),
                Some(path) => format!("[{index}].{path}"),
            };
            // Already escaped: this only cuts it, if the index made it too
            // long.
            self.path = Some(sanitize(&path, MAX_PATH).into());
        }
        self
    }

    /// The event type the body declared, when it declared one, escaped and
    /// cut to 96 bytes as [`ReadError`] says.
    pub fn event_type(&self) -> Option<&str> {
        self.event_type.as_deref()
    }

    /// Where in the body the problem is, as keys and indexes from the top
    /// (`data.exceedances[0].result_value`, `[2].message.Enquiry`), when it
    /// is below the top level. Escaped and cut to 256 bytes as
    /// [`ReadError`] says: the keys are the sender's.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// What was wrong, without the position (for example
    /// ``missing field `test_id` ``). Escaped and cut to
    /// [`PayloadError::MAX_MESSAGE`](crate::PayloadError::MAX_MESSAGE)
    /// bytes as [`ReadError`] says: it can quote a value the sender chose.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The 1-based line of the body where the problem was found, when it
    /// is known.
    pub fn line(&self) -> Option<usize> {
        (self.line != 0).then_some(self.line)
    }

    /// The 1-based column of the body where the problem was found, when the
    /// line is known.
    pub fn column(&self) -> Option<usize> {
        (self.line != 0).then_some(self.column)
    }

    /// The broad class of the problem.
    pub fn category(&self) -> Category {
        self.category
    }
}

/// At most 880 bytes, whatever the body (see the type's docs).
impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = Capped::new(f, MAX_PAYLOAD_DISPLAY);
        f.write_str(INTRO)?;
        if let Some(t) = &self.event_type {
            write!(f, "{TYPE_OPEN}{t}{CLOSE}")?;
        }
        if let Some(path) = &self.path {
            write!(f, "{PATH_OPEN}{path}{CLOSE}")?;
        }
        write!(f, "{MESSAGE_OPEN}{}", self.message)?;
        if self.line != 0 {
            write!(f, "{LINE_OPEN}{}{COLUMN_OPEN}{}", self.line, self.column)?;
        }
        Ok(())
    }
}

impl std::error::Error for ReadError {}

/// Where a part of a body starts, as [`Positions::at`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    /// The line breaks before it.
    newlines: usize,
    /// The bytes between the last of them (or the body's start) and it.
    column: usize,
}

/// The positions of parts of one body, found in order by one forward pass:
/// each call to [`Positions::at`] reads only the bytes since the previous
/// one, so that the positions of every part of a body cost one reading of
/// it, however many parts there are.
pub(crate) struct Positions<'a> {
    body: &'a [u8],
    /// How far the body has been read.
    offset: usize,
    /// The line breaks before `offset`.
    newlines: usize,
    /// Where the line holding `offset` starts.
    line_start: usize,
}

impl<'a> Positions<'a> {
    /// Positions in `body`, from its start.
    pub(crate) fn new(body: &'a [u8]) -> Self {
        Positions {
            body,
            offset: 0,
            newlines: 0,
            line_start: 0,
        }
    }

    /// Where byte `offset` of the body is (an offset past its end is its
    /// end). Offsets are meant to come in order; one before the previous
    /// makes it read again from the start, right but no longer in one pass.
    pub(crate) fn at(&mut self, offset: usize) -> Position {
        let offset = offset.min(self.body.len());
        if offset < self.offset {
            *self = Positions::new(self.body);
        }
        let read = &self.body[self.offset..offset];
        #[cfg(test)]
        scanned::add(read.len());
        for (i, &b) in read.iter().enumerate() {
            if b == b'\n' {
                self.newlines += 1;
                self.line_start = self.offset + i + 1;
            }
        }
        self.offset = offset;
        Position {
            newlines: self.newlines,
            column: offset - self.line_start,
        }
    }
}

/// How many bytes [`Positions::at`] read on this thread: what a test
/// counts to know that the positions of a batch cost one reading of it.
#[cfg(test)]
pub(crate) mod scanned {
    use std::cell::Cell;

    thread_local! {
        static SCANNED: Cell<usize> = const { Cell::new(0) };
    }

    pub(super) fn add(bytes: usize) {
        SCANNED.with(|s| s.set(s.get() + bytes));
    }

    /// The bytes read on this thread since it started.
    pub(crate) fn get() -> usize {
        SCANNED.with(Cell::get)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_error(body: &str, ty: Option<&str>) -> ReadError {
        let err = serde_json::from_str::<u8>(body).unwrap_err();
        ReadError::new(&err, ty, Some("data.x".into()))
    }

    #[test]
    fn an_unknown_position_is_none_and_not_printed() {
        let err = serde_json::from_value::<u8>(serde_json::json!("x")).unwrap_err();
        let e = ReadError::new(&err, None, None);
        assert_eq!((e.line(), e.column()), (None, None));
        assert!(!e.to_string().contains(" at line "), "{e}");
        let known = read_error("\n\"x\"", None);
        assert_eq!((known.line(), known.column()), (Some(2), Some(3)));
    }

    #[test]
    fn the_message_has_its_position_once() {
        let e = read_error("\n  \"x\"", Some("test.submitted"));
        assert_eq!(e.line(), Some(2));
        assert_eq!(e.category(), Category::Data);
        let shown = e.to_string();
        assert!(
            shown.starts_with(
                "invalid webhook payload for event type `test.submitted` at `data.x`: invalid type: string"
            ),
            "{shown}"
        );
        assert_eq!(e.path(), Some("data.x"));
        assert_eq!(shown.matches(" at line ").count(), 1, "{shown}");
        assert!(shown.ends_with("at line 2 column 5"), "{shown}");
    }

    #[test]
    fn echoed_type_is_bounded_and_escaped() {
        let long = format!("a\n{}\u{202e}z", "b".repeat(500));
        let e = read_error("", Some(&long));
        let t = e.event_type().unwrap();
        assert!(t.starts_with("a\\nb"), "{t}");
        assert!(t.ends_with("bbb\\u{202e}z"), "{t}");
        assert!(t.contains('…'), "{t}");
        assert!(t.len() <= MAX_TYPE, "{} bytes: {t}", t.len());
        assert_eq!(e.category(), Category::Eof);
    }

    /// The position of `start` in `body` as a reading from the start finds
    /// it.
    fn reference(body: &[u8], start: usize) -> Position {
        let before = &body[..start];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |newline| newline + 1);
        Position {
            newlines: before.iter().filter(|&&b| b == b'\n').count(),
            column: start - line_start,
        }
    }

    #[test]
    fn positions_in_order_read_the_body_once_and_agree_with_a_full_reading() {
        let body: Vec<u8> = (0..5000u32)
            .map(|i| match i % 7 {
                0 | 3 => b'\n',
                _ => b'a' + (i % 26) as u8,
            })
            .collect();
        let before = scanned::get();
        let mut positions = Positions::new(&body);
        let offsets: Vec<usize> = (0..=body.len()).step_by(3).chain([body.len()]).collect();
        for &offset in &offsets {
            assert_eq!(positions.at(offset), reference(&body, offset), "{offset}");
        }
        assert_eq!(scanned::get() - before, body.len());
        // Out of order, or past the end: still right.
        assert_eq!(positions.at(10), reference(&body, 10));
        assert_eq!(positions.at(usize::MAX), reference(&body, body.len()));
        assert_eq!(Positions::new(b"").at(5), reference(b"", 0));
    }

    #[test]
    fn within_counts_from_the_start_of_the_body() {
        let body = b"[1,\n  \"x\"]";
        let part = &body[6..9];
        let err = serde_json::from_slice::<u8>(part).unwrap_err();
        let e = ReadError::new(&err, None, None).within(Positions::new(body).at(6), Some(1));
        assert_eq!((e.line(), e.column()), (Some(2), Some(5)));
        assert_eq!(e.path(), Some("[1]"));
        // An error on a later line of the part keeps its column.
        let err = serde_json::from_slice::<u8>(b"\n\"x\"").unwrap_err();
        let e = ReadError::new(&err, None, None).within(Positions::new(body).at(6), None);
        assert_eq!((e.line(), e.column()), (Some(3), Some(3)));
    }

    #[test]
    fn the_longest_message_fits_its_bound() {
        let huge = "\u{202e}\u{1}".repeat(10_000);
        let mut e = ReadError::new(
            &serde_json::from_str::<u8>(&serde_json::to_string(&huge).unwrap()).unwrap_err(),
            Some(&huge),
            Some(huge.clone()),
        )
        .within(
            Positions::new(huge.as_bytes()).at(huge.len()),
            Some(usize::MAX),
        );
        e.line = usize::MAX;
        e.column = usize::MAX;
        let shown = e.to_string();
        assert!(shown.len() <= MAX_PAYLOAD_DISPLAY, "{} bytes", shown.len());
        // Cut part by part; the last guard did not have to cut the whole.
        let end = format!(" at line {} column {}", usize::MAX, usize::MAX);
        assert!(shown.ends_with(&end), "{shown}");
        assert!(!shown.contains(['\u{202e}', '\u{1}']), "{shown}");
        assert!(e.path().unwrap().starts_with("[18446744073709551615]."));
    }
}

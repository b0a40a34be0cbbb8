//! The crate's one error type.

use std::fmt::{self, Write as _};

use crate::smartcomply::UnreadableEvent;

/// Everything that can go wrong while verifying or parsing a webhook.
///
/// The variants fall in three classes, which map onto HTTP answers (see
/// [`Error::http_status`]):
///
/// - configuration: [`Error::EmptySecret`];
/// - authentication: [`Error::MissingSignature`], [`Error::MalformedSignature`],
///   [`Error::SignatureMismatch`], [`Error::TimestampTooOld`],
///   [`Error::TimestampInFuture`] (answer `401`);
/// - content: [`Error::Payload`] (answer `400`);
/// - the receiver's own state: [`Error::Store`] (answer `503`).
///
/// No message ever contains a secret or an expected signature.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A verifier was given an empty secret.
    #[error("webhook secret is empty")]
    EmptySecret,
    /// The signature header value is empty (or only white space).
    #[error("webhook signature header is missing or empty")]
    MissingSignature,
    /// The signature header cannot be read: a part is missing, a timestamp is
    /// not a whole number, or no signature in it is 64 hex digits.
    #[error("webhook signature header is malformed")]
    MalformedSignature,
    /// The header is well formed, but no signature in it matches any secret.
    #[error("webhook signature does not match")]
    SignatureMismatch,
    /// The signed timestamp is older than the verifier's tolerance.
    #[error("webhook timestamp is older than the tolerance")]
    TimestampTooOld,
    /// The signed timestamp is further in the future than the verifier's
    /// tolerance.
    #[error("webhook timestamp is too far in the future")]
    TimestampInFuture,
    /// The body is not JSON of the documented shape.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The idempotency store could not record the delivery (down, full, or
    /// too slow to answer): answer `503`, and the vendor retries later.
    #[error(transparent)]
    Store(#[from] crate::idempotency::StoreError),
}

impl Error {
    /// `true` for the errors that mean "this request is not authentic":
    /// a missing, malformed or mismatched signature, or a timestamp outside
    /// the tolerance.
    pub fn is_signature(&self) -> bool {
        matches!(
            self,
            Error::MissingSignature
                | Error::MalformedSignature
                | Error::SignatureMismatch
                | Error::TimestampTooOld
                | Error::TimestampInFuture
        )
    }

    /// `true` for [`Error::Payload`]: the request was authentic (or was not
    /// checked) but its body is not of the documented shape.
    pub fn is_payload(&self) -> bool {
        matches!(self, Error::Payload(_))
    }

    /// The HTTP status a receiver should answer with: `401` for signature
    /// and timestamp problems, `400` for payload problems, `503` for an
    /// idempotency store that could not answer, `500` for a misconfigured
    /// verifier.
    ///
    /// A payload error of a verified delivery is still the vendor's: when
    /// [`PayloadError::unreadable`] gives the event, store it aside and
    /// answer `2xx` rather than this `400`, which the vendor would retry
    /// and then give up on.
    ///
    /// A handler's answer is one line:
    ///
    /// ```
    /// use utility_webhooks::{Error, smarterwx::Verifier};
    ///
    /// fn answer(verifier: &Verifier, header: &[u8], body: &[u8]) -> u16 {
    ///     verifier.verify_and_parse(header, body).map_or_else(|e| e.http_status(), |_| 200)
    /// }
    ///
    /// let verifier = Verifier::new("my-secret").unwrap();
    /// assert_eq!(answer(&verifier, b"sha256=00", b"[]"), 401);
    /// assert_eq!(Error::SignatureMismatch.http_status(), 401);
    /// ```
    pub fn http_status(&self) -> u16 {
        match self {
            Error::Payload(_) => 400,
            Error::EmptySecret => 500,
            Error::Store(_) => 503,
            _ => 401,
        }
    }

    /// [`Error::http_status`] as an `http::StatusCode`, for frameworks built
    /// on the `http` crate (axum, hyper, ...).
    ///
    /// Requires the `http` feature.
    ///
    /// ```
    /// use http::StatusCode;
    /// use utility_webhooks::Error;
    ///
    /// assert_eq!(Error::MissingSignature.status_code(), StatusCode::UNAUTHORIZED);
    /// ```
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn status_code(&self) -> http::StatusCode {
        match self {
            Error::Payload(_) => http::StatusCode::BAD_REQUEST,
            Error::EmptySecret => http::StatusCode::INTERNAL_SERVER_ERROR,
            Error::Store(_) => http::StatusCode::SERVICE_UNAVAILABLE,
            _ => http::StatusCode::UNAUTHORIZED,
        }
    }
}

/// Why a body could not be read as the documented JSON.
///
/// Its message names what was expected and where: the event type and field
/// where they are known, and always the line and column.
///
/// Whatever the body, the message is safe to log as one line:
///
/// - it is at most 1 KiB: `to_string()` is never longer than 1024 bytes
///   (nor that of an
///   [`UnreadableNotification`](crate::smarterwx::UnreadableNotification)
///   around it). The parts the sender chooses are cut one by one, keeping
///   their head and tail around `…`: the event type to 96 bytes, the path
///   to 256 (its keys are the sender's) and the message to 384 (it can
///   quote a sender's value);
/// - those parts show no character that could make the line read as
///   something else: control characters (C0, DEL, C1), bidi controls
///   (U+202A–U+202E, U+2066–U+2069 and the bidi marks), line and paragraph
///   separators (U+2028, U+2029), zero-width characters (U+200B–U+200D,
///   U+FEFF) and other invisible format characters are escaped, as `\n`,
///   `\t`, `\r` or `\u{202e}`. Other text is shown as sent.
///
/// The same holds for [`PayloadError::event_type`], [`PayloadError::path`]
/// and [`PayloadError::message`], and for the `Debug` of the parts of an
/// unreadable event or notification, which show sender text cut short; the
/// accessors of those parts give all of it, unescaped.
///
/// When a SmartComply event's envelope reads but its `data` does not fit
/// the model, [`PayloadError::unreadable`] also gives the event's id, type
/// and raw `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError {
    // Boxed text: never changed once made, and 8 bytes smaller each.
    event_type: Option<Box<str>>,
    path: Option<Box<str>>,
    message: Box<str>,
    line: usize,
    column: usize,
    category: Category,
    /// Boxed: it is rare, and `Result<Event, Error>` stays small.
    unreadable: Option<Box<UnreadableEvent>>,
}

/// The broad class of a [`PayloadError`], mirroring `serde_json`'s: it
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

/// The longest `Display` of any error that echoes sender text, in bytes,
/// whatever the body: [`PayloadError`], and
/// [`UnreadableNotification`](crate::smarterwx::UnreadableNotification)
/// around one.
pub(crate) const MAX_DISPLAY: usize = 1024;

/// The longest event type echoed back in a message, in bytes once escaped;
/// the sender chooses it.
const MAX_TYPE: usize = 96;

/// The longest path echoed back in a message, in bytes once escaped: its
/// keys are the sender's, and a body can nest 128 levels of long keys.
const MAX_PATH: usize = 256;

/// The longest message kept, in bytes once escaped. `serde_json` quotes a
/// value of the wrong type in full (``invalid type: string "...", expected
/// f64``), and the sender chooses that value.
const MAX_MESSAGE: usize = 384;

/// The text a [`PayloadError`]'s `Display` adds around its parts.
const INTRO: &str = "invalid webhook payload";
const TYPE_OPEN: &str = " for event type `";
const PATH_OPEN: &str = " at `";
const CLOSE: &str = "`";
const MESSAGE_OPEN: &str = ": ";
const LINE_OPEN: &str = " at line ";
const COLUMN_OPEN: &str = " column ";
/// The most digits a `usize` prints.
pub(crate) const MAX_DIGITS: usize = 20;

/// The longest `Display` of a [`PayloadError`], in bytes: what is left of
/// [`MAX_DISPLAY`] for an error that shows one inside its own message.
pub(crate) const MAX_PAYLOAD_DISPLAY: usize = 880;

const _: () = assert!(
    INTRO.len()
        + TYPE_OPEN.len()
        + MAX_TYPE
        + CLOSE.len()
        + PATH_OPEN.len()
        + MAX_PATH
        + CLOSE.len()
        + MESSAGE_OPEN.len()
        + MAX_MESSAGE
        + LINE_OPEN.len()
        + MAX_DIGITS
        + COLUMN_OPEN.len()
        + MAX_DIGITS
        <= MAX_PAYLOAD_DISPLAY
        && MAX_PAYLOAD_DISPLAY <= MAX_DISPLAY
);

impl PayloadError {
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
        PayloadError {
            event_type: event_type.map(|t| sanitize(t, MAX_TYPE).into()),
            path: path.map(|path| sanitize(&path, MAX_PATH).into()),
            message: sanitize(&message, MAX_MESSAGE).into(),
            line: err.line(),
            column: err.column(),
            category,
            unreadable: None,
        }
    }

    /// This error with the event whose `data` it could not read.
    pub(crate) fn with_unreadable(mut self, event: UnreadableEvent) -> Self {
        self.unreadable = Some(Box::new(event));
        self
    }

    /// This error, found reading the part of `body` that starts at byte
    /// `start`, as an error of the whole body: its line and column counted
    /// from the start of `body`, and, for the element `index` of an array,
    /// its path below `[index]`.
    pub(crate) fn within(mut self, body: &[u8], start: usize, index: Option<usize>) -> Self {
        if self.line != 0 {
            let before = &body[..start.min(body.len())];
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |newline| newline + 1);
            if self.line == 1 {
                self.column += start - line_start;
            }
            self.line += before.iter().filter(|&&b| b == b'\n').count();
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
    /// cut to 96 bytes as [`PayloadError`] says.
    pub fn event_type(&self) -> Option<&str> {
        self.event_type.as_deref()
    }

    /// Where in the body the problem is, as keys and indexes from the top
    /// (`data.exceedances[0].result_value`, `[2].message.Enquiry`), when it
    /// is below the top level. Escaped and cut to 256 bytes as
    /// [`PayloadError`] says: the keys are the sender's.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// What was wrong, without the position (for example
    /// ``missing field `test_id` ``). Escaped and cut to 384 bytes as
    /// [`PayloadError`] says: it can quote a value the sender chose.
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

    /// The SmartComply event this error is about, when its envelope (`id`,
    /// `type`, `created_at`) reads but its `data` does not fit the model:
    /// the id, the type and the raw `data` JSON, enough to store the event
    /// aside and acknowledge it. `None` for every other payload error, and
    /// always for SmarterWX, whose batches are read notification by
    /// notification instead
    /// ([`verify_and_parse_each`](crate::smarterwx::Verifier::verify_and_parse_each)).
    ///
    /// Only a verified delivery is known to come from SmartComply: park what
    /// this gives after [`verify`](crate::smartcomply::Verifier::verify)
    /// passed, never for an unchecked body.
    ///
    /// ```
    /// use utility_webhooks::{Error, smartcomply};
    ///
    /// // Signed by SmartComply, but `test_date` is a number where the model
    /// // reads a date.
    /// let body = br#"{"id":"evt_1","type":"test.submitted","created_at":"2026-05-05T14:30:00Z",
    ///   "data":{"test_id":"bft_1","assembly_id":"asm_1","tester_id":"tst_1",
    ///           "result":"pass","test_date":20260505}}"#;
    /// let Err(Error::Payload(err)) = smartcomply::parse(body) else { panic!() };
    /// let event = err.unreadable().expect("the envelope reads");
    /// assert_eq!(event.id(), "evt_1");
    /// assert_eq!(event.event_type(), "test.submitted");
    /// assert!(event.raw_data().starts_with(r#"{"test_id":"bft_1""#));
    /// assert_eq!(event.idempotency_key(), "smartcomply:evt_1");
    /// ```
    pub fn unreadable(&self) -> Option<&UnreadableEvent> {
        self.unreadable.as_deref()
    }
}

/// Sender text made safe to echo in a message: escaped, and at most `max`
/// bytes long.
///
/// Escaped are the characters that could make a log line read as something
/// else: control characters (C0, DEL, C1) and the invisible format
/// characters that reorder, break or hide text (bidi embeddings, overrides,
/// isolates and marks; line and paragraph separators; zero-width and
/// word-joining characters; the byte order mark; interlinear annotation
/// marks). Each becomes `\n`, `\r`, `\t` or `\u{..}` (`\u{202e}`); any other
/// text is kept as it is. When the escaped text is longer than `max`, its
/// head and tail are kept around `…`, cut between characters and never
/// inside an escape.
pub(crate) fn sanitize(text: &str, max: usize) -> String {
    let mut out = String::new();
    escape_into(&mut out, text, max, false);
    out
}

/// [`sanitize`] for sender text shown between quotes: `"` and `\` are
/// escaped too, as `str`'s `Debug` escapes them.
pub(crate) fn sanitize_quoted(text: &str, max: usize) -> String {
    let mut out = String::new();
    escape_into(&mut out, text, max, true);
    out
}

/// Whether `c` is shown escaped in sender text.
fn is_escaped(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

const ELLIPSIS: char = '…';

/// How one character of sender text is shown.
#[derive(Clone, Copy)]
enum Shown {
    /// As it is.
    Plain(char),
    /// After a backslash (`\n`, `\"`).
    Short(char),
    /// As `\u{..}`.
    Unicode(char),
}

impl Shown {
    /// `c` as shown; `quoted` also escapes `"` and `\`, as `str`'s `Debug`
    /// does.
    #[inline]
    fn of(c: char, quoted: bool) -> Self {
        match c {
            '\n' => Shown::Short('n'),
            '\r' => Shown::Short('r'),
            '\t' => Shown::Short('t'),
            '"' | '\\' if quoted => Shown::Short(c),
            c if is_escaped(c) => Shown::Unicode(c),
            c => Shown::Plain(c),
        }
    }

    /// Its length in bytes.
    #[inline]
    fn len(self) -> usize {
        match self {
            Shown::Plain(c) => c.len_utf8(),
            Shown::Short(_) => 2,
            Shown::Unicode(c) => c.escape_unicode().len(),
        }
    }

    fn push_to(self, out: &mut String) {
        match self {
            Shown::Plain(c) => out.push(c),
            Shown::Short(c) => {
                out.push('\\');
                out.push(c);
            }
            Shown::Unicode(c) => out.extend(c.escape_unicode()),
        }
    }
}

/// Append `text` to `out` escaped (see [`sanitize`]), in at most `max`
/// bytes; `quoted` also escapes `"` and `\`. Returns whether all of it was
/// kept.
///
/// The work is bounded by `max`, not by the length of `text`: each pass
/// stops once it has enough.
fn escape_into(out: &mut String, text: &str, max: usize, quoted: bool) -> bool {
    let mut whole = 0;
    for c in text.chars() {
        whole += Shown::of(c, quoted).len();
        if whole > max {
            break;
        }
    }
    if whole <= max {
        out.reserve(whole);
        text.chars().for_each(|c| Shown::of(c, quoted).push_to(out));
        return true;
    }
    // Too long: its head and its tail around an ellipsis. They cannot
    // meet, since together they are shorter than the whole.
    let Some(keep) = max.checked_sub(ELLIPSIS.len_utf8()) else {
        return false;
    };
    let (head_max, tail_max) = (keep - keep / 2, keep / 2);
    let mut head = 0;
    for c in text.chars() {
        let shown = Shown::of(c, quoted);
        if head + shown.len() > head_max {
            break;
        }
        head += shown.len();
        shown.push_to(out);
    }
    out.push(ELLIPSIS);
    let (mut tail, mut from) = (0, text.len());
    for (at, c) in text.char_indices().rev() {
        let width = Shown::of(c, quoted).len();
        if tail + width > tail_max {
            break;
        }
        tail += width;
        from = at;
    }
    text[from..]
        .chars()
        .for_each(|c| Shown::of(c, quoted).push_to(out));
    false
}

/// The most bytes of sender text a `Debug` of an unreadable part shows
/// (escaped); the rest is counted, not shown (the accessors give all of
/// it).
const MAX_DEBUG: usize = 256;

/// Sender text in a `Debug`: quoted and escaped as [`sanitize`] escapes it
/// (and `"` and `\` as `str`'s `Debug` does), cut to [`MAX_DEBUG`] bytes
/// with its whole length in bytes.
pub(crate) struct Bounded<'a>(pub(crate) &'a str);

impl fmt::Debug for Bounded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = String::from('"');
        let whole = escape_into(&mut shown, self.0, MAX_DEBUG, true);
        shown.push('"');
        f.write_str(&shown)?;
        if !whole {
            write!(f, " ({} bytes)", self.0.len())?;
        }
        Ok(())
    }
}

/// A writer that lets at most `left` bytes through, then an ellipsis: the
/// last guard of [`MAX_DISPLAY`], whose parts are bounded one by one
/// already.
pub(crate) struct Capped<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    left: usize,
    cut: bool,
}

impl<'a, 'b> Capped<'a, 'b> {
    /// A writer to `f` of at most `max` bytes, the ellipsis included.
    pub(crate) fn new(f: &'a mut fmt::Formatter<'b>, max: usize) -> Self {
        Capped {
            f,
            left: max.saturating_sub(ELLIPSIS.len_utf8()),
            cut: false,
        }
    }
}

impl fmt::Write for Capped<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.cut {
            return Ok(());
        }
        if s.len() <= self.left {
            self.left -= s.len();
            return self.f.write_str(s);
        }
        let mut end = self.left;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.cut = true;
        self.left = 0;
        self.f.write_str(&s[..end])?;
        self.f.write_char(ELLIPSIS)
    }
}

/// At most 1 KiB, whatever the body (see the type's docs).
impl fmt::Display for PayloadError {
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

impl std::error::Error for PayloadError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn payload(body: &str, ty: Option<&str>) -> PayloadError {
        let err = serde_json::from_str::<u8>(body).unwrap_err();
        PayloadError::new(&err, ty, Some("data.x".into()))
    }

    #[test]
    fn an_unknown_position_is_none_and_not_printed() {
        let err = serde_json::from_value::<u8>(serde_json::json!("x")).unwrap_err();
        let e = PayloadError::new(&err, None, None);
        assert_eq!((e.line(), e.column()), (None, None));
        assert!(!e.to_string().contains(" at line "), "{e}");
        let known = payload("\n\"x\"", None);
        assert_eq!((known.line(), known.column()), (Some(2), Some(3)));
    }

    #[test]
    fn status_classes() {
        assert_eq!(Error::MissingSignature.http_status(), 401);
        assert_eq!(Error::TimestampInFuture.http_status(), 401);
        assert_eq!(Error::EmptySecret.http_status(), 500);
        let e = Error::from(payload("", None));
        assert_eq!(e.http_status(), 400);
        assert!(e.is_payload() && !e.is_signature());
        assert!(Error::SignatureMismatch.is_signature());
        let store = Error::from(crate::idempotency::StoreError::new(
            crate::idempotency::StoreErrorKind::Full,
            "every record is a lease in progress",
        ));
        assert_eq!(store.http_status(), 503);
        assert!(!store.is_payload() && !store.is_signature());
        assert_eq!(
            store.to_string(),
            "idempotency store full: every record is a lease in progress"
        );
    }

    #[cfg(feature = "http")]
    #[test]
    fn status_code_agrees_with_http_status() {
        for e in [
            Error::EmptySecret,
            Error::MissingSignature,
            Error::MalformedSignature,
            Error::SignatureMismatch,
            Error::TimestampTooOld,
            Error::TimestampInFuture,
            Error::from(payload("", None)),
            Error::from(crate::idempotency::StoreError::new(
                crate::idempotency::StoreErrorKind::Unavailable,
                "connection refused",
            )),
        ] {
            assert_eq!(e.status_code().as_u16(), e.http_status(), "{e:?}");
        }
    }

    #[test]
    fn payload_message_has_position_once() {
        let e = payload("\n  \"x\"", Some("test.submitted"));
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
        let e = payload("", Some(&long));
        let t = e.event_type().unwrap();
        assert!(t.starts_with("a\\nb"), "{t}");
        assert!(t.ends_with("bbb\\u{202e}z"), "{t}");
        assert!(t.contains('…'), "{t}");
        assert!(t.len() <= MAX_TYPE, "{} bytes: {t}", t.len());
        assert_eq!(e.category(), Category::Eof);
    }

    /// Every character [`is_escaped`] must catch.
    const LISTED: &[char] = &[
        '\u{0}', '\u{7}', '\n', '\r', '\t', '\u{1b}', '\u{7f}', '\u{80}', '\u{85}', '\u{9f}',
        '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}',
        '\u{2068}', '\u{2069}', '\u{2028}', '\u{2029}', '\u{200b}', '\u{200c}', '\u{200d}',
        '\u{feff}', '\u{200e}', '\u{200f}', '\u{61c}',
    ];

    #[test]
    fn listed_characters_are_escaped_as_unicode_or_short_escapes() {
        for &c in LISTED {
            assert!(is_escaped(c), "{c:?}");
            let shown = sanitize(&c.to_string(), 64);
            assert!(shown.starts_with('\\'), "{c:?} as {shown}");
            assert!(!shown.contains(c), "{c:?} as {shown}");
        }
        assert_eq!(sanitize("a\u{202e}b\u{0}\n", 64), "a\\u{202e}b\\u{0}\\n");
        assert_eq!(sanitize("\u{feff}\u{200b}", 64), "\\u{feff}\\u{200b}");
        for clean in [
            "",
            "evt_1",
            "referral:create",
            "é € 😀 mg/L",
            "a\\b \"q\"",
            "…",
        ] {
            assert_eq!(sanitize(clean, 64), clean);
        }
    }

    #[test]
    fn long_text_keeps_head_and_tail_and_never_splits_an_escape() {
        let text = format!("head{}tail", "\u{202e}".repeat(100));
        let shown = sanitize(&text, 40);
        assert!(shown.len() <= 40, "{shown}");
        assert!(shown.starts_with("head\\u{202e}"), "{shown}");
        assert!(shown.ends_with("\\u{202e}tail"), "{shown}");
        // Every escape is whole on both sides of the cut.
        let (head, tail) = shown.split_once('…').unwrap();
        assert!(head.ends_with('}') && tail.starts_with('\\'), "{shown}");
        // Multi-byte characters are cut between characters.
        let shown = sanitize(&"€".repeat(100), 20);
        assert_eq!(shown, "€€€…€€");
        assert!(shown.len() <= 20);
        // Too small to cut: nothing rather than too much.
        assert_eq!(sanitize("abcdef", 2), "");
        assert_eq!(sanitize("ab", 2), "ab");
    }

    #[test]
    fn bounded_debug_escapes_and_counts() {
        assert_eq!(
            format!("{:?}", Bounded("a\"b\\c\u{202e}")),
            r#""a\"b\\c\u{202e}""#
        );
        let long = "x\u{2066}".repeat(1000);
        let shown = format!("{:?}", Bounded(&long));
        assert!(!shown.contains('\u{2066}'), "{shown}");
        assert!(
            shown.ends_with(&format!("\" ({} bytes)", long.len())),
            "{shown}"
        );
        assert!(shown.len() <= MAX_DEBUG + 20, "{} bytes", shown.len());
    }

    #[test]
    fn the_longest_payload_message_fits_in_a_kibibyte() {
        let huge = "\u{202e}\u{1}".repeat(10_000);
        let mut e = PayloadError::new(
            &serde_json::from_str::<u8>(&serde_json::to_string(&huge).unwrap()).unwrap_err(),
            Some(&huge),
            Some(huge.clone()),
        )
        .within(huge.as_bytes(), huge.len(), Some(usize::MAX));
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

    #[test]
    fn capped_writer_cuts_at_a_character_boundary() {
        struct Show<'a>(&'a [&'a str], usize);
        impl fmt::Display for Show<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut f = Capped::new(f, self.1);
                self.0.iter().try_for_each(|s| f.write_str(s))
            }
        }
        assert_eq!(Show(&["ab", "cd"], 10).to_string(), "abcd");
        assert_eq!(Show(&["abc", "d€€", "ignored"], 10).to_string(), "abcd€…");
        assert_eq!(Show(&["€€€€"], 7).to_string(), "€…");
    }

    fn listed_or_any() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            ".{0,8}",
            prop::sample::select(LISTED).prop_map(String::from),
            "[a-z\\\\\"…]{0,4}",
        ];
        prop::collection::vec(piece, 0..64).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn sanitized_text_is_bounded_escaped_and_faithful(
            text in prop_oneof![any::<String>(), listed_or_any()],
            max in 0usize..300,
        ) {
            let shown = sanitize(&text, max);
            prop_assert!(shown.len() <= max, "{} > {max}: {shown:?}", shown.len());
            prop_assert!(!shown.chars().any(is_escaped), "{shown:?}");
            let whole = sanitize(&text, usize::MAX);
            prop_assert!(!whole.chars().any(is_escaped), "{whole:?}");
            if !text.chars().any(is_escaped) && text.len() <= max {
                prop_assert_eq!(&shown, &text);
            }
            if whole.len() <= max {
                prop_assert_eq!(&shown, &whole);
            } else if max >= ELLIPSIS.len_utf8() {
                // Some `…` splits it into a head and a tail of the whole.
                let faithful = shown.match_indices(ELLIPSIS).any(|(at, _)| {
                    whole.starts_with(&shown[..at])
                        && whole.ends_with(&shown[at + ELLIPSIS.len_utf8()..])
                });
                prop_assert!(faithful, "{shown:?} of {whole:?}");
                // Nearly all of the room is used: at most one piece (10
                // bytes) short on each side.
                prop_assert!(shown.len() + 20 >= max, "{} of {max}", shown.len());
            }
            let debug = format!("{:?}", Bounded(&text));
            prop_assert!(!debug.chars().any(is_escaped), "{debug:?}");
        }
    }
}

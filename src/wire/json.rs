//! A JSON reader for the success path, straight from the body's bytes.
//!
//! `serde_json` reads every body correctly and explains every failure.
//! This reader only has to be quick on the bodies senders really send: it
//! borrows strings from the body, matches field names as bytes, and skips
//! unknown values without building them. On anything it does not handle,
//! and on every error, it gives up ([`GaveUp`]) without saying why (test
//! builds keep where and why, for [`explain`]), and the caller reads the
//! body again with `serde_json`, which decides.
//!
//! So the rule for this file: a value is produced here only where
//! `serde_json` would produce the same value, through the same visitor
//! calls. When in doubt, give up. The differential tests below, the
//! property tests and the `differential` fuzz target hold it to that.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The reader stopped: the input is wrong or not one it handles.
///
/// In test builds it keeps the message a visitor gave (`missing field
/// ..`), so that [`explain`] can say why; in other builds that part is
/// empty.
#[derive(Debug)]
pub(crate) struct GaveUp {
    message: why::Message,
}

/// A [`GaveUp`] of the reader itself.
const GAVE_UP: GaveUp = GaveUp {
    message: why::Message::NONE,
};

impl fmt::Display for GaveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the fast reader gave up{}", self.message)
    }
}

impl std::error::Error for GaveUp {}

impl de::Error for GaveUp {
    #[cold]
    fn custom<T: fmt::Display>(message: T) -> Self {
        GaveUp {
            message: why::Message::new(message),
        }
    }
}

/// Why the reader gave up, for [`explain`]: test builds keep the message
/// a visitor gave and the byte where the reader first failed. In other
/// builds both types are empty and their methods do nothing, so the
/// reader's structs hold nothing more than they need.
#[cfg(test)]
mod why {
    use std::cell::Cell;
    use std::fmt;

    /// The message a visitor gave, if any.
    #[derive(Debug)]
    pub(super) struct Message(pub(super) Option<String>);

    impl Message {
        pub(super) const NONE: Message = Message(None);

        pub(super) fn new(message: impl fmt::Display) -> Self {
            Message(Some(message.to_string()))
        }
    }

    /// `: <message>`, or nothing.
    impl fmt::Display for Message {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match &self.0 {
                Some(message) => write!(f, ": {message}"),
                None => Ok(()),
            }
        }
    }

    /// Where the reader first failed.
    pub(super) struct StoppedAt(Cell<Option<usize>>);

    impl StoppedAt {
        pub(super) fn new() -> Self {
            StoppedAt(Cell::new(None))
        }

        pub(super) fn note(&self, pos: usize) {
            if self.0.get().is_none() {
                self.0.set(Some(pos));
            }
        }

        pub(super) fn get(&self) -> Option<usize> {
            self.0.get()
        }
    }
}

/// Empty: see the test build's `why`.
#[cfg(not(test))]
mod why {
    use std::fmt;

    #[derive(Debug)]
    pub(super) struct Message;

    impl Message {
        pub(super) const NONE: Message = Message;

        #[inline(always)]
        pub(super) fn new(_: impl fmt::Display) -> Self {
            Message
        }
    }

    impl fmt::Display for Message {
        fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
            Ok(())
        }
    }

    pub(super) struct StoppedAt;

    impl StoppedAt {
        #[inline(always)]
        pub(super) fn new() -> Self {
            StoppedAt
        }

        #[inline(always)]
        pub(super) fn note(&self, _: usize) {}
    }
}

type Result<T> = std::result::Result<T, GaveUp>;

/// Deserialize a `T` from all of `body`, white space around it allowed.
///
/// The body is checked for UTF-8 once, here, so that each string is then a
/// slice of checked text (a body that is not UTF-8 is left to
/// `serde_json`).
#[inline]
pub(crate) fn from_slice<'de, T: de::Deserialize<'de>>(body: &'de [u8]) -> Result<T> {
    let mut reader = Reader::new(std::str::from_utf8(body).map_err(|_| GAVE_UP)?);
    // The result is handed on as it is (not unwrapped and wrapped again),
    // so that a large value is not copied on its way out.
    let value = T::deserialize(&mut reader);
    reader.skip_space();
    if value.is_ok() && (reader.pos != body.len() || reader.failed.get()) {
        return Err(GAVE_UP);
    }
    value
}

/// Why [`from_slice`] gives up on `body` as a `T`: the byte where the
/// reader stopped, the text around it, and the message a visitor gave, if
/// any. `None` when it reads `body`.
#[cfg(test)]
pub(crate) fn explain<'de, T: de::Deserialize<'de>>(body: &'de [u8]) -> Option<String> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Some("the body is not UTF-8".into());
    };
    let mut reader = Reader::new(text);
    let result = T::deserialize(&mut reader);
    reader.skip_space();
    let at = reader.stopped_at.get().unwrap_or(reader.pos);
    let message = match result {
        Ok(_) if reader.pos == body.len() && !reader.failed.get() => return None,
        Ok(_) => "more after the value".to_owned(),
        Err(e) => e
            .message
            .0
            .unwrap_or_else(|| "input it does not handle".to_owned()),
    };
    let (mut from, mut to) = (at.saturating_sub(40), (at + 40).min(text.len()));
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    while !text.is_char_boundary(to) {
        to += 1;
    }
    Some(format!("{message}, at byte {at}: {:?}", &text[from..to]))
}

/// Nesting deeper than this gives up (`serde_json` refuses it too: its
/// limit of 128 counts the level that fails).
const MAX_DEPTH: u32 = 127;

/// The bytes that end the plain run of a string: `"`, `\` and control
/// characters.
const STOPS: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = true;
        i += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

struct Reader<'de> {
    /// Set by every failure of the reader itself, so that a visitor that
    /// drops an error and carries on cannot turn a failed read into a value:
    /// [`from_slice`] checks it at the end.
    failed: Cell<bool>,
    /// Where the reader first failed, to explain it (test builds).
    stopped_at: why::StoppedAt,
    /// The whole body, checked UTF-8.
    text: &'de str,
    pos: usize,
    depth: u32,
}

/// A string as read: where it lies in the body when it holds no escape,
/// else its decoded text.
enum Text {
    Borrowed(std::ops::Range<usize>),
    Decoded(String),
}

impl<'de> Reader<'de> {
    fn new(text: &'de str) -> Self {
        Reader {
            failed: Cell::new(false),
            stopped_at: why::StoppedAt::new(),
            text,
            pos: 0,
            depth: 0,
        }
    }

    /// The body's bytes.
    #[inline]
    fn bytes(&self) -> &'de [u8] {
        self.text.as_bytes()
    }

    /// Record a failure and return it.
    #[cold]
    fn fail(&self) -> GaveUp {
        self.failed.set(true);
        self.stopped_at.note(self.pos);
        GAVE_UP
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    /// Move past JSON white space; the byte after it, if any.
    #[inline]
    fn skip_space(&mut self) -> Option<u8> {
        loop {
            match self.peek() {
                Some(b' ' | b'\n' | b'\r' | b'\t') => self.pos += 1,
                next => return next,
            }
        }
    }

    /// The next byte that is not white space, not consumed.
    #[inline]
    fn next_token(&mut self) -> Result<u8> {
        self.skip_space().ok_or_else(|| self.fail())
    }

    /// Fail unless the next token is `byte`, which is not consumed.
    #[inline(always)]
    fn before(&mut self, byte: u8) -> Result<()> {
        if self.next_token()? == byte {
            Ok(())
        } else {
            Err(self.fail())
        }
    }

    #[inline]
    fn expect(&mut self, byte: u8) -> Result<()> {
        self.before(byte)?;
        self.pos += 1;
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Result<()> {
        match self.bytes().get(self.pos..self.pos + word.len()) {
            Some(found) if found == word => {
                self.pos += word.len();
                Ok(())
            }
            _ => Err(self.fail()),
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(self.fail())
        } else {
            Ok(())
        }
    }

    /// Advance to the first byte at or after `pos` that ends a plain run.
    ///
    /// Eight bytes are tested at a time with the zero-byte trick: for a
    /// little-endian word, the lowest flagged byte of `has_zero(word ^ c)`
    /// is the first byte equal to `c` (false flags only appear above a true
    /// one), and the same holds for the test for bytes below `0x20`.
    #[inline]
    fn skip_plain(&mut self) {
        const ONES: u64 = u64::from_le_bytes([0x01; 8]);
        const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
        const QUOTES: u64 = u64::from_le_bytes([b'"'; 8]);
        const BACKSLASHES: u64 = u64::from_le_bytes([b'\\'; 8]);
        const SPACES: u64 = u64::from_le_bytes([0x20; 8]);
        let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
        while let Some(chunk) = self.bytes().get(self.pos..self.pos + 8) {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            let stops = has_zero(word ^ QUOTES)
                | has_zero(word ^ BACKSLASHES)
                | (word.wrapping_sub(SPACES) & !word & HIGHS);
            if stops != 0 {
                self.pos += (stops.trailing_zeros() / 8) as usize;
                return;
            }
            self.pos += 8;
        }
        while let Some(&byte) = self.bytes().get(self.pos) {
            if STOPS[usize::from(byte)] {
                break;
            }
            self.pos += 1;
        }
    }

    /// Read a string whose opening quote is consumed.
    #[inline]
    fn text(&mut self) -> Result<Text> {
        let start = self.pos;
        self.skip_plain();
        match self.peek() {
            Some(b'"') => {
                let range = start..self.pos;
                self.pos += 1;
                Ok(Text::Borrowed(range))
            }
            Some(b'\\') => self.escaped(start),
            _ => Err(self.fail()),
        }
    }

    /// The rest of a string with escapes, decoded; `pos` is at the first `\`.
    #[cold]
    fn escaped(&mut self, start: usize) -> Result<Text> {
        let mut out = self
            .bytes()
            .get(start..self.pos)
            .ok_or_else(|| self.fail())?
            .to_vec();
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return String::from_utf8(out)
                        .map(Text::Decoded)
                        .map_err(|_| self.fail());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escape = self.peek().ok_or_else(|| self.fail())?;
                    self.pos += 1;
                    let plain = match escape {
                        b'"' | b'\\' | b'/' => escape,
                        b'b' => 0x08,
                        b'f' => 0x0C,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            let c = self.unicode_escape()?;
                            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                            continue;
                        }
                        _ => return Err(self.fail()),
                    };
                    out.push(plain);
                }
                Some(_) => {
                    let run = self.pos;
                    self.skip_plain();
                    if self.pos == run {
                        // A control character.
                        return Err(self.fail());
                    }
                    out.extend_from_slice(
                        self.bytes().get(run..self.pos).ok_or_else(|| self.fail())?,
                    );
                }
                None => return Err(self.fail()),
            }
        }
    }

    /// The character of a `\u` escape whose `\u` is consumed; a surrogate
    /// pair is two escapes. A lone surrogate gives up.
    fn unicode_escape(&mut self) -> Result<char> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                self.literal(b"\\u")?;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.fail());
                }
                0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(second) - 0xDC00)
            }
            _ => u32::from(first),
        };
        char::from_u32(code).ok_or_else(|| self.fail())
    }

    fn hex4(&mut self) -> Result<u16> {
        let digits = self
            .bytes()
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.fail())?;
        let mut value = 0u16;
        for &digit in digits {
            let nibble = char::from(digit).to_digit(16).ok_or_else(|| self.fail())?;
            value = (value << 4) | nibble as u16;
        }
        self.pos += 4;
        Ok(value)
    }

    /// Skip a string whose opening quote is consumed, as `serde_json` does
    /// for ignored values: escapes are checked for form only, and the text
    /// is not checked for UTF-8.
    fn skip_text(&mut self) -> Result<()> {
        loop {
            self.skip_plain();
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1
                        }
                        Some(b'u') => {
                            self.pos += 1;
                            self.hex4()?;
                        }
                        _ => return Err(self.fail()),
                    }
                }
                _ => return Err(self.fail()),
            }
        }
    }

    /// Read a number at `pos` and hand it to `visitor` as `serde_json`
    /// does: a whole number as `u64` (or `i64` when negative), anything
    /// with a fraction or exponent as `f64`. The numbers `serde_json` turns
    /// into floats for their size, `-0`, and floats out of range give up.
    ///
    /// `any` says the caller asked for any value (`deserialize_any`), not
    /// for a number. There, when `serde_json` is built with its
    /// `arbitrary_precision` feature (which any crate in the build can turn
    /// on), it hands a float over as its text, not as an `f64`, so that a
    /// raw `Value` keeps the number as written: the reader then gives up on
    /// floats and `serde_json` decides. Whole numbers that fit go over as
    /// `u64` / `i64` with the feature too.
    fn number<V: Visitor<'de>>(&mut self, visitor: V, any: bool) -> Result<V::Value> {
        let start = self.pos;
        match self.scan_number()? {
            Number::Whole {
                negative: false,
                magnitude: Some(value),
            } => visitor.visit_u64(value),
            Number::Whole {
                negative: true,
                magnitude: Some(magnitude),
            } => {
                let value = (magnitude as i64).wrapping_neg();
                if value < 0 {
                    visitor.visit_i64(value)
                } else {
                    Err(self.fail())
                }
            }
            Number::Whole {
                magnitude: None, ..
            } => Err(self.fail()),
            Number::Float => {
                let text = self
                    .bytes()
                    .get(start..self.pos)
                    .ok_or_else(|| self.fail())?;
                if text.len() > MAX_FLOAT_TEXT || (any && super::numbers_as_text()) {
                    return Err(self.fail());
                }
                let value = match short_decimal(text) {
                    Some(value) => value,
                    // The grammar was checked; Rust's parser rounds
                    // correctly, as `serde_json` does with `float_roundtrip`.
                    None => std::str::from_utf8(text)
                        .ok()
                        .and_then(|text| text.parse().ok())
                        .ok_or_else(|| self.fail())?,
                };
                if value.is_finite() {
                    visitor.visit_f64(value)
                } else {
                    Err(self.fail())
                }
            }
        }
    }

    /// Move past a number of JSON's grammar:
    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn scan_number(&mut self) -> Result<Number> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let mut magnitude = Some(0u64);
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.fail());
                }
            }
            Some(b'1'..=b'9') => {
                while let Some(digit @ b'0'..=b'9') = self.peek() {
                    magnitude = magnitude
                        .and_then(|m| m.checked_mul(10))
                        .and_then(|m| m.checked_add(u64::from(digit - b'0')));
                    self.pos += 1;
                }
            }
            _ => return Err(self.fail()),
        }
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.digits()?;
            float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.digits()?;
            float = true;
        }
        Ok(if float {
            Number::Float
        } else {
            Number::Whole {
                negative,
                magnitude,
            }
        })
    }

    /// One or more ASCII digits.
    fn digits(&mut self) -> Result<()> {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        if self.pos == start {
            Err(self.fail())
        } else {
            Ok(())
        }
    }

    /// Skip one value of any kind, without recursion: `open` holds one bit
    /// per enclosing container (set for objects).
    fn skip_value(&mut self) -> Result<()> {
        let mut open: u128 = 0;
        let mut depth = 0u32;
        loop {
            // A value.
            match self.next_token()? {
                open_byte @ (b'{' | b'[') => {
                    self.pos += 1;
                    let object = open_byte == b'{';
                    let close = if object { b'}' } else { b']' };
                    if self.next_token()? == close {
                        self.pos += 1;
                    } else {
                        depth += 1;
                        if self.depth + depth > MAX_DEPTH {
                            return Err(self.fail());
                        }
                        open = (open << 1) | u128::from(object);
                        if object {
                            self.skip_key()?;
                        }
                        continue;
                    }
                }
                b'"' => {
                    self.pos += 1;
                    self.skip_text()?;
                }
                b'-' | b'0'..=b'9' => {
                    self.scan_number()?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => return Err(self.fail()),
            }
            // What follows it: close containers until a comma or the end.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let object = open & 1 == 1;
                match self.next_token()? {
                    b',' => {
                        self.pos += 1;
                        if object {
                            self.skip_key()?;
                        }
                        break;
                    }
                    b'}' if object => {}
                    b']' if !object => {}
                    _ => return Err(self.fail()),
                }
                self.pos += 1;
                open >>= 1;
                depth -= 1;
            }
        }
    }

    /// Whether the next value is `null`; consumed if it is.
    #[inline(always)]
    fn null(&mut self) -> Result<bool> {
        if self.next_token()? == b'n' {
            self.literal(b"null")?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Skip `"key" :` inside an object.
    fn skip_key(&mut self) -> Result<()> {
        self.expect(b'"')?;
        self.skip_text()?;
        self.expect(b':')
    }

    /// The text of a string read whole from the body. Its ends sit next
    /// to ASCII quotes, so they are character boundaries and the slice
    /// needs no second UTF-8 check.
    #[inline]
    fn slice(&self, range: std::ops::Range<usize>) -> Result<&'de str> {
        self.text.get(range).ok_or_else(|| self.fail())
    }

    /// The bytes of a string read whole from the body (valid UTF-8, as
    /// the whole body is, but not checked again for a character boundary).
    #[inline]
    fn raw(&self, range: std::ops::Range<usize>) -> Result<&'de [u8]> {
        self.bytes().get(range).ok_or_else(|| self.fail())
    }

    fn visit_text<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        self.pos += 1;
        match self.text()? {
            Text::Borrowed(range) => visitor.visit_borrowed_str(self.slice(range)?),
            Text::Decoded(text) => visitor.visit_string(text),
        }
    }

    // The visitor's result is returned as it is, so that a large value is
    // written once, where the caller wants it: the closing bracket is
    // consumed by `Items`, and a visitor that stops before it fails the
    // read when `Items` is dropped.

    fn visit_array<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        visitor.visit_seq(self.open()?)
    }

    fn visit_object<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        visitor.visit_map(self.open()?)
    }

    /// Move past the `[` or `{` of an array or object, one level deeper,
    /// and give the access to its items.
    #[inline(always)]
    fn open(&mut self) -> Result<Items<'_, 'de>> {
        self.pos += 1;
        self.enter()?;
        Ok(Items {
            reader: self,
            first: true,
            closed: false,
        })
    }
}

/// Longest float text read here. `serde_json` reads at most 768
/// significant digits and rounds as if more nonzero ones followed, which
/// can differ from exact rounding on longer text; senders write at most 17.
const MAX_FLOAT_TEXT: usize = 64;

/// Powers of ten that `f64` holds exactly.
const EXACT_POWERS_OF_TEN: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The value of a decimal without exponent and with at most 15 digits
/// (`3.8`, `-0.25`), by Clinger's fast path: the digits as an integer
/// and the power of ten are both exact in `f64`, so one division rounds
/// correctly, to the same value as Rust's and `serde_json`'s parsers.
/// `None` for anything else.
fn short_decimal(text: &[u8]) -> Option<f64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let mut mantissa = 0u64;
    let mut count = 0usize;
    let mut fraction: Option<usize> = None;
    for &byte in digits {
        match byte {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(byte - b'0');
                count += 1;
                if count > 15 {
                    return None;
                }
            }
            b'.' if fraction.is_none() => fraction = Some(count),
            _ => return None,
        }
    }
    let scale = EXACT_POWERS_OF_TEN.get(count - fraction.unwrap_or(count))?;
    let value = mantissa as f64 / scale;
    Some(if negative { -value } else { value })
}

/// What [`Reader::scan_number`] saw.
enum Number {
    /// No fraction, no exponent; `magnitude` is `None` past `u64::MAX`.
    Whole {
        negative: bool,
        magnitude: Option<u64>,
    },
    /// A fraction or an exponent.
    Float,
}

/// Methods that read as another one does, their other arguments unused.
macro_rules! read_as {
    ($($method:ident($($arg:ty),*) => $as:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $(_: $arg,)* visitor: V) -> Result<V::Value> {
                self.$as(visitor)
            }
        )*
    };
}

/// Key forms this reader leaves to `serde_json` (numeric keys and the like).
macro_rules! gave_up {
    ($($method:ident($($arg:ty),*))*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $(_: $arg,)* _: V) -> Result<V::Value> {
                Err(self.reader.fail())
            }
        )*
    };
}

macro_rules! numbers {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
                match self.next_token()? {
                    b'-' | b'0'..=b'9' => self.number(visitor, false),
                    _ => Err(self.fail()),
                }
            }
        )*
    };
}

impl<'de> Deserializer<'de> for &mut Reader<'de> {
    type Error = GaveUp;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.next_token()? {
            b'{' => self.visit_object(visitor),
            b'[' => self.visit_array(visitor),
            b'"' => self.visit_text(visitor),
            b'-' | b'0'..=b'9' => self.number(visitor, true),
            b't' => {
                self.literal(b"true")?;
                visitor.visit_bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                visitor.visit_bool(false)
            }
            b'n' => {
                self.literal(b"null")?;
                visitor.visit_unit()
            }
            _ => Err(self.fail()),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.next_token()? {
            b't' | b'f' => self.deserialize_any(visitor),
            _ => Err(self.fail()),
        }
    }

    numbers! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_f64
    }

    fn deserialize_f32<V: Visitor<'de>>(self, _: V) -> Result<V::Value> {
        // `serde_json` parses straight to `f32`; rounding through `f64`
        // could differ in the last bit.
        Err(self.fail())
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.before(b'"')?;
        self.visit_text(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.next_token()? {
            b'"' => {
                self.pos += 1;
                match self.text()? {
                    Text::Borrowed(range) => visitor.visit_borrowed_bytes(self.raw(range)?),
                    Text::Decoded(_) => Err(self.fail()),
                }
            }
            b'[' => self.visit_array(visitor),
            _ => Err(self.fail()),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.null()? {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.null()? {
            visitor.visit_unit()
        } else {
            Err(self.fail())
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        // `serde_json`'s own types (`RawValue`) speak a private protocol.
        if name.starts_with("$serde_json") {
            Err(self.fail())
        } else {
            visitor.visit_newtype_struct(self)
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.before(b'[')?;
        self.visit_array(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.before(b'{')?;
        self.visit_object(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value> {
        Err(self.fail())
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip_value()?;
        visitor.visit_unit()
    }

    // `serde_json` also reads a struct from an array; that rare form is
    // left to it.
    read_as! {
        deserialize_char() => deserialize_str
        deserialize_string() => deserialize_str
        deserialize_identifier() => deserialize_str
        deserialize_byte_buf() => deserialize_bytes
        deserialize_unit_struct(&'static str) => deserialize_unit
        deserialize_tuple(usize) => deserialize_seq
        deserialize_tuple_struct(&'static str, usize) => deserialize_seq
        deserialize_struct(&'static str, &'static [&'static str]) => deserialize_map
    }
}

/// The elements of an array or the entries of an object, its opening
/// bracket consumed.
struct Items<'a, 'de> {
    reader: &'a mut Reader<'de>,
    first: bool,
    /// Whether the closing bracket has been consumed.
    closed: bool,
}

/// A visitor that is done with an array or object before its closing
/// bracket (it stopped early, or failed) made its value, if any, from part
/// of the input: the read fails, at the end, in [`from_slice`]. (On a
/// visitor's error this gives up where `serde_json` may carry on for a
/// visitor that drops the error; `serde_json` then decides.)
impl Drop for Items<'_, '_> {
    fn drop(&mut self) {
        if !self.closed {
            self.reader.fail();
        }
    }
}

impl Items<'_, '_> {
    /// Move to the next item: `false` at the closing bracket `close`
    /// (consumed, leaving the level, and `false` again after that), `true`
    /// before the next item, past its comma. A missing or trailing comma
    /// fails.
    fn next(&mut self, close: u8) -> Result<bool> {
        if self.closed {
            return Ok(false);
        }
        let reader = &mut *self.reader;
        let token = reader.next_token()?;
        if token == close {
            reader.pos += 1;
            reader.depth = reader.depth.saturating_sub(1);
            self.closed = true;
            return Ok(false);
        }
        if !self.first {
            if token != b',' {
                return Err(reader.fail());
            }
            reader.pos += 1;
            if reader.next_token()? == close {
                return Err(reader.fail());
            }
        }
        self.first = false;
        Ok(true)
    }
}

impl<'de> SeqAccess<'de> for Items<'_, 'de> {
    type Error = GaveUp;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if !self.next(b']')? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.reader).map(Some)
    }
}

impl<'de> MapAccess<'de> for Items<'_, 'de> {
    type Error = GaveUp;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if !self.next(b'}')? {
            return Ok(None);
        }
        if self.reader.next_token()? != b'"' {
            return Err(self.reader.fail());
        }
        self.reader.pos += 1;
        seed.deserialize(Key {
            reader: &mut *self.reader,
        })
        .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        // The colon belongs to the value, as in `serde_json`: a visitor that
        // stops after a key leaves `:` unread, and the object fails to close.
        self.reader.expect(b':')?;
        seed.deserialize(&mut *self.reader)
    }
}

/// An object key, its opening quote consumed. Field names (identifiers)
/// are handed over as bytes, to be compared with known names; they are
/// checked as strictly as `serde_json` checks them all the same: the whole
/// body is valid UTF-8 (checked once, in [`from_slice`]), and
/// [`Reader::text`] gives up on raw control characters and lone surrogate
/// escapes. Other keys are handed over as text.
struct Key<'a, 'de> {
    reader: &'a mut Reader<'de>,
}

impl<'de> Deserializer<'de> for Key<'_, 'de> {
    type Error = GaveUp;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.reader.text()? {
            Text::Borrowed(range) => visitor.visit_borrowed_str(self.reader.slice(range)?),
            Text::Decoded(text) => visitor.visit_string(text),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.reader.text()? {
            Text::Borrowed(range) => visitor.visit_borrowed_bytes(self.reader.raw(range)?),
            Text::Decoded(text) => visitor.visit_string(text),
        }
    }

    // An ignored key is read as `serde_json` reads it: as text (lone
    // surrogates fail).
    read_as! {
        deserialize_str() => deserialize_any
        deserialize_string() => deserialize_any
        deserialize_ignored_any() => deserialize_any
    }

    gave_up! {
        deserialize_bool() deserialize_i8() deserialize_i16() deserialize_i32()
        deserialize_i64() deserialize_u8() deserialize_u16() deserialize_u32()
        deserialize_u64() deserialize_f32() deserialize_f64() deserialize_char()
        deserialize_bytes() deserialize_byte_buf() deserialize_option() deserialize_unit()
        deserialize_seq() deserialize_map() deserialize_unit_struct(&'static str)
        deserialize_newtype_struct(&'static str) deserialize_tuple(usize)
        deserialize_tuple_struct(&'static str, usize)
        deserialize_struct(&'static str, &'static [&'static str])
        deserialize_enum(&'static str, &'static [&'static str])
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;
    use crate::wire::assert_agrees;

    /// The fast reader takes `body` and agrees with `serde_json`. (When
    /// `serde_json` keeps floats as text, the reader leaves the floats of
    /// a `Value` to it: then only agreement is checked.)
    #[track_caller]
    fn fast(body: &[u8]) {
        assert!(
            assert_agrees::<Value>(body) || crate::wire::numbers_as_text(),
            "gave up on {:?}",
            String::from_utf8_lossy(body)
        );
    }

    #[test]
    fn whole_numbers_at_the_edges_of_u64() {
        for body in [
            "0",
            "7",
            "-7",
            "1234567890123456789",
            "9999999999999999999",
            "10000000000000000000",
            "18446744073709551615",
            "-9223372036854775808",
            "[9999999999999999999,18446744073709551615,1]",
        ] {
            fast(body.as_bytes());
            assert!(
                assert_agrees::<Vec<u64>>(format!("[{body}]").as_bytes())
                    || body.starts_with('-')
                    || body.starts_with('[')
            );
        }
        assert_eq!(
            from_slice::<u64>(b"18446744073709551615").ok(),
            Some(u64::MAX)
        );
        assert_eq!(
            from_slice::<u64>(b"9999999999999999999").ok(),
            Some(9_999_999_999_999_999_999)
        );
        for past in [
            "18446744073709551616",
            "99999999999999999999",
            "123456789012345678901234567890",
            "-9223372036854775809",
        ] {
            assert!(from_slice::<u64>(past.as_bytes()).is_err(), "{past}");
            assert!(from_slice::<i64>(past.as_bytes()).is_err(), "{past}");
        }
    }

    #[test]
    fn explain_says_where_and_why_it_gave_up() {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Reading {
            value: u8,
        }
        assert_eq!(explain::<Reading>(br#"{"value":1}"#), None);
        let why = explain::<Reading>(br#"{"other":1}"#).unwrap();
        assert!(why.starts_with("missing field `value`"), "{why}");
        let why = explain::<Reading>(br#"{"value": "high"}"#).unwrap();
        assert!(
            why.contains(r#"at byte 10: "{\"value\": \"high\"}""#),
            "{why}"
        );
        let why = explain::<Reading>(b"{\"value\":1} x").unwrap();
        assert!(why.starts_with("more after the value"), "{why}");
        assert_eq!(
            explain::<Reading>(b"\xff").unwrap(),
            "the body is not UTF-8"
        );
    }

    /// The fast reader gives up on `body`.
    #[track_caller]
    fn gives_up(body: &[u8]) {
        assert!(
            !assert_agrees::<Value>(body),
            "took {:?}",
            String::from_utf8_lossy(body)
        );
    }

    #[test]
    fn reads_what_senders_send() {
        for body in [
            r#"{"id":"evt_1","type":"a.b","data":{"x":[1,-2,3.5,-0.25,1e3,2E-2,0],"y":null}}"#,
            " {\t\"a\" :\r\n[ true , false , null ] } \n",
            r#"[[],{},[[]],{"a":{}},"",0,-0.0,1.7976931348623157e308,5e-324]"#,
            r#""plain""#,
            r#"{"esc":"q\" b\\ s\/ \b\f\n\r\t \u0041\u00e9\u20ac\ud83d\ude00 \u0000"}"#,
            r#"{"utf8":"é € 😀 mg/L","k\u00e9y":1,"dup":1,"dup":2}"#,
            r#"[18446744073709551615,-9223372036854775808,9007199254740993]"#,
            r#"[0.1,0.30000000000000004,123456789012345.6,1234567890123456.7,2.5e-8]"#,
            "\"ends with a long plain run past eight bytes ...........\"",
        ] {
            fast(body.as_bytes());
        }
        fast(format!("{}1{}", "[".repeat(127), "]".repeat(127)).as_bytes());
        // Past `u64` but with a fraction: a float for both readers.
        fast(b"123456789012345678901234567890.5");
    }

    #[test]
    fn gives_up_on_what_serde_json_refuses() {
        for body in [
            "",
            " ",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "[,1]",
            "{,}",
            "{\"a\" 1}",
            "{1:2}",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "1e+",
            "+1",
            "tru",
            "nul",
            "[1 2]",
            "\"unterminated",
            "\"ctl\u{1}\"",
            "\"tab\tin\"",
            r#""\x""#,
            r#""\u12""#,
            r#""\ud800""#,
            r#""\udc00""#,
            r#""\ud800\u0041""#,
            "1 2",
            "{} x",
            "NaN",
        ] {
            gives_up(body.as_bytes());
            assert!(serde_json::from_str::<Value>(body).is_err(), "{body:?}");
        }
        gives_up(b"\"\xff\"");
        gives_up(format!("{}1{}", "[".repeat(128), "]".repeat(128)).as_bytes());
    }

    #[test]
    fn gives_up_where_serde_json_picks_another_number_type() {
        // serde_json reads these as floats (or refuses them); only it decides.
        for body in [
            "-0",
            "18446744073709551616",
            "-9223372036854775809",
            "1e400",
            "-1e400",
        ] {
            gives_up(body.as_bytes());
        }
    }

    #[test]
    fn long_float_text_is_left_to_serde_json() {
        // An exact tie past serde_json's 768 digits: it rounds up, exact
        // rounding goes to even. Only serde_json decides.
        let tie = format!("9007199254740993{}e-760", "0".repeat(760));
        gives_up(tie.as_bytes());
        fast(format!("0.{}1", "0".repeat(60)).as_bytes());
        gives_up(format!("0.{}1", "0".repeat(70)).as_bytes());
    }

    #[test]
    fn f32_is_left_to_serde_json() {
        assert!(from_slice::<f32>(b"1.0000000596046448").is_err());
        assert!(!assert_agrees::<f32>(b"1.5"));
    }

    /// A test type whose `visit_map` is [`MapReader::read`]: any other
    /// input is refused.
    trait MapReader: Sized {
        fn read<'de, A: MapAccess<'de>>(map: A) -> std::result::Result<Self, A::Error>;
    }

    /// A [`MapReader`], read through serde's `deserialize_map`.
    #[derive(Debug)]
    struct ByMap<R>(R);

    impl<'de, R: MapReader> de::Deserialize<'de> for ByMap<R> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct V<R>(std::marker::PhantomData<R>);
            impl<'de, R: MapReader> Visitor<'de> for V<R> {
                type Value = ByMap<R>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a map")
                }
                fn visit_map<A: MapAccess<'de>>(
                    self,
                    map: A,
                ) -> std::result::Result<ByMap<R>, A::Error> {
                    R::read(map).map(ByMap)
                }
            }
            d.deserialize_map(V(std::marker::PhantomData))
        }
    }

    #[test]
    fn ignored_keys_are_read_as_text() {
        #[derive(Debug)]
        struct KeysOnly;
        impl MapReader for KeysOnly {
            fn read<'de, A: MapAccess<'de>>(mut map: A) -> std::result::Result<Self, A::Error> {
                while map.next_key::<de::IgnoredAny>()?.is_some() {
                    map.next_value::<de::IgnoredAny>()?;
                }
                Ok(KeysOnly)
            }
        }
        type Keys = ByMap<KeysOnly>;
        assert!(assert_agrees::<Keys>(br#"{"a":1,"b\u00e9":[2]}"#));
        assert!(!assert_agrees::<Keys>(br#"{"\udc00":1}"#));
        assert!(serde_json::from_slice::<Keys>(br#"{"\udc00":1}"#).is_err());
    }

    /// A visitor that reads the first key and stops, or that drops the
    /// error of its first value and goes on: neither may turn a body
    /// `serde_json` refuses into a value.
    #[derive(Debug)]
    enum Careless {
        FirstKeyOnly,
        DropsErrors,
    }

    impl MapReader for Careless {
        fn read<'de, A: MapAccess<'de>>(mut map: A) -> std::result::Result<Self, A::Error> {
            match map.next_key::<String>()?.as_deref() {
                Some("stop") => Ok(Careless::FirstKeyOnly),
                _ => {
                    let _ = map.next_value::<u8>();
                    while map.next_key::<String>()?.is_some() {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                    Ok(Careless::DropsErrors)
                }
            }
        }
    }

    #[test]
    fn careless_visitors_cannot_make_a_failed_read_succeed() {
        for body in [
            r#"{"stop":}"#,
            r#"{"stop":1}"#,
            r#"{"x":"text","y":1}"#,
            r#"{"x":1 2}"#,
        ] {
            assert!(!assert_agrees::<ByMap<Careless>>(body.as_bytes()), "{body}");
        }
        // An error of the visitor's own (300 is no `u8`) leaves the reader
        // past the value, in `serde_json` too: both go on alike.
        assert!(assert_agrees::<ByMap<Careless>>(br#"{"x":300,"y":1}"#));
    }

    #[test]
    fn deep_nesting_gives_up_without_recursing() {
        for open in ["[", "{\"a\":"] {
            let body = open.repeat(100_000);
            gives_up(body.as_bytes());
            // The same inside a value that is skipped.
            #[derive(Debug, serde::Deserialize)]
            struct Skips {}
            let wrapped = format!("{{\"x\":{body}}}");
            assert!(from_slice::<Skips>(wrapped.as_bytes()).is_err());
        }
        #[derive(Debug, serde::Deserialize)]
        struct Skips {}
        let nested = format!("{{\"x\":{}1{}}}", "[".repeat(126), "]".repeat(126));
        assert!(from_slice::<Skips>(nested.as_bytes()).is_ok());
    }

    #[test]
    fn skipped_values_are_checked_for_form() {
        #[derive(Debug, serde::Deserialize)]
        struct Keeps {
            #[allow(dead_code)]
            k: u8,
        }
        for (body, ok) in [
            (r#"{"x":{"a":[1,{"b":"\u00e9\""}],"c":-1.5e3},"k":1}"#, true),
            (r#"{"x":[],"y":{},"z":"","k":1}"#, true),
            (r#"{"x":[1,],"k":1}"#, false),
            (r#"{"x":{"a":1,},"k":1}"#, false),
            (r#"{"x":{"a"},"k":1}"#, false),
            (r#"{"x":[1}],"k":1}"#, false),
            (r#"{"x":01,"k":1}"#, false),
            (r#"{"x":"\q","k":1}"#, false),
        ] {
            assert_eq!(from_slice::<Keeps>(body.as_bytes()).is_ok(), ok, "{body}");
            assert_agrees::<Keeps>(body.as_bytes());
        }
    }

    #[test]
    fn field_names_are_bytes_other_keys_are_text() {
        #[derive(Debug, serde::Deserialize)]
        struct Named {
            #[allow(dead_code)]
            café: u8,
        }
        assert!(assert_agrees::<Named>("{\"café\":1}".as_bytes()));
        assert!(assert_agrees::<Named>(br#"{"caf\u00e9":1}"#));
    }

    #[test]
    fn field_names_that_serde_json_refuses_give_up() {
        #[derive(Debug, serde::Deserialize)]
        struct Named {
            #[allow(dead_code)]
            k: u8,
        }
        for key in [
            b"\xff".as_slice(),
            b"k\xc3",
            b"\xed\xa0\x80",
            b"\x01",
            b"k\x1f",
            b"\\ud800",
            b"\\udc00",
            b"k\\ud800\\u0041",
        ] {
            let mut body = b"{\"k\":1,\"".to_vec();
            body.extend_from_slice(key);
            body.extend_from_slice(b"\":2}");
            let shown = String::from_utf8_lossy(&body).into_owned();
            assert!(from_slice::<Named>(&body).is_err(), "took {shown:?}");
            assert!(serde_json::from_slice::<Named>(&body).is_err(), "{shown:?}");
        }
    }

    #[test]
    fn short_decimals_round_like_the_standard_parser() {
        // A fixed pseudo-random walk over digit strings of every length the
        // fast path takes, with the point in every place.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 15 + 1) as usize;
            let digits = format!("{:015}", state % 1_000_000_000_000_000);
            let digits = &digits[15 - len..];
            let point = (state >> 40) as usize % (len + 1);
            let text = if point == len {
                digits.to_string()
            } else {
                format!("{}.{}", &digits[..point.max(1)], &digits[point.max(1)..])
            };
            let text = if text.ends_with('.') {
                format!("{text}0")
            } else {
                text
            };
            for text in [text.clone(), format!("-{text}")] {
                let want: f64 = text.parse().unwrap();
                let got = short_decimal(text.as_bytes());
                assert_eq!(got.map(f64::to_bits), Some(want.to_bits()), "{text}");
            }
        }
        assert_eq!(short_decimal(b"1234567890123456"), None);
        assert_eq!(short_decimal(b"1e5"), None);
    }

    #[test]
    fn plain_runs_stop_at_the_first_stop_byte() {
        let fillers = ['a', ' ', '\u{7F}', 'é', '€', '😀', '!', '#', '[', ']'];
        for stop in ['"', '\\', '\0', '\u{1F}', '\n'] {
            for len in 0..40 {
                for filler in fillers {
                    let mut text = filler.to_string().repeat(len);
                    text.push(stop);
                    text.push_str("\"\\\u{1}tail");
                    let mut reader = Reader::new(&text);
                    reader.skip_plain();
                    let want = len * filler.len_utf8();
                    assert_eq!(reader.pos, want, "{filler:?} x{len} then {stop:?}");
                }
            }
        }
        let mut reader = Reader::new("no stop at all here");
        reader.skip_plain();
        assert_eq!(reader.pos, 19);
    }

    /// Any JSON value, with keys and strings from all of Unicode.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            (-1_000_000i64..1_000_000, 0u32..8)
                .prop_map(|(m, e)| Value::from(m as f64 / 10f64.powi(e as i32))),
            ".*".prop_map(Value::from),
        ];
        leaf.prop_recursive(6, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(".*", inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// JSON text with every non-ASCII character written as a `\u` escape,
    /// as some encoders send it.
    fn ascii_escaped(text: &str) -> String {
        let mut out = String::new();
        for c in text.chars() {
            if c.is_ascii() {
                out.push(c);
            } else {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn every_json_text_is_read_fast_and_alike(value in any_json(), pretty in any::<bool>()) {
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                serde_json::to_string(&value).unwrap()
            };
            fast(text.as_bytes());
            fast(ascii_escaped(&text).as_bytes());
        }

        #[test]
        fn changed_json_text_is_never_read_differently(
            value in any_json(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            how in 0u8..3,
        ) {
            let mut body = serde_json::to_vec(&value).unwrap();
            let at = at.index(body.len() + 1);
            match how {
                0 if at < body.len() => body[at] = byte,
                1 => body.insert(at, byte),
                _ if at < body.len() => {
                    body.remove(at);
                }
                _ => body.push(byte),
            }
            assert_agrees::<Value>(&body);
        }
    }
}

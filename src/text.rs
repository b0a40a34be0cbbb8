//! Sender text made safe to show: escaped, and cut to a budget of bytes.
//!
//! Every message and `Debug` that echoes what a sender chose (an event
//! type, a path of keys, a value quoted by `serde_json`, an id) goes
//! through here, so that it reads as one line and stays within its bound.

use std::fmt;

/// The longest `Display` of any message that echoes sender text, in bytes,
/// whatever the body: a [`ReadError`](crate::ReadError) (and the
/// [`PayloadError`](crate::PayloadError) around one), an
/// [`Unreadable`](crate::Unreadable), a stale notification.
pub(crate) const MAX_DISPLAY: usize = 1024;

/// The longest `Display` of a [`ReadError`](crate::ReadError), in bytes:
/// what is left of [`MAX_DISPLAY`] for a message that shows one inside its
/// own.
pub(crate) const MAX_PAYLOAD_DISPLAY: usize = 880;

/// The longest message of a [`ReadError`](crate::ReadError), in bytes once
/// escaped ([`PayloadError::MAX_MESSAGE`](crate::PayloadError::MAX_MESSAGE)).
pub(crate) const MAX_MESSAGE: usize = 200;

/// The longest event type echoed in a message, in bytes once escaped; the
/// sender chooses it.
pub(crate) const MAX_TYPE: usize = 96;

/// The longest path echoed in a message, in bytes once escaped: its keys
/// are the sender's, and a body can nest 128 levels of long keys.
pub(crate) const MAX_PATH: usize = 256;

/// The longest id (or uuid) echoed in a message, in bytes once escaped (a
/// UUID takes 36).
pub(crate) const MAX_ID: usize = 64;

/// The most digits a `usize` prints.
pub(crate) const MAX_DIGITS: usize = 20;

/// The longest a message can be, in bytes: its fixed text, and the most
/// bytes of each part of it that is bounded on its own (sender text cut to
/// its budget, a number, a message shown inside it). Each message checks
/// this against its budget at compile time.
pub(crate) const fn longest(fixed: &[&str], bounded: &[usize]) -> usize {
    let (mut total, mut i) = (0, 0);
    while i < fixed.len() {
        total += fixed[i].len();
        i += 1;
    }
    let mut i = 0;
    while i < bounded.len() {
        total += bounded[i];
        i += 1;
    }
    total
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
pub(crate) fn is_escaped(c: char) -> bool {
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

pub(crate) const ELLIPSIS: char = '…';

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
pub(crate) fn escape_into(out: &mut String, text: &str, max: usize, quoted: bool) -> bool {
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

/// Sender text to print: its `Display` writes it whole, escaped as the
/// crate's messages escape it, so that it stays on one line and reads as
/// what it is.
///
/// Escaped are control characters (a line break becomes `\n`) and the
/// invisible characters that reorder or hide text (`\u{202e}`); anything
/// else is written as it is. The `Display` of the crate's ids and open
/// enums (event types, statuses) escapes the same way; use this one for
/// other sender text, such as [`Unreadable::id`](crate::Unreadable::id) or
/// an event's `event_type()`.
///
/// ```
/// use utility_webhooks::{Escaped, smartcomply::EventId};
///
/// let id = "evt_1\nprocessed evt_FORGED";
/// assert_eq!(Escaped(id).to_string(), r"evt_1\nprocessed evt_FORGED");
/// assert_eq!(EventId::new(id).to_string(), r"evt_1\nprocessed evt_FORGED");
/// assert_eq!(EventId::new(id).as_str(), id); // the exact value
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.0)
    }
}

/// Write `text` whole, escaped as [`sanitize`] escapes it: the `Display`
/// of [`Escaped`], ids and open enums. Text with nothing to escape is
/// padded as `str`'s `Display` pads it.
pub(crate) fn write_escaped(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    if !text
        .chars()
        .any(|c| !matches!(Shown::of(c, false), Shown::Plain(_)))
    {
        return f.pad(text);
    }
    let mut shown = String::new();
    escape_into(&mut shown, text, usize::MAX, false);
    f.pad(&shown)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::fmt::Write as _;

    #[test]
    fn ids_and_open_enums_display_sender_text_on_one_line() {
        use crate::{smartcomply, smarterwx};
        let forged = "evt_1\nprocessed evt_FORGED\u{202e}";
        let want = r"evt_1\nprocessed evt_FORGED\u{202e}";
        assert_eq!(Escaped(forged).to_string(), want);
        assert_eq!(smartcomply::EventId::new(forged).to_string(), want);
        assert_eq!(smarterwx::NotificationId::new(forged).to_string(), want);
        assert_eq!(smartcomply::EventType::from(forged).to_string(), want);
        assert_eq!(smarterwx::EventType::from(forged).to_string(), want);
        // Plain text as it is, padded as `str` pads it; long text whole.
        assert_eq!(format!("{:>7}", Escaped("evt_1")), "  evt_1");
        assert_eq!(format!("{:<6}|", Escaped("a\tb")), "a\\tb  |");
        let long = "x".repeat(10_000);
        assert_eq!(Escaped(&long).to_string(), long);
        assert_eq!(
            smartcomply::EventType::TestFailed.to_string(),
            "test.failed"
        );
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

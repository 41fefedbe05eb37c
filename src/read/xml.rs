//! A small streaming XML tokenizer for looking at package parts before the
//! spreadsheet parser does: how deep elements nest, and which start and end
//! tags there are (with their attributes and byte offsets) so that the ods
//! check can tell how large the parser's ranges would grow.
//!
//! It splits markup the way quick-xml (the parser behind calamine) does:
//! comments end at the first `-->`, CDATA at the first `]]>`, processing
//! instructions at the first `?>`, and a `>` inside a quoted attribute value
//! does not end a tag. A DOCTYPE is refused: no OOXML or ODF part has one.

use std::borrow::Cow;
use std::io::Read;
use std::ops::Range;

/// The longest tag accepted; real parts have tags of a few hundred bytes.
pub const MAX_TAG_BYTES: usize = 1 << 20;

/// The bytes that end a plain run inside a tag: its `>` and the quotes.
static ENDS_PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    t[b'>' as usize] = true;
    t[b'"' as usize] = true;
    t[b'\'' as usize] = true;
    t
};

/// A start or end tag.
#[derive(Debug)]
pub enum Event<'a> {
    /// `<name attrs>` or `<name attrs/>` (`empty`), starting at byte `at`.
    Start {
        name: &'a [u8],
        attrs: &'a [u8],
        empty: bool,
        at: u64,
    },
    /// `</name>`, starting at byte `at`.
    End { name: &'a [u8], at: u64 },
}

/// Why a part was not scanned to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// Elements nest deeper than the limit.
    TooDeep(u32),
    /// A tag longer than [`MAX_TAG_BYTES`].
    TagTooLong,
    /// A `<!DOCTYPE`.
    Doctype,
    /// The bytes could not be read (e.g. the compressed data is damaged);
    /// left for the spreadsheet parser to report.
    Read(String),
    /// The visitor asked to stop, with its reason.
    Visitor(String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Text,
    /// Just after `<`.
    Open,
    /// Inside a start or end tag; `quote` is the open quote, if any.
    Tag {
        end: bool,
        quote: u8,
    },
    /// After `<!`: deciding between comment, CDATA and declaration.
    Bang,
    /// A `<!…>` declaration other than a comment or CDATA, skipped.
    Decl {
        quote: u8,
    },
    Comment,
    CData,
    Pi,
}

/// Scans `input` to its end, calling `visit` for every tag. Returns the
/// deepest nesting seen.
///
/// # Errors
/// [`Stop`] when the nesting passes `max_depth`, a tag is too long, there is a
/// DOCTYPE, the input cannot be read, or `visit` returns an error.
pub fn scan<R: Read>(
    mut input: R,
    max_depth: u32,
    mut visit: impl FnMut(&Event<'_>) -> Result<(), String>,
) -> Result<u32, Stop> {
    let mut scanner = Scanner::new(max_depth);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match input.read(&mut buf) {
            Ok(0) => return Ok(scanner.deepest),
            Ok(n) => scanner.feed(&buf[..n], &mut visit)?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Stop::Read(e.to_string())),
        }
    }
}

/// [`scan`] over bytes already in memory, without copying them.
///
/// # Errors
/// As [`scan`].
pub fn scan_slice(
    input: &[u8],
    max_depth: u32,
    mut visit: impl FnMut(&Event<'_>) -> Result<(), String>,
) -> Result<u32, Stop> {
    let mut scanner = Scanner::new(max_depth);
    scanner.feed(input, &mut visit)?;
    Ok(scanner.deepest)
}

/// The tokenizer's state between chunks of input.
struct Scanner {
    max_depth: u32,
    state: State,
    /// A tag begun in an earlier chunk, or the bytes of a `<!…` being told
    /// apart, or the last bytes of a comment, CDATA or instruction.
    tag: Vec<u8>,
    depth: u32,
    deepest: u32,
    /// Bytes fed before the current chunk.
    offset: u64,
    /// Where the current tag started.
    tag_at: u64,
}

impl Scanner {
    fn new(max_depth: u32) -> Scanner {
        Scanner {
            max_depth,
            state: State::Text,
            tag: Vec::new(),
            depth: 0,
            deepest: 0,
            offset: 0,
            tag_at: 0,
        }
    }

    /// Scans the next chunk of input.
    fn feed(
        &mut self,
        chunk: &[u8],
        visit: &mut impl FnMut(&Event<'_>) -> Result<(), String>,
    ) -> Result<(), Stop> {
        let max_depth = self.max_depth;
        let (mut state, mut depth, mut deepest) = (self.state, self.depth, self.deepest);
        let (offset, mut tag_at) = (self.offset, self.tag_at);
        let tag = &mut self.tag;
        let n = chunk.len();
        let buf = chunk;
        let mut i = 0;
        while i < n {
            let b = buf[i];
            match state {
                State::Text => {
                    // Tags often follow each other directly.
                    let next = if b == b'<' {
                        Some(0)
                    } else {
                        memchr::memchr(b'<', &buf[i..n])
                    };
                    match next {
                        Some(p) => {
                            i += p;
                            tag_at = offset + i as u64;
                            state = State::Open;
                        }
                        None => i = n - 1,
                    }
                }
                State::Open => {
                    tag.clear();
                    match b {
                        b'/' => {
                            state = State::Tag {
                                end: true,
                                quote: 0,
                            }
                        }
                        b'!' => state = State::Bang,
                        b'?' => state = State::Pi,
                        _ => {
                            // this byte starts the name
                            state = State::Tag {
                                end: false,
                                quote: 0,
                            };
                            continue;
                        }
                    }
                }
                State::Tag { end, mut quote } => {
                    // The rest of the tag in one tight loop: up to its `>`
                    // outside quotes, or to the end of what was read.
                    let start = i;
                    let mut j = i;
                    let mut closed = false;
                    while j < n {
                        if quote == 0 {
                            while j < n && !ENDS_PLAIN[usize::from(buf[j])] {
                                j += 1;
                            }
                            if j == n {
                                break;
                            }
                            if buf[j] == b'>' {
                                closed = true;
                                break;
                            }
                            quote = buf[j];
                        } else {
                            while j < n && buf[j] != quote {
                                j += 1;
                            }
                            if j == n {
                                break;
                            }
                            quote = 0;
                        }
                        j += 1;
                    }
                    if tag.len() + (j - start) > MAX_TAG_BYTES {
                        return Err(Stop::TagTooLong);
                    }
                    if !closed {
                        tag.extend_from_slice(&buf[start..j]);
                        state = State::Tag { end, quote };
                        i = j;
                        continue;
                    }
                    // A tag read whole is looked at where it lies.
                    let whole: &[u8] = if tag.is_empty() {
                        &buf[start..j]
                    } else {
                        tag.extend_from_slice(&buf[start..j]);
                        &tag[..]
                    };
                    i = j;
                    state = State::Text;
                    let event = if end {
                        depth = depth.saturating_sub(1);
                        Event::End {
                            name: whole.trim_ascii(),
                            at: tag_at,
                        }
                    } else {
                        let empty = whole.last() == Some(&b'/');
                        let body = if empty {
                            &whole[..whole.len() - 1]
                        } else {
                            whole
                        };
                        let name_len = body
                            .iter()
                            .position(|c| c.is_ascii_whitespace())
                            .unwrap_or(body.len());
                        if !empty {
                            depth += 1;
                            deepest = deepest.max(depth);
                            if depth > max_depth {
                                return Err(Stop::TooDeep(depth));
                            }
                        }
                        Event::Start {
                            name: &body[..name_len],
                            attrs: &body[name_len..],
                            empty,
                            at: tag_at,
                        }
                    };
                    visit(&event).map_err(Stop::Visitor)?;
                }
                State::Bang => {
                    tag.push(b);
                    let upper = tag.to_ascii_uppercase();
                    if tag == b"--" {
                        state = State::Comment;
                        tag.clear();
                    } else if tag == b"[CDATA[" {
                        state = State::CData;
                        tag.clear();
                    } else if upper == b"DOCTYPE" {
                        return Err(Stop::Doctype);
                    } else if !b"--".starts_with(tag)
                        && !b"[CDATA[".starts_with(tag)
                        && !b"DOCTYPE".starts_with(&upper)
                    {
                        // Some other declaration: skipped up to its `>`.
                        state = State::Decl { quote: 0 };
                        tag.clear();
                        if b == b'>' {
                            state = State::Text;
                        }
                    }
                }
                State::Decl { quote } => {
                    state = match (quote, b) {
                        (0, b'>') => State::Text,
                        (0, b'"' | b'\'') => State::Decl { quote: b },
                        (q, c) if q == c => State::Decl { quote: 0 },
                        _ => state,
                    };
                }
                State::Comment | State::CData | State::Pi => {
                    let closing: &[u8] = match state {
                        State::Comment => b"-->",
                        State::CData => b"]]>",
                        _ => b"?>",
                    };
                    tag.push(b);
                    if tag.len() > closing.len() {
                        tag.remove(0);
                    }
                    if tag.ends_with(closing) {
                        state = State::Text;
                        tag.clear();
                    }
                }
            }
            i += 1;
        }
        self.state = state;
        self.depth = depth;
        self.deepest = deepest;
        self.offset = offset + n as u64;
        self.tag_at = tag_at;
        Ok(())
    }
}

/// Where the `key="value"` pairs of a start tag's attributes lie, split as
/// calamine splits them (its `RawAttrIter`): key and value ranges in `raw`,
/// the value not unescaped; `Err` at a malformed pair (a key without `=`, a
/// value without quotes), after which there is nothing more.
pub struct AttrSpans<'a> {
    raw: &'a [u8],
    pos: usize,
}

/// A malformed attribute (calamine reports an error for it).
#[derive(Debug)]
pub struct Malformed;

impl<'a> AttrSpans<'a> {
    pub fn new(raw: &'a [u8]) -> AttrSpans<'a> {
        AttrSpans { raw, pos: 0 }
    }
}

impl Iterator for AttrSpans<'_> {
    type Item = Result<(Range<usize>, Range<usize>), Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        let (raw, len) = (self.raw, self.raw.len());
        let mut pos = self.pos;
        while pos < len && raw[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if pos >= len {
            self.pos = pos;
            return None;
        }
        let key_start = pos;
        while pos < len && raw[pos] != b'=' {
            pos += 1;
        }
        // (a malformed pair ends the attributes)
        self.pos = len;
        if pos >= len {
            return Some(Err(Malformed));
        }
        let mut key_end = pos;
        while key_end > key_start && raw[key_end - 1].is_ascii_whitespace() {
            key_end -= 1;
        }
        pos += 1;
        while pos < len && raw[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let quote = match raw.get(pos) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => return Some(Err(Malformed)),
        };
        pos += 1;
        let start = pos;
        while pos < len && raw[pos] != quote {
            pos += 1;
        }
        let value = start..pos;
        if pos < len {
            pos += 1;
        }
        self.pos = pos;
        Some(Ok((key_start..key_end, value)))
    }
}

/// The attributes of a start tag as calamine reads them ([`AttrSpans`]), up
/// to a malformed one.
pub fn attributes(raw: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    AttrSpans::new(raw)
        .map_while(Result::ok)
        .map(move |(key, value)| (&raw[key], &raw[value]))
}

/// An attribute value with the XML escapes replaced (`&amp;`, `&#49;` …);
/// unknown or broken escapes are left as written.
pub fn unescape(value: &[u8]) -> Cow<'_, [u8]> {
    if !value.contains(&b'&') {
        return Cow::Borrowed(value);
    }
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'&'
            && let Some(len) = value[i..].iter().take(12).position(|&c| c == b';')
        {
            let entity = &value[i + 1..i + len];
            let ch = match entity {
                b"lt" => Some('<'),
                b"gt" => Some('>'),
                b"amp" => Some('&'),
                b"quot" => Some('"'),
                b"apos" => Some('\''),
                [b'#', b'x' | b'X', hex @ ..] => std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32),
                [b'#', dec @ ..] => std::str::from_utf8(dec)
                    .ok()
                    .and_then(|d| d.parse().ok())
                    .and_then(char::from_u32),
                _ => None,
            };
            if let Some(c) = ch {
                let mut tmp = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                i += len + 1;
                continue;
            }
        }
        out.push(value[i]);
        i += 1;
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(xml: &str) -> (Vec<String>, Result<u32, Stop>) {
        let mut seen = Vec::new();
        let r = scan(xml.as_bytes(), 10, |e| {
            seen.push(match e {
                Event::Start { name, empty, .. } => format!(
                    "<{}{}",
                    String::from_utf8_lossy(name),
                    if *empty { "/" } else { "" }
                ),
                Event::End { name, .. } => format!("</{}", String::from_utf8_lossy(name)),
            });
            Ok(())
        });
        (seen, r)
    }

    #[test]
    fn tags_comments_cdata_and_quoted_angle_brackets() {
        let (seen, depth) = tags(
            r#"<?xml version="1.0"?><a x="1>2"><!-- <b> --><![CDATA[<c>]]><d/><e k='>'>t</e></a>"#,
        );
        assert_eq!(seen, ["<a", "<d/", "<e", "</e", "</a"]);
        assert_eq!(depth, Ok(2));
    }

    /// Hands out its bytes a few at a time, as a slow inflater may.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(self.0.len()).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn tags_split_across_reads_are_seen_whole() {
        let xml = r#"<?xml version="1.0"?><ws a="x>y" b='q'><!-- c --><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1"/></row></ws>"#;
        let events = |input: &mut dyn Read| {
            let mut seen = Vec::new();
            let depth = scan(input, 10, |e| {
                seen.push(format!("{e:?}"));
                Ok(())
            });
            (seen, depth)
        };
        let whole = events(&mut xml.as_bytes());
        assert_eq!(whole.0.len(), 9);
        for step in 1..8 {
            assert_eq!(events(&mut Trickle(xml.as_bytes(), step)), whole, "{step}");
        }
    }

    #[test]
    fn depth_over_the_limit_stops_the_scan() {
        let xml = "<a>".repeat(11);
        assert_eq!(tags(&xml).1, Err(Stop::TooDeep(11)));
        assert_eq!(tags(&"<a>".repeat(10)).1, Ok(10));
    }

    #[test]
    fn doctype_is_refused_other_declarations_skipped() {
        assert_eq!(
            tags("<!DOCTYPE x [<!ENTITY a 'b'>]><x/>").1,
            Err(Stop::Doctype)
        );
        let (seen, r) = tags("<!ELEMENT x ANY><x/>");
        assert_eq!((seen, r), (vec!["<x/".to_string()], Ok(0)));
    }

    #[test]
    fn attributes_and_escapes() {
        let attrs: Vec<_> = attributes(br#" a="1" b = '&#50;&amp;' c"#).collect();
        assert_eq!(
            attrs,
            [(&b"a"[..], &b"1"[..]), (&b"b"[..], &b"&#50;&amp;"[..])]
        );
        assert_eq!(&*unescape(b"&#50;&amp;&#x33;&bogus;"), b"2&3&bogus;");
    }
}

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

/// The longest tag accepted; real parts have tags of a few hundred bytes.
pub const MAX_TAG_BYTES: usize = 1 << 20;

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
    let mut buf = vec![0u8; 64 * 1024];
    let mut tag: Vec<u8> = Vec::new();
    let mut state = State::Text;
    let mut depth: u32 = 0;
    let mut deepest: u32 = 0;
    let mut offset: u64 = 0;
    let mut tag_at: u64 = 0;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(deepest),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Stop::Read(e.to_string())),
        };
        let mut i = 0;
        while i < n {
            let b = buf[i];
            match state {
                State::Text => match buf[i..n].iter().position(|&c| c == b'<') {
                    Some(p) => {
                        i += p;
                        tag_at = offset + i as u64;
                        state = State::Open;
                    }
                    None => i = n - 1,
                },
                State::Open => {
                    tag.clear();
                    state = match b {
                        b'/' => State::Tag {
                            end: true,
                            quote: 0,
                        },
                        b'!' => State::Bang,
                        b'?' => State::Pi,
                        _ => {
                            tag.push(b);
                            State::Tag {
                                end: false,
                                quote: 0,
                            }
                        }
                    };
                }
                State::Tag { end, quote } => {
                    if quote == 0 && b == b'>' {
                        state = State::Text;
                        let event = if end {
                            depth = depth.saturating_sub(1);
                            Event::End {
                                name: tag.trim_ascii(),
                                at: tag_at,
                            }
                        } else {
                            let empty = tag.last() == Some(&b'/');
                            let body = if empty {
                                &tag[..tag.len() - 1]
                            } else {
                                &tag[..]
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
                    } else {
                        let quote = match (quote, b) {
                            (0, b'"' | b'\'') => b,
                            (q, c) if q == c => 0,
                            (q, _) => q,
                        };
                        state = State::Tag { end, quote };
                        if tag.len() >= MAX_TAG_BYTES {
                            return Err(Stop::TagTooLong);
                        }
                        tag.push(b);
                    }
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
                    } else if !b"--".starts_with(&tag)
                        && !b"[CDATA[".starts_with(&tag)
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
        offset += n as u64;
    }
}

/// Attributes of a start tag as calamine reads them: `key="value"` pairs split
/// the same way (its `RawAttrIter`), values not yet unescaped.
pub fn attributes(raw: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        let len = raw.len();
        while pos < len && raw[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if pos >= len {
            return None;
        }
        let key_start = pos;
        while pos < len && raw[pos] != b'=' {
            pos += 1;
        }
        if pos >= len {
            return None;
        }
        let key = raw[key_start..pos].trim_ascii_end();
        pos += 1;
        while pos < len && raw[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let quote = *raw.get(pos)?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        pos += 1;
        let start = pos;
        while pos < len && raw[pos] != quote {
            pos += 1;
        }
        let value = &raw[start..pos];
        if pos < len {
            pos += 1;
        }
        Some((key, value))
    })
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

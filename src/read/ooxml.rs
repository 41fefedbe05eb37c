//! An xlsx read straight from the XML parts the checks inflated
//! ([`package::Inflated`]), without handing the package to calamine: the
//! same sheets, cells and formulas calamine 0.38 gives, in the same order,
//! for the packages that spreadsheet programs write.
//!
//! Every step mirrors the calamine code it stands for (`Xlsx::new`,
//! `XlsxCellReader`, `read_string_with_bufs`, `read_v`), event for event over
//! the same markup. Wherever this reader is not sure to read as calamine
//! would (a comment or CDATA inside a part, an entity or escape it does not
//! decode, a number written in an unusual way, a part named twice, markup
//! calamine would refuse), it steps aside ([`Aside`]) before anything is
//! returned, and calamine reads the package. So errors always come from
//! calamine, and what this reader returns is what calamine would have
//! returned. Tests and the `read_bytes` fuzz target hold the two readers to
//! the same result. (One difference is by design: the parts this reader
//! never reads, such as the theme, are not held to the XML limits, while
//! before calamine every part is; see [`Inflated::check_rest`].)

use std::collections::HashMap;

use calamine::{CellErrorType, DataRef, Dimensions, XlsxFormulaMetadata};

use crate::catalog::Limits;
use crate::read::package::{Inflated, Part};
use crate::read::workbook::{Budget, OpenError, Opened, StreamedSheet};
use crate::read::xml;

/// This reader is not sure to read the package as calamine would.
#[derive(Debug)]
pub struct Aside;

type Sure<T> = Result<T, Aside>;

/// Reads the workbook from its inflated parts; `held` as for calamine's
/// reading (what its shared strings and styles hold). `Err(Aside)` when
/// calamine has to read it.
///
/// # Errors
/// [`Aside`] when this reader cannot vouch for the result; the inner
/// [`OpenError`] when the workbook passes a limit while its cells are read.
pub fn open(parts: &Inflated, limits: &Limits, held: u64) -> Sure<Result<Opened, OpenError>> {
    let depth = limits.max_xml_depth;
    let (xl_path, workbook_name) = package_relationships(here(parts, "_rels/.rels")?, depth)?;
    let strings = match parts.part(&format!("{xl_path}sharedStrings.xml")) {
        Part::Here(bytes) => shared_strings(bytes, depth)?,
        Part::Absent => Vec::new(),
        Part::Unsure => return Err(Aside),
    };
    match parts.part(&format!("{xl_path}styles.xml")) {
        Part::Here(bytes) => styles(bytes, depth)?,
        Part::Absent => {}
        Part::Unsure => return Err(Aside),
    }
    let rels = relationships(
        here(parts, &format!("{xl_path}_rels/{workbook_name}.rels"))?,
        depth,
    )?;
    let sheets = workbook(
        here(parts, &format!("{xl_path}{workbook_name}"))?,
        depth,
        &rels,
        &xl_path,
    )?;
    for (k, (name, _)) in sheets.iter().enumerate() {
        if sheets[..k].iter().any(|(n, _)| n == name) {
            return Err(Aside);
        }
    }
    let mut out = Opened::default();
    let mut stored = Budget::new(limits);
    stored.text = held;
    for (name, path) in &sheets {
        let mut sheet = StreamedSheet::new(name, limits);
        if let Err(e) = cells(here(parts, path)?, depth, &strings, &mut sheet, &mut stored)? {
            return Ok(Err(e));
        }
        out.sheets.push(sheet.finish(&mut out.notes));
    }
    Ok(Ok(out))
}

/// A part that must be there.
fn here<'a>(parts: &'a Inflated, path: &str) -> Sure<&'a [u8]> {
    match parts.part(path) {
        Part::Here(bytes) => Ok(bytes),
        Part::Absent | Part::Unsure => Err(Aside),
    }
}

// ---------------------------------------------------------------------------
// Markup

/// One event, as quick-xml (calamine's parser, set to expand empty
/// elements) reports it. Text is raw: entities are decoded where it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    Start { name: &'a [u8], attrs: &'a str },
    End { name: &'a [u8] },
    Text(&'a str),
    Eof,
}

/// The events of one part, in order.
struct Tokens<'a> {
    src: &'a str,
    pos: usize,
    /// The end of an empty element, reported after its start.
    pending_end: Option<&'a [u8]>,
    /// Elements open (quick-xml refuses an end tag when none is), and the
    /// most that may be (the checks' `max_xml_depth`).
    open: u32,
    max_open: u32,
}

/// Whitespace as XML (and quick-xml) has it.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl<'a> Tokens<'a> {
    /// UTF-8 only (calamine decodes nothing else), after an optional byte
    /// order mark and XML declaration; elements nested at most `max_open`
    /// deep.
    fn new(bytes: &'a [u8], max_open: u32) -> Sure<Tokens<'a>> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let src = simdutf8::basic::from_utf8(bytes).map_err(|_| Aside)?;
        let mut pos = 0;
        if src.starts_with("<?xml") && src.as_bytes().get(5).is_some_and(|&b| is_space(b)) {
            pos = src.find("?>").ok_or(Aside)? + 2;
        }
        Ok(Tokens {
            src,
            pos,
            pending_end: None,
            open: 0,
            max_open,
        })
    }

    fn next(&mut self) -> Sure<Tok<'a>> {
        if let Some(name) = self.pending_end.take() {
            self.open -= 1;
            return Ok(Tok::End { name });
        }
        let b = self.src.as_bytes();
        let pos = self.pos;
        if pos >= b.len() {
            return Ok(Tok::Eof);
        }
        if b[pos] != b'<' {
            let end = memchr::memchr(b'<', &b[pos..]).map_or(b.len(), |p| pos + p);
            self.pos = end;
            let text = &self.src[pos..end];
            references_closed(text)?;
            return Ok(Tok::Text(text));
        }
        let start = pos + 1;
        match b.get(start) {
            Some(b'/') => {
                let gt = start + memchr::memchr(b'>', &b[start..]).ok_or(Aside)?;
                let mut name = &b[start + 1..gt];
                // quick-xml reads an end tag's quotes as it reads a start
                // tag's: one with quotes is not vouched for
                if memchr::memchr2(b'"', b'\'', name).is_some() {
                    return Err(Aside);
                }
                while let [rest @ .., last] = name {
                    if !is_space(*last) {
                        break;
                    }
                    name = rest;
                }
                if name.is_empty() || name.iter().any(|&c| c <= b' ') || self.open == 0 {
                    return Err(Aside);
                }
                self.open -= 1;
                self.pos = gt + 1;
                Ok(Tok::End { name })
            }
            // comments, CDATA, declarations and instructions
            Some(b'!' | b'?') | None => Err(Aside),
            Some(_) => {
                // to the `>` outside quotes
                let mut i = start;
                let gt = loop {
                    let p = i + memchr::memchr3(b'>', b'"', b'\'', &b[i..]).ok_or(Aside)?;
                    if b[p] == b'>' {
                        break p;
                    }
                    i = p + 1 + memchr::memchr(b[p], &b[p + 1..]).ok_or(Aside)? + 1;
                };
                if gt - start > xml::MAX_TAG_BYTES {
                    return Err(Aside);
                }
                let content = &b[start..gt];
                let (body, empty) = match content.strip_suffix(b"/") {
                    Some(body) => (body, true),
                    None => (content, false),
                };
                let name_len = body.iter().position(|&c| is_space(c)).unwrap_or(body.len());
                if name_len == 0 || self.open >= self.max_open {
                    return Err(Aside);
                }
                let name = &body[..name_len];
                // (`<`, the name's end and `/` are ASCII: char boundaries)
                let attrs = &self.src[start + name_len..start + body.len()];
                self.pos = gt + 1;
                self.open += 1;
                if empty {
                    self.pending_end = Some(name);
                }
                Ok(Tok::Start { name, attrs })
            }
        }
    }

    /// Reads to the end of the part: what calamine does not read is still
    /// held to the checks' limits.
    fn finish(&mut self) -> Sure<()> {
        while self.next()? != Tok::Eof {}
        Ok(())
    }

    /// Skips to the end of the element `name` just started, as quick-xml's
    /// `read_to_end` does (counting elements of the same name inside).
    fn skip_to_end(&mut self, name: &[u8]) -> Sure<()> {
        let mut depth = 0u32;
        loop {
            match self.next()? {
                Tok::Start { name: n, .. } if n == name => depth += 1,
                Tok::End { name: n } if n == name => {
                    if depth == 0 {
                        return Ok(());
                    }
                    depth -= 1;
                }
                Tok::Eof => return Err(Aside),
                _ => {}
            }
        }
    }

    /// The text up to the end of the element `name` just started, decoded
    /// (text inside other elements included, as calamine reads it).
    fn text_to_end(&mut self, name: &[u8], out: &mut String) -> Sure<()> {
        loop {
            match self.next()? {
                Tok::Text(raw) => decode(raw, out)?,
                Tok::End { name: n } if n == name => return Ok(()),
                Tok::Eof => return Err(Aside),
                _ => {}
            }
        }
    }
}

/// The name without its namespace prefix (after the first `:`).
fn local(name: &[u8]) -> &[u8] {
    match memchr::memchr(b':', name) {
        Some(at) => &name[at + 1..],
        None => name,
    }
}

/// quick-xml refuses text with an `&` not closed by a `;` before the next
/// `&` or tag, wherever the text is.
fn references_closed(text: &str) -> Sure<()> {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(amp) = memchr::memchr(b'&', &b[from..]) {
        let after = from + amp + 1;
        match memchr::memchr2(b';', b'&', &b[after..]) {
            Some(k) if b[after + k] == b';' => from = after + k + 1,
            _ => return Err(Aside),
        }
    }
    Ok(())
}

/// Appends text with its entity and character references decoded. Line
/// ends written as `\r` would be changed by calamine: not vouched for.
fn decode(raw: &str, out: &mut String) -> Sure<()> {
    if raw.contains('\r') {
        return Err(Aside);
    }
    let mut rest = raw;
    while let Some(amp) = memchr::memchr(b'&', rest.as_bytes()) {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = memchr::memchr(b';', after.as_bytes()).ok_or(Aside)?;
        let entity = &after[..semi];
        let c = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "apos" => '\'',
            "quot" => '"',
            _ => char_ref(entity)?,
        };
        out.push(c);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(())
}

/// `#123` or `#x7B`, as quick-xml resolves them.
fn char_ref(entity: &str) -> Sure<char> {
    let num = entity.strip_prefix('#').ok_or(Aside)?;
    let (digits, radix) = match num.strip_prefix('x') {
        Some(hex) => (hex, 16),
        None => (num, 10),
    };
    if digits.starts_with(['+', '-']) {
        return Err(Aside);
    }
    let code = u32::from_str_radix(digits, radix).map_err(|_| Aside)?;
    if code == 0 {
        return Err(Aside);
    }
    char::from_u32(code).ok_or(Aside)
}

/// An attribute value decoded (calamine's `decode_attr`).
fn decode_attr(raw: &str) -> Sure<String> {
    let mut out = String::with_capacity(raw.len());
    decode(raw, &mut out)?;
    Ok(out)
}

/// Excel's `_xHHHH_` escapes, which calamine decodes in strings: text that
/// may hold one is not vouched for.
fn plain(s: &str) -> Sure<&str> {
    let b = s.as_bytes();
    if memchr::memchr_iter(b'_', b).any(|at| b.get(at + 1) == Some(&b'x')) {
        Err(Aside)
    } else {
        Ok(s)
    }
}

/// A start tag's attributes as calamine reads them (`attrs::RawAttrIter`):
/// `key="value"` pairs, raw; a malformed one is an error.
struct Attrs<'a> {
    raw: &'a str,
    spans: xml::AttrSpans<'a>,
}

impl<'a> Attrs<'a> {
    fn new(raw: &'a str) -> Attrs<'a> {
        Attrs {
            raw,
            spans: xml::AttrSpans::new(raw.as_bytes()),
        }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Sure<(&'a str, &'a str)>;

    fn next(&mut self) -> Option<Self::Item> {
        // (the ranges start and end next to ASCII bytes: char boundaries)
        Some(match self.spans.next()? {
            Ok((key, value)) => Ok((&self.raw[key], &self.raw[value])),
            Err(xml::Malformed) => Err(Aside),
        })
    }
}

/// The first attribute named `key` (calamine's `raw_attr`).
fn attr<'a>(attrs: &'a str, key: &str) -> Sure<Option<&'a str>> {
    for item in Attrs::new(attrs) {
        let (k, v) = item?;
        if k == key {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// Several attributes at once (calamine's `get_attrs!`): each key's value,
/// the scan stopping once as many matches as keys were seen.
fn attrs_of<'a, const N: usize>(attrs: &'a str, keys: [&str; N]) -> Sure<[Option<&'a str>; N]> {
    let mut values = [None; N];
    let mut found = 0;
    for item in Attrs::new(attrs) {
        let (k, v) = item?;
        // (keys are a letter or a few: compared in place, not by memcmp)
        let same =
            |key: &&str| key.len() == k.len() && key.bytes().zip(k.bytes()).all(|(a, b)| a == b);
        if let Some(i) = keys.iter().position(same) {
            values[i] = Some(v);
            found += 1;
        }
        if found == N {
            break;
        }
    }
    Ok(values)
}

// ---------------------------------------------------------------------------
// Package and workbook

/// `_rels/.rels`: the folder and name of the workbook part.
pub(crate) fn package_relationships(bytes: &[u8], depth: u32) -> Sure<(String, String)> {
    let mut xml = Tokens::new(bytes, depth)?;
    loop {
        match xml.next()? {
            Tok::Start { name, .. } if local(name) == b"Relationships" => break,
            Tok::Eof => return Err(Aside),
            _ => {}
        }
    }
    let mut target = None;
    loop {
        match xml.next()? {
            Tok::Start { name, attrs } if local(name) == b"Relationship" => {
                let [kind, to] = attrs_of(attrs, ["Type", "Target"])?;
                if kind.is_some_and(|t| t.ends_with("/relationships/officeDocument"))
                    && let Some(to) = to
                {
                    target = Some(decode_attr(to)?);
                }
            }
            Tok::End { name } if local(name) == b"Relationships" => break,
            Tok::Eof => return Err(Aside),
            _ => {}
        }
    }
    let target = target.ok_or(Aside)?;
    let (dir, name) = match target.rfind('/') {
        Some(i) => target.split_at(i + 1),
        None => ("", target.as_str()),
    };
    let dir = dir.strip_prefix('/').unwrap_or(dir).to_string();
    let name = if name.is_empty() {
        "workbook.xml"
    } else {
        name
    };
    Ok((dir, name.to_string()))
}

/// The workbook's relationships: id → (target, type), both raw.
fn relationships(bytes: &[u8], depth: u32) -> Sure<HashMap<&str, (&str, &str)>> {
    let mut xml = Tokens::new(bytes, depth)?;
    let mut rels = HashMap::new();
    loop {
        match xml.next()? {
            Tok::Start { name, attrs } if local(name) == b"Relationship" => {
                let [id, kind, target] = attrs_of(attrs, ["Id", "Type", "Target"])?;
                if let Some(id) = id {
                    rels.insert(id, (target.unwrap_or(""), kind.unwrap_or("")));
                }
            }
            Tok::End { name } if local(name) == b"Relationships" => return Ok(rels),
            Tok::Eof => return Err(Aside),
            _ => {}
        }
    }
}

/// The sheets the workbook lists, in order: name and part.
fn workbook(
    bytes: &[u8],
    depth: u32,
    rels: &HashMap<&str, (&str, &str)>,
    xl_path: &str,
) -> Sure<Vec<(String, String)>> {
    let mut xml = Tokens::new(bytes, depth)?;
    let mut sheets = Vec::new();
    let mut scratch = String::new();
    loop {
        match xml.next()? {
            Tok::Start { name, attrs } if local(name) == b"sheet" => {
                let mut sheet = String::new();
                let mut rel_id = "";
                for item in Attrs::new(attrs) {
                    let (key, value) = item?;
                    match key {
                        "name" => sheet = decode_attr(value)?,
                        "state" if !matches!(value, "visible" | "hidden" | "veryHidden") => {
                            return Err(Aside);
                        }
                        "state" => {}
                        _ if key == "id" || key.ends_with(":id") => rel_id = value,
                        _ => {}
                    }
                }
                let (target, kind) = rels.get(rel_id).ok_or(Aside)?;
                if !matches!(
                    kind.split('/').next_back(),
                    Some("worksheet" | "chartsheet" | "dialogsheet")
                ) {
                    return Err(Aside);
                }
                let path = match target.strip_prefix('/') {
                    Some(absolute) => absolute.to_string(),
                    None => format!("{xl_path}{target}"),
                };
                sheets.push((sheet, path));
            }
            Tok::Start { name, attrs } if local(name) == b"workbookPr" => {
                attr(attrs, "date1904")?;
            }
            Tok::Start { name, attrs } if local(name) == b"definedName" => {
                if let Some(defined) = attr(attrs, "name")? {
                    decode_attr(defined)?;
                    scratch.clear();
                    xml.text_to_end(name, &mut scratch)?;
                }
            }
            Tok::End { name } if local(name) == b"workbook" => return Ok(sheets),
            Tok::Eof => return Err(Aside),
            _ => {}
        }
    }
}

/// The shared strings, in order.
fn shared_strings(bytes: &[u8], depth: u32) -> Sure<Vec<String>> {
    let mut xml = Tokens::new(bytes, depth)?;
    loop {
        match xml.next()? {
            Tok::Start { name, attrs } if local(name) == b"sst" => {
                attr(attrs, "uniqueCount")?;
                break;
            }
            Tok::Eof => return Err(Aside),
            _ => {}
        }
    }
    let mut strings = Vec::new();
    loop {
        match xml.next()? {
            Tok::Start { name, .. } if local(name) == b"si" => {
                strings.push(string(&mut xml, name)?);
            }
            Tok::End { name } if local(name) == b"sst" => return Ok(strings),
            Tok::Eof => return Err(Aside),
            _ => {}
        }
    }
}

/// A plain or rich string up to the end of `closing` (`si` or `is`): its
/// `t` texts outside phonetic runs, each trimmed unless `xml:space` says to
/// keep its spaces (calamine's `read_string_with_bufs`).
fn string(xml: &mut Tokens<'_>, closing: &[u8]) -> Sure<String> {
    let mut out = String::new();
    let mut phonetic = false;
    let mut value = String::new();
    loop {
        match xml.next()? {
            Tok::Start { name, .. } if local(name) == b"rPh" => phonetic = true,
            Tok::End { name } if name == closing => return Ok(out),
            Tok::End { name } if local(name) == b"rPh" => phonetic = false,
            Tok::Start { name, attrs } if local(name) == b"t" && !phonetic => {
                let preserve = attr(attrs, "xml:space")? == Some("preserve");
                value.clear();
                xml.text_to_end(name, &mut value)?;
                let kept = if preserve {
                    value.as_str()
                } else {
                    value.trim_matches([' ', '\t', '\r', '\n'])
                };
                out.push_str(plain(kept)?);
            }
            Tok::Eof => return Err(Aside),
            _ => {}
        }
    }
}

/// styles.xml is not read (cells' number formats only tell calamine which
/// numbers are dates, and a date is read as its serial number here), but
/// calamine refuses a workbook whose styles it cannot parse. Vouched for
/// only when the part is well formed: elements properly nested under a
/// closed `styleSheet`, every attribute well written, every reference known.
fn styles(bytes: &[u8], depth: u32) -> Sure<()> {
    let mut xml = Tokens::new(bytes, depth)?;
    let mut open: Vec<&[u8]> = Vec::new();
    let mut closed_root = false;
    let mut scratch = String::new();
    loop {
        match xml.next()? {
            Tok::Start { name, attrs } => {
                if closed_root {
                    return Err(Aside);
                }
                for item in Attrs::new(attrs) {
                    let (_, value) = item?;
                    scratch.clear();
                    decode(value, &mut scratch)?;
                }
                open.push(name);
            }
            Tok::End { name } => {
                if open.pop() != Some(name) {
                    return Err(Aside);
                }
                closed_root = open.is_empty() && local(name) == b"styleSheet";
            }
            Tok::Text(raw) => {
                scratch.clear();
                decode(raw, &mut scratch)?;
            }
            Tok::Eof => return if closed_root { Ok(()) } else { Err(Aside) },
        }
    }
}

// ---------------------------------------------------------------------------
// Cells

/// A1 position, as calamine reads it (`get_row_and_optional_column`): letters
/// then digits, 0-based. Longer than any real address: not vouched for
/// (calamine's arithmetic would overflow).
fn position(at: &str) -> Sure<(u32, Option<u32>)> {
    let bytes = at.as_bytes();
    let letters = bytes.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    let digits = &bytes[letters..];
    if letters > 3 || digits.is_empty() || digits.len() > 7 {
        return Err(Aside);
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(Aside);
    }
    let col = bytes[..letters].iter().fold(0u32, |col, &c| {
        col * 26 + u32::from(c.to_ascii_uppercase() - b'A') + 1
    });
    let row = digits
        .iter()
        .fold(0u32, |row, &d| row * 10 + u32::from(d - b'0'));
    let row = row.checked_sub(1).ok_or(Aside)?;
    Ok((row, col.checked_sub(1)))
}

fn cell_position(at: &str) -> Sure<(u32, u32)> {
    match position(at)? {
        (row, Some(col)) => Ok((row, col)),
        _ => Err(Aside),
    }
}

/// `A1` or `A1:C9` (calamine's `get_dimension`).
fn dimension(range: &str) -> Sure<Dimensions> {
    let mut parts = range.split(':');
    let start = cell_position(parts.next().ok_or(Aside)?)?;
    let end = match parts.next() {
        Some(end) => cell_position(end)?,
        None => start,
    };
    if parts.next().is_some() || end.0 < start.0 || end.1 < start.1 {
        return Err(Aside);
    }
    Ok(Dimensions { start, end })
}

/// A whole number in plain digits.
fn index(s: &str) -> Sure<usize> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Aside);
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(Aside);
    }
    s.parse().map_err(|_| Aside)
}

/// A number as spreadsheet programs write it: `-12`, `3.25`, `1.5E-7`.
fn number(v: &str) -> Sure<f64> {
    let b = v.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let from = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > from
    };
    if !digits(&mut i) {
        return Err(Aside);
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return Err(Aside);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return Err(Aside);
        }
    }
    if i != b.len() {
        return Err(Aside);
    }
    v.parse().map_err(|_| Aside)
}

/// A `<v>` value of type `t` (calamine's `read_v`; a date is kept as the
/// number it is, as it is read in the end).
fn value<'s>(v: &str, t: Option<&str>, strings: &'s [String]) -> Sure<DataRef<'s>> {
    Ok(match t {
        Some("s") => {
            if v.is_empty() {
                return Ok(DataRef::Empty);
            }
            DataRef::SharedString(strings.get(index(v)?).ok_or(Aside)?)
        }
        Some("b") => match v.trim() {
            "" => DataRef::Empty,
            "0" => DataRef::Bool(false),
            "1" => DataRef::Bool(true),
            b if b.eq_ignore_ascii_case("false") => DataRef::Bool(false),
            b if b.eq_ignore_ascii_case("true") => DataRef::Bool(true),
            _ => return Err(Aside),
        },
        Some("d") => DataRef::DateTimeIso(v.to_string()),
        Some("e") => DataRef::Error(v.parse::<CellErrorType>().map_err(|_| Aside)?),
        Some("str") => DataRef::String(plain(v)?.to_string()),
        Some("n") | None => {
            if v.is_empty() {
                return Ok(DataRef::Empty);
            }
            DataRef::Float(number(v)?)
        }
        Some(_) => return Err(Aside),
    })
}

/// One element inside a `<c>` other than `<f>` (calamine's `read_value`).
fn cell_value<'s>(
    xml: &mut Tokens<'_>,
    name: &[u8],
    t: Option<&str>,
    strings: &'s [String],
    scratch: &mut String,
) -> Sure<DataRef<'s>> {
    match local(name) {
        b"is" => Ok(DataRef::String(string(xml, name)?)),
        b"v" if matches!(t, Some("inlineStr" | "is")) => {
            xml.skip_to_end(name)?;
            Ok(DataRef::Empty)
        }
        b"v" if matches!(t, Some("n" | "s" | "b" | "e") | None) => {
            // calamine reads the first run of text, raw
            let v = match xml.next()? {
                Tok::Text(raw) => {
                    if raw.contains('&') {
                        return Err(Aside);
                    }
                    value(raw, t, strings)?
                }
                Tok::End { name: n } if n == name => return Ok(DataRef::Empty),
                Tok::Eof => return Err(Aside),
                _ => DataRef::Empty,
            };
            xml.skip_to_end(name)?;
            Ok(v)
        }
        b"v" => {
            scratch.clear();
            xml.text_to_end(name, scratch)?;
            value(scratch, t, strings)
        }
        _ => Err(Aside),
    }
}

/// A cell's `<f>` (calamine's `read_formula_record`, shared formulas not
/// expanded).
fn formula(xml: &mut Tokens<'_>, name: &[u8], attrs: &str) -> Sure<Option<XlsxFormulaMetadata>> {
    let mut text = String::new();
    xml.text_to_end(name, &mut text)?;
    let [t, si, range] = attrs_of(attrs, ["t", "si", "ref"])?;
    if t != Some("shared") {
        return Ok(Some(XlsxFormulaMetadata::Normal { formula: text }));
    }
    let shared_index = index(si.ok_or(Aside)?)?;
    Ok(Some(match range {
        Some(range) => XlsxFormulaMetadata::Shared {
            shared_index,
            range: Some(dimension(range)?),
            formula: text,
        },
        None => XlsxFormulaMetadata::SharedDerived { shared_index },
    }))
}

/// A worksheet part's cells, in order, into `sheet` (calamine's
/// `XlsxCellReader::new` and `next_cell_with_formula_metadata`). A part
/// without `sheetData` (a chart sheet) has no cells. The part is read to its
/// end (within the XML limits) unless its cells pass a limit.
fn cells(
    bytes: &[u8],
    depth: u32,
    strings: &[String],
    sheet: &mut StreamedSheet,
    stored: &mut Budget,
) -> Sure<Result<(), OpenError>> {
    let mut xml = Tokens::new(bytes, depth)?;
    let mut any = false;
    loop {
        match xml.next()? {
            Tok::Start { name, attrs } => match local(name) {
                b"dimension" => {
                    dimension(attr(attrs, "ref")?.ok_or(Aside)?)?;
                }
                b"sheetData" => break,
                _ => any = true,
            },
            Tok::Eof if any => return Ok(Ok(())),
            Tok::Eof => return Err(Aside),
            _ => {}
        }
    }
    let (mut row, mut col) = (0u32, 0u32);
    let mut scratch = String::new();
    loop {
        match xml.next()? {
            Tok::Start { name, attrs } if local(name) == b"row" => {
                if let Some(r) = attr(attrs, "r")? {
                    row = position(r)?.0;
                }
            }
            Tok::End { name } if local(name) == b"row" => {
                row = row.checked_add(1).ok_or(Aside)?;
                col = 0;
            }
            Tok::Start { name, attrs } if local(name) == b"c" => {
                let [r, _, t] = attrs_of(attrs, ["r", "s", "t"])?;
                let at = match r {
                    Some(r) => {
                        let at = cell_position(r)?;
                        col = at.1;
                        at
                    }
                    None => (row, col),
                };
                let mut v = DataRef::Empty;
                let mut f = None;
                loop {
                    match xml.next()? {
                        Tok::Start { name, attrs } if local(name) == b"f" => {
                            f = formula(&mut xml, name, attrs)?;
                        }
                        Tok::Start { name, .. } => {
                            v = cell_value(&mut xml, name, t, strings, &mut scratch)?;
                        }
                        Tok::End { name } if local(name) == b"c" => break,
                        Tok::Eof => return Err(Aside),
                        _ => {}
                    }
                }
                col = col.checked_add(1).ok_or(Aside)?;
                if let Err(e) = sheet.cell(at, v, f, stored) {
                    return Ok(Err(e));
                }
            }
            Tok::End { name } if local(name) == b"sheetData" => {
                xml.finish()?;
                return Ok(Ok(()));
            }
            Tok::Eof => return Err(Aside),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use zip::write::SimpleFileOptions;

    use super::*;
    use crate::read::workbook::{CellValue, FileType, open, open_with_calamine, read_directly};

    const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
    const WORKBOOK: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><workbookPr date1904="false"/><sheets><sheet name="表&amp;一" sheetId="1" r:id="rId1"/><sheet name="Chart" sheetId="2" state="hidden" r:id="rId3"/></sheets><definedNames><definedName name="_xlnm.Print_Area" localSheetId="0">'表&amp;一'!$A$1:$C$9</definedName></definedNames></workbook>"#;
    const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/chartsheet" Target="/xl/chartsheets/sheet1.xml"/></Relationships>"#;
    const CHART: &str = r#"<?xml version="1.0" encoding="UTF-8"?><chartsheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetViews><sheetView workbookViewId="0"/></sheetViews></chartsheet>"#;
    const STYLES: &str = r#"<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy&quot;年&quot;m&quot;月&quot;"/></numFmts><fonts count="1"><font><sz val="11"/><name val="宋体"/></font></fonts><cellXfs count="2"><xf numFmtId="0" fontId="0"/><xf numFmtId="164" fontId="0" applyNumberFormat="1"/></cellXfs></styleSheet>"#;
    const STRINGS: &str = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" count=\"4\" uniqueCount=\"4\"><si><t>  工业增加值 </t></si><si><r><rPr><b/></rPr><t xml:space=\"preserve\">湖州 </t></r><r><t>&#x5F00;&#21457;区&lt;&gt;</t></r><rPh sb=\"0\" eb=\"1\"><t>コ</t></rPh></si><si/><si><t/></si></sst>";

    /// A package of `parts`, deflated.
    fn package(parts: &[(&str, &str)]) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut buf);
        for (name, data) in parts {
            zip.start_file(*name, SimpleFileOptions::default()).unwrap();
            zip.write_all(data.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        buf.into_inner()
    }

    /// A workbook of one sheet part (and a chart sheet), with `strings`.
    fn book(sheet: &str, strings: &str, styles: &str) -> Vec<u8> {
        package(&[
            ("_rels/.rels", RELS),
            ("xl/workbook.xml", WORKBOOK),
            ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
            ("xl/styles.xml", styles),
            ("xl/sharedStrings.xml", strings),
            ("xl/worksheets/sheet1.xml", sheet),
            ("xl/chartsheets/sheet1.xml", CHART),
        ])
    }

    fn sheet(data: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:D9"/><sheetData>{data}</sheetData><mergeCells count="1"><mergeCell ref="A1:C1"/></mergeCells></worksheet>"#
        )
    }

    /// Both readers' results, asserting they are the same and whether the
    /// package was read without calamine.
    fn both(bytes: Vec<u8>, direct: bool, case: &str) -> Result<Opened, OpenError> {
        let limits = Limits::default();
        assert_eq!(
            read_directly(&bytes, &limits),
            direct,
            "read directly: {case}"
        );
        let ours = open(bytes.clone(), FileType::Xlsx, &limits);
        let calamine = open_with_calamine(bytes, FileType::Xlsx, &limits);
        assert_eq!(ours, calamine, "{case}");
        ours
    }

    fn at(a1: &str) -> crate::model::Cell {
        let (row, col) = cell_position(a1).unwrap();
        crate::model::Cell::new(row, col)
    }

    fn cell(opened: &Opened, a1: &str) -> CellValue {
        opened.sheets[0].get(at(a1)).clone()
    }

    #[test]
    fn cells_of_every_kind_are_read_as_calamine_reads_them() {
        let data = r#"<row r="1" spans="1:4"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s" s="1"><v>1</v></c><c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v></c></row>
<row r="2"><c r="A2"><v>-12.5</v></c><c r="B2" s="1"><v>43831</v></c><c r="C2" t="n"><v>1.5E-7</v></c><c r="D2" t="b"><v>1</v></c></row>
<row r="3"><c r="A3" t="e"><f>1/0</f><v>#DIV/0!</v></c><c r="B3" t="str"><f>A1&amp;"x"</f><v>工业&amp;增加值</v></c><c r="C3" t="d"><v>2020-06-30T00:00:00</v></c><c r="D3" t="inlineStr"><is><t>内联 &#x6587;本</t></is></c></row>
<row><c><v>7</v></c><c/><c t="inlineStr"><v>9</v><is><r><t>富</t></r><r><t xml:space="preserve"> 文本</t></r></is></c></row>
<row r="6"><c r="A6"><f t="shared" ref="A6:A8" si="0">B6*2</f><v>4</v></c><c r="B6"><v>2</v></c></row>
<row r="7"><c r="A7"><f t="shared" si="0"/><v>6</v></c><c r="B7"><v>3</v></c></row>
<row r="8"/><row r="9"><c r="A9"><f/><v></v></c><c r="B9" t="s"><v></v></c></row>"#;
        let opened = both(book(&sheet(data), STRINGS, STYLES), true, "every kind").unwrap();
        assert_eq!(opened.sheets.len(), 2);
        assert_eq!(opened.sheets[0].name, "表&一");
        assert_eq!(opened.sheets[1].name, "Chart");
        assert_eq!(cell(&opened, "A1"), CellValue::Text("工业增加值".into()));
        assert_eq!(cell(&opened, "B1"), CellValue::Text("湖州 开发区<>".into()));
        assert_eq!(cell(&opened, "C1"), CellValue::Empty);
        assert_eq!(cell(&opened, "B2"), CellValue::Number(43831.0));
        assert_eq!(cell(&opened, "C2"), CellValue::Number(1.5e-7));
        assert_eq!(cell(&opened, "D2"), CellValue::Bool(true));
        assert_eq!(cell(&opened, "A3"), CellValue::Error("#DIV/0!".into()));
        assert_eq!(cell(&opened, "B3"), CellValue::Text("工业&增加值".into()));
        assert_eq!(cell(&opened, "D3"), CellValue::Text("内联 文本".into()));
        // a row and cells without positions follow the ones before
        assert_eq!(cell(&opened, "A4"), CellValue::Number(7.0));
        assert_eq!(cell(&opened, "C4"), CellValue::Text("富 文本".into()));
        assert_eq!(opened.sheets[0].formula(at("A7")), Some("B7*2"));
    }

    #[test]
    fn prefixed_names_and_an_absolute_target_are_read_directly() {
        let rels = WORKBOOK_RELS.replace("\"worksheets/sheet1.xml", "\"/xl/worksheets/sheet1.xml");
        let data = r#"<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData><x:row r="2"><x:c r="B2" t="s"><x:v>0</x:v></x:c></x:row></x:sheetData></x:worksheet>"#;
        let bytes = package(&[
            ("_rels/.rels", RELS),
            ("xl/workbook.xml", WORKBOOK),
            ("xl/_rels/workbook.xml.rels", &rels),
            ("xl/sharedStrings.xml", STRINGS),
            ("xl/worksheets/sheet1.xml", data),
            ("xl/chartsheets/sheet1.xml", CHART),
        ]);
        let opened = both(bytes, true, "prefixed").unwrap();
        assert_eq!(cell(&opened, "B2"), CellValue::Text("工业增加值".into()));
    }

    #[test]
    fn what_this_reader_cannot_vouch_for_is_left_to_calamine() {
        let row = |c: &str| sheet(&format!(r#"<row r="1">{c}</row>"#));
        let cases = [
            // markup and escapes this reader does not decode
            (
                row(r#"<!-- note --><c r="A1"><v>1</v></c>"#),
                STRINGS.to_string(),
            ),
            (
                row(r#"<c r="A1" t="s"><v>0</v></c>"#),
                STRINGS.replace("<t>  工业增加值 </t>", "<t><![CDATA[a<b]]></t>"),
            ),
            (
                row(r#"<c r="A1" t="s"><v>0</v></c>"#),
                STRINGS.replace("工业增加值", "a_x000D_b"),
            ),
            (
                row("<c r=\"A1\" t=\"str\"><v>a\r\nb</v></c>"),
                STRINGS.to_string(),
            ),
            // numbers calamine reads its own way
            (row(r#"<c r="A1"><v> 12</v></c>"#), STRINGS.to_string()),
            (row(r#"<c r="A1"><v>1.</v></c>"#), STRINGS.to_string()),
            (row(r#"<c r="A1"><v>&#49;2</v></c>"#), STRINGS.to_string()),
            // what calamine refuses
            (row(r#"<c r="A1" t="s"><v>9</v></c>"#), STRINGS.to_string()),
            (
                row(r#"<c r="A1"><v>abc</v></c>"#).replace("<c r=\"A1\">", "<c r=\"A1\" t=\"n\">"),
                STRINGS.to_string(),
            ),
            (row(r#"<c r="A1" t="x"><v>1</v></c>"#), STRINGS.to_string()),
            (row(r#"<c r="1A"><v>1</v></c>"#), STRINGS.to_string()),
            (
                row(r#"<c r="A1"><v>1</v></c>"#).replace("A1:D9", "A1:D"),
                STRINGS.to_string(),
            ),
            (
                row(r#"<c r="A1" t="s"><v>0</v></c>"#),
                STRINGS.replace("工业增加值", "&nbsp;"),
            ),
            (
                row(r#"<c r="A1"><v>1</v><extLst/></c>"#),
                STRINGS.to_string(),
            ),
            (
                row(r#"<c r="A1"><v>1</v></c>"#).replace("</sheetData>", ""),
                STRINGS.to_string(),
            ),
            // markup quick-xml refuses, even where calamine reads nothing
            (row(r#"a & b<c r="A1"><v>1</v></c>"#), STRINGS.to_string()),
            ("<worksheet/></worksheet>".to_string(), STRINGS.to_string()),
        ];
        for (data, strings) in cases {
            let case = format!("{data}\n{strings}");
            let _ = both(book(&data, &strings, STYLES), false, &case);
        }
        // styles calamine cannot parse, though they are never read here
        let data = row(r#"<c r="A1"><v>1</v></c>"#);
        for styles in [
            STYLES.replace("</styleSheet>", ""),
            STYLES.replace("fontId=\"0\"/>", "fontId/>"),
            STYLES.replace("&quot;年", "&ldquo;年"),
        ] {
            assert!(matches!(
                both(book(&data, STRINGS, &styles), false, &styles),
                Err(OpenError::Damaged(_))
            ));
        }
    }

    #[test]
    fn parts_are_held_to_the_depth_limit_by_whoever_reads_them() {
        let limits = Limits::default();
        let deep = format!("{}{}", "<x>".repeat(150), "</x>".repeat(150));
        let data = sheet(r#"<row r="1"><c r="A1"><v>1</v></c></row>"#);
        // deep markup in a worksheet, after its cells: refused either way
        let after_data = data.replace(
            "</worksheet>",
            &format!("<extLst>{deep}</extLst></worksheet>"),
        );
        let refused = both(book(&after_data, STRINGS, STYLES), false, "after the cells");
        assert!(
            matches!(&refused, Err(OpenError::Limit(hit)) if hit.rule == "file.xml_depth"),
            "{refused:?}"
        );
        // in parts this reader never reads (a sheet the workbook does not
        // list, the theme): read, while calamine, which reads the theme and
        // is handed every part, gets nothing
        let unread = package(&[
            ("_rels/.rels", RELS),
            ("xl/workbook.xml", WORKBOOK),
            ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
            ("xl/sharedStrings.xml", STRINGS),
            ("xl/worksheets/sheet1.xml", &data),
            (
                "xl/worksheets/sheet9.xml",
                &format!("<worksheet>{deep}</worksheet>"),
            ),
            ("xl/theme/theme1.xml", &format!("<a:theme>{deep}</a:theme>")),
            ("xl/chartsheets/sheet1.xml", CHART),
        ]);
        assert!(read_directly(&unread, &limits));
        let opened = open(unread.clone(), FileType::Xlsx, &limits).unwrap();
        assert_eq!(cell(&opened, "A1"), CellValue::Number(1.0));
        let refused = open_with_calamine(unread, FileType::Xlsx, &limits);
        assert!(
            matches!(&refused, Err(OpenError::Limit(hit)) if hit.rule == "file.xml_depth"),
            "{refused:?}"
        );
    }

    #[test]
    fn a_part_named_twice_is_left_to_calamine() {
        let bytes = package(&[
            ("xl/styles.xml", "<a/>"),
            ("XL/Styles.xml", "<a/>"),
            ("xl/a.bin", "?"),
            ("xl/worksheets/sheet1.xml", "<worksheet/>"),
        ]);
        let checked =
            crate::read::package::check(&bytes, FileType::Xlsx, &Limits::default()).unwrap();
        let parts = checked.inflated.unwrap();
        assert_eq!(parts.part("xl/styles.xml"), Part::Unsure);
        assert_eq!(parts.part("xl/a.bin"), Part::Unsure);
        assert_eq!(parts.part("xl/b.xml"), Part::Absent);
        assert_eq!(
            parts.part("XL/WORKSHEETS/sheet1.xml"),
            Part::Here(b"<worksheet/>")
        );
    }

    #[test]
    fn tokens_follow_quick_xml() {
        let mut xml = Tokens::new(
            br#"<?xml version="1.0"?><a x='>' y="'"><b/>t&amp;<c:d></c:d ></a>"#,
            3,
        )
        .unwrap();
        let mut seen = Vec::new();
        loop {
            let t = xml.next().unwrap();
            if t == Tok::Eof {
                break;
            }
            seen.push(format!("{t:?}"));
        }
        assert_eq!(
            seen,
            [
                r#"Start { name: [97], attrs: " x='>' y=\"'\"" }"#,
                r#"Start { name: [98], attrs: "" }"#,
                "End { name: [98] }",
                r#"Text("t&amp;")"#,
                r#"Start { name: [99, 58, 100], attrs: "" }"#,
                "End { name: [99, 58, 100] }",
                "End { name: [97] }",
            ]
        );
        assert_eq!(local(b"c:d"), b"d");
        let mut s = String::new();
        decode("a&lt;&#x4E2D;&#25991;&gt;", &mut s).unwrap();
        assert_eq!(s, "a<中文>");
        for bad in ["&#0;", "&#x;", "&#+1;", "&foo;", "&amp"] {
            assert!(decode(bad, &mut s).is_err(), "{bad}");
        }
        // what quick-xml refuses, and nesting past the limit
        for (bad, depth) in [
            ("<a/></a>", 3),
            ("<a>x &amp y &lt;</a>", 3),
            ("<a>x & y</a>", 3),
            ("<a><b><c/></b></a>", 2),
            ("<a><!-- c --></a>", 3),
            ("<a></a x='>'>", 3),
        ] {
            let mut xml = Tokens::new(bad.as_bytes(), depth).unwrap();
            assert!(xml.finish().is_err(), "{bad}");
        }
    }
}

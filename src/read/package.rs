//! A zip-based workbook (xlsx, ods) checked before calamine opens it: how many
//! parts it declares, how large they inflate and how much, how deep their XML
//! nests, and for an ods how large the ranges calamine builds would be.
//!
//! The sizes come from the zip central directory. They can be trusted as
//! bounds: the `zip` crate (which calamine reads through, the same version as
//! here) stops with an error as soon as a part inflates past its declared size.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::io::{Cursor, Read, Write};
use std::mem::size_of;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::catalog::Limits;
use crate::read::ooxml;
use crate::read::workbook::{FileType, LimitHit, OpenError};
use crate::read::xml::{self, Event, Stop};

/// Parts smaller than this are not held to the compression ratio: a sheet of
/// repeated markup compresses very well, and a few MB harm nobody (the total
/// is bounded by `max_unzipped_mb` anyway).
pub const RATIO_FLOOR: u64 = 10 << 20;

/// Packages inflating to at most this many bytes are inflated once: their XML
/// parts are checked in memory and handed on, stored, to the spreadsheet
/// parser, which would otherwise inflate them a second time. Larger ones are
/// checked as a stream and left as they are.
pub const INFLATE_ONCE_MAX: u64 = 8 << 20;

/// The most rows and columns of an ods sheet, as calamine caps them.
const ODS_MAX_ROWS: u64 = 1_048_576;
const ODS_MAX_COLUMNS: u64 = 16_384;

fn hit(rule: &'static str, message: String) -> OpenError {
    OpenError::Limit(LimitHit {
        rule,
        sheet: None,
        cell: None,
        message,
    })
}

/// A package that passed the checks.
#[derive(Debug, Default)]
pub struct Checked<'a> {
    /// The bytes an xlsx holds in memory once calamine has opened it (shared
    /// strings and styles), so that what its cells copy can be held to the
    /// rest of the limit.
    pub held: u64,
    /// The XML parts as the checks inflated them (a small package whose
    /// every part could be read), so that nothing inflates them again.
    pub inflated: Option<Inflated<'a>>,
}

/// A small package's XML parts: the ones the checks need, inflated and
/// checked; the others (worksheets, theme, document properties) inflated
/// only when a reader asks for one, and checked by whoever reads them (the
/// reader of `ooxml.rs` as it reads, or [`Inflated::check_rest`] before
/// calamine parses the package).
#[derive(Debug)]
pub struct Inflated<'a> {
    /// Every part's name, by its index in the package.
    pub names: Vec<String>,
    /// The parts checked: index, name and inflated bytes, in package order.
    pub parts: Vec<(usize, String, Vec<u8>)>,
    /// The parts left for their readers, in package order.
    later: Vec<Later>,
    zip: RefCell<ZipArchive<Cursor<&'a [u8]>>>,
    /// The package.
    bytes: &'a [u8],
    /// The bytes of every part once inflated.
    total: u64,
}

/// A part left for its reader: inflated when first asked for (`None` when
/// it cannot be).
#[derive(Debug)]
struct Later {
    index: usize,
    name: String,
    data: OnceCell<Option<Vec<u8>>>,
}

/// A part looked up as calamine looks it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part<'a> {
    /// Its inflated bytes.
    Here(&'a [u8]),
    /// No part has that name.
    Absent,
    /// Several parts answer to the name, or it is not an XML part that can
    /// be inflated.
    Unsure,
}

impl Inflated<'_> {
    /// The part calamine opens for `path`: the one whose name is `path`
    /// ignoring ASCII case, `\\` read as `/`.
    pub fn part(&self, path: &str) -> Part<'_> {
        if path.contains('\\') {
            return Part::Unsure;
        }
        let same = |name: &str| {
            name.len() == path.len()
                && name.bytes().zip(path.bytes()).all(|(a, b)| {
                    let a = if a == b'\\' { b'/' } else { a };
                    a.eq_ignore_ascii_case(&b)
                })
        };
        let mut found = self.names.iter().enumerate().filter(|(_, n)| same(n));
        let Some((at, _)) = found.next() else {
            return Part::Absent;
        };
        if found.next().is_some() {
            return Part::Unsure;
        }
        if let Ok(k) = self.parts.binary_search_by_key(&at, |(i, _, _)| *i) {
            return Part::Here(&self.parts[k].2);
        }
        match self.later.binary_search_by_key(&at, |l| l.index) {
            Ok(k) => match self.inflate(&self.later[k]) {
                Some(data) => Part::Here(data),
                None => Part::Unsure,
            },
            Err(_) => Part::Unsure,
        }
    }

    fn inflate<'s>(&'s self, part: &'s Later) -> Option<&'s [u8]> {
        part.data
            .get_or_init(|| {
                let mut zip = self.zip.borrow_mut();
                if let Some(data) = inflate_raw(&mut zip, self.bytes, part.index) {
                    return Some(data);
                }
                let mut entry = zip.by_index(part.index).ok()?;
                // bounded: at most `total`, and the zip crate stops a part
                // that inflates past its declared size
                let mut data = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
                entry.read_to_end(&mut data).ok()?;
                Some(data)
            })
            .as_deref()
    }

    /// Checks the parts left for their readers, before calamine reads the
    /// package. `Ok(false)` when one of them cannot be inflated (the package
    /// cannot be made again).
    ///
    /// # Errors
    /// As [`check`], for the first of them that passes a limit.
    pub fn check_rest(&self, limits: &Limits) -> Result<bool, OpenError> {
        let mut whole = true;
        for part in &self.later {
            let scanned = match self.inflate(part) {
                Some(data) => xml::scan_slice(data, limits.max_xml_depth, |_| Ok(())),
                // what can be read is checked as a stream; the error is left
                // for the parser to report
                None => {
                    whole = false;
                    let mut zip = self.zip.borrow_mut();
                    match zip.by_index(part.index) {
                        Ok(entry) => xml::scan(entry, limits.max_xml_depth, |_| Ok(())),
                        Err(_) => Ok(0),
                    }
                }
            };
            if let Err(stop) = scanned
                && let Some(e) = refused(&part.name, &stop, limits)
            {
                return Err(e);
            }
        }
        Ok(whole)
    }

    /// The package again, with the XML parts stored as they were inflated
    /// and every other part copied as it is, in the same order, for calamine
    /// to parse without inflating them a second time. `None` when the `zip`
    /// crate cannot write it (a part it cannot copy, two parts of one name):
    /// the original is then parsed.
    pub fn repack(self) -> Option<Vec<u8>> {
        let mut zip = self.zip.into_inner();
        let room = usize::try_from(self.total).ok()? + 1024;
        let mut out = ZipWriter::new(Cursor::new(Vec::with_capacity(room)));
        let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
        let mut parts = self.parts.into_iter().peekable();
        let mut later = self.later.into_iter().peekable();
        for i in 0..zip.len() {
            let data = match parts.next_if(|(at, _, _)| *at == i) {
                Some((_, name, data)) => Some((name, data)),
                None => later
                    .next_if(|l| l.index == i)
                    .and_then(|l| Some((l.name, l.data.into_inner()??))),
            };
            match data {
                Some((name, data)) => {
                    out.start_file(name, stored).ok()?;
                    out.write_all(&data).ok()?;
                }
                None => out.raw_copy_file(zip.by_index_raw(i).ok()?).ok()?,
            }
        }
        Some(out.finish().ok()?.into_inner())
    }
}

/// A part inflated from its raw bytes in the package, in one call: stored or
/// deflated, not encrypted, exactly the size the directory declares and with
/// the CRC-32 it records. `None` for anything else (the zip crate's reader
/// then inflates it, with its own errors): this only spares that reader's
/// buffers for the parts every package has.
fn inflate_raw(zip: &mut ZipArchive<Cursor<&[u8]>>, bytes: &[u8], index: usize) -> Option<Vec<u8>> {
    let entry = zip.by_index_raw(index).ok()?;
    if entry.encrypted() {
        return None;
    }
    let size = usize::try_from(entry.size()).ok()?;
    let start = usize::try_from(entry.data_start()?).ok()?;
    let packed = usize::try_from(entry.compressed_size()).ok()?;
    let raw = bytes.get(start..start.checked_add(packed)?)?;
    let data = match entry.compression() {
        CompressionMethod::Stored if raw.len() == size => raw.to_vec(),
        CompressionMethod::Deflated => {
            let mut out = Vec::with_capacity(size);
            let mut inflate = flate2::Decompress::new(false);
            let status = inflate
                .decompress_vec(raw, &mut out, flate2::FlushDecompress::Finish)
                .ok()?;
            if status != flate2::Status::StreamEnd || out.len() != size {
                return None;
            }
            out
        }
        _ => return None,
    };
    (crc32fast::hash(&data) == entry.crc32()).then_some(data)
}

/// The limit a part's scan stopped at, if any.
fn refused(name: &str, stop: &Stop, limits: &Limits) -> Option<OpenError> {
    match stop {
        Stop::Read(_) | Stop::Visitor(_) => None,
        Stop::TooDeep(_) => Some(hit(
            "file.xml_depth",
            format!(
                "工作簿中的部件“{name}”XML 元素嵌套超过 {} 层（limits.max_xml_depth），文件结构异常，未读取。",
                limits.max_xml_depth
            ),
        )),
        Stop::TagTooLong | Stop::Doctype => Some(hit(
            "file.xml_unusual",
            format!(
                "工作簿中的部件“{name}”含有电子表格程序不会写出的内容（DOCTYPE 声明或超过 1 MB 的标记），文件可能被恶意构造，未读取。"
            ),
        )),
    }
}

/// The workbook part `_rels/.rels` names, in lower case, from the parts
/// inflated so far (`None` when that is not plain).
fn workbook_part(parts: &[(usize, String, Vec<u8>)], limits: &Limits) -> Option<String> {
    let mut rels = parts
        .iter()
        .filter(|(_, name, _)| name.replace('\\', "/").eq_ignore_ascii_case("_rels/.rels"));
    let (_, _, data) = rels.next()?;
    if rels.next().is_some() {
        return None;
    }
    let (dir, name) = ooxml::package_relationships(data, limits.max_xml_depth).ok()?;
    Some(format!("{dir}{name}").to_ascii_lowercase())
}

/// Whether the checks need a part of an xlsx: relationships (for the sheets
/// and their parts), shared strings and styles (for what calamine holds).
/// The workbook's own part (for the sheets it lists) is told apart later,
/// from the package relationships.
fn needed(lower: &str) -> bool {
    lower.ends_with(".rels")
        || lower.ends_with("sharedstrings.xml")
        || lower.ends_with("styles.xml")
}

/// Checks a zip-based workbook against the limits.
///
/// # Errors
/// [`OpenError::Limit`] naming the limit passed. A package the `zip` crate
/// cannot open is let through: calamine then reports it as damaged.
pub fn check<'a>(
    bytes: &'a [u8],
    kind: FileType,
    limits: &Limits,
) -> Result<Checked<'a>, OpenError> {
    let declared = declared_entries(bytes);
    if declared > limits.max_zip_entries {
        return Err(hit(
            "file.zip_entries",
            format!(
                "工作簿声明包含 {declared} 个部件，超过上限 {}（limits.max_zip_entries），文件可能被恶意构造，未读取。",
                limits.max_zip_entries
            ),
        ));
    }
    let Ok(mut zip) = ZipArchive::new(Cursor::new(bytes)) else {
        return Ok(Checked::default());
    };
    // Whether every part's name is text, as a new package needs it.
    let mut names_text = true;
    let mut names = Vec::with_capacity(zip.len());
    let mut total: u64 = 0;
    let mut xml_parts = Vec::new();
    // every part's size by its name in lower case (calamine looks names up
    // ignoring case)
    let mut sizes: HashMap<String, u64> = HashMap::new();
    for i in 0..zip.len() {
        let Ok(entry) = zip.by_index_data(i) else {
            names.push(String::new());
            names_text = false;
            continue;
        };
        names_text &= std::str::from_utf8(entry.name_raw()).is_ok();
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        names.push(name.clone());
        let (size, packed) = (entry.size(), entry.compressed_size());
        total = total.saturating_add(size);
        if size > RATIO_FLOOR && size / packed.max(1) > limits.max_compression_ratio {
            return Err(hit(
                "file.zip_bomb",
                format!(
                    "工作簿中的部件“{name}”从 {} 字节解压后达 {} MB，压缩比约 {}:1，超过上限 {}:1（limits.max_compression_ratio），疑似“压缩炸弹”，未读取。",
                    packed,
                    size.div_ceil(Limits::MIB),
                    size / packed.max(1),
                    limits.max_compression_ratio
                ),
            ));
        }
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".xml") || lower.ends_with(".rels") {
            xml_parts.push((i, name, size));
        }
        let known = sizes.entry(lower).or_insert(0);
        *known = (*known).max(size);
    }
    if total > limits.max_unzipped_bytes() {
        return Err(over_unzipped(
            format!("工作簿解压后共 {} MB", total.div_ceil(Limits::MIB)),
            limits,
            "报表文件解压后通常不足 1 MB，文件可能夹带了大量其他内容或被恶意构造。",
        ));
    }
    let mut held = OoxmlEstimate::default();
    let mut sheets = SheetParts::new(limits.max_sheets);
    let in_memory = total <= INFLATE_ONCE_MAX;
    // The parts inflated, by index, while a new package can still be made.
    let mut inflated = (in_memory && names_text).then(Vec::new);
    // An xlsx's parts the checks need come first; the others are left for
    // their readers once the package relationships say which part is the
    // workbook (which the checks need too).
    let leave = kind == FileType::Xlsx && inflated.is_some();
    if leave {
        xml_parts
            .sort_by_key(|(_, name, _)| !needed(&name.to_ascii_lowercase().replace('\\', "/")));
    }
    let mut workbook: Option<Option<String>> = None;
    let mut later = Vec::new();
    for (i, name, size) in xml_parts {
        // as calamine finds parts: lower case, `\` read as `/`
        let lower = name.to_ascii_lowercase().replace('\\', "/");
        if leave && !needed(&lower) {
            let workbook = workbook.get_or_insert_with(|| {
                let parts = inflated.as_deref().unwrap_or_default();
                workbook_part(parts, limits)
            });
            if inflated.is_some() && workbook.as_ref().is_some_and(|w| *w != lower) {
                later.push(Later {
                    index: i,
                    name,
                    data: OnceCell::new(),
                });
                continue;
            }
        }
        // in one call when it can be; else through the zip crate's reader
        let raw = if in_memory {
            inflate_raw(&mut zip, bytes, i)
        } else {
            None
        };
        let part = match raw {
            Some(_) => None,
            None => match zip.by_index(i) {
                Ok(part) => Some(part),
                Err(_) => {
                    inflated = None;
                    continue;
                }
            },
        };
        let mut ods = (kind == FileType::Ods && name == "content.xml").then(OdsEstimate::default);
        let mut part_held = OoxmlEstimate::default();
        let rels = lower.ends_with(".rels").then(|| rels_base(&name));
        // calamine reads shared strings and styles from `sharedStrings.xml`
        // and `styles.xml` in whatever folder the package names
        let holds = lower.ends_with("sharedstrings.xml") || lower.ends_with("styles.xml");
        let mut visit = |e: &Event<'_>| {
            if holds {
                part_held.event(e);
            }
            sheets.event(e, rels.as_deref(), &sizes);
            if let Some(o) = ods.as_mut() {
                o.event(e);
            }
            Ok(())
        };
        let scanned = if in_memory {
            // bounded: `size` is at most `total`, and the zip crate stops a
            // part that inflates past its declared size
            let (data, read) = match (raw, part) {
                (Some(data), _) => (data, Ok(())),
                (None, Some(mut part)) => {
                    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                    let read = part.read_to_end(&mut data).map(|_| ());
                    (data, read)
                }
                (None, None) => (Vec::new(), Ok(())),
            };
            let scanned = xml::scan_slice(&data, limits.max_xml_depth, &mut visit);
            match read {
                Ok(_) => {
                    if let Some(parts) = inflated.as_mut() {
                        parts.push((i, name.clone(), data));
                    }
                    scanned
                }
                // what could be read is checked as when streamed; the error
                // is left for the parser to report
                Err(e) => {
                    inflated = None;
                    scanned.and(Err(Stop::Read(e.to_string())))
                }
            }
        } else {
            match part {
                Some(part) => xml::scan(part, limits.max_xml_depth, &mut visit),
                None => Ok(0),
            }
        };
        held.add(&part_held, size);
        if sheets.too_many() {
            return Err(too_many_sheets(limits));
        }
        if let Err(stop) = &scanned
            && let Some(e) = refused(&name, stop, limits)
        {
            return Err(e);
        }
        if let Some(mut o) = ods {
            if scanned.is_ok() && (o.unclosed_table || o.unclosed_annotation) {
                let what = if o.unclosed_table {
                    "工作表"
                } else {
                    "批注"
                };
                return Err(OpenError::Damaged(format!(
                    "content.xml 不完整：{what}没有结束标记"
                )));
            }
            o.end_table();
            if let Some(h) = o.over(limits) {
                return Err(OpenError::Limit(h));
            }
        }
    }
    let inflated = match inflated {
        Some(mut parts) => {
            parts.sort_by_key(|(i, _, _)| *i);
            Some(Inflated {
                names,
                parts,
                later,
                zip: RefCell::new(zip),
                bytes,
                total,
            })
        }
        // no new package: what was left is checked now
        None => {
            for part in later {
                let scanned = match zip.by_index(part.index) {
                    Ok(entry) => xml::scan(entry, limits.max_xml_depth, |_| Ok(())),
                    Err(_) => Ok(0),
                };
                if let Err(stop) = scanned
                    && let Some(e) = refused(&part.name, &stop, limits)
                {
                    return Err(e);
                }
            }
            None
        }
    };
    if kind == FileType::Ods {
        return Ok(Checked { held: 0, inflated });
    }
    // calamine reads each sheet's part from the start, once per sheet that
    // names it: a thousand sheets naming one large part read it a thousand times.
    let streamed = sheets.streamed();
    if streamed > limits.max_unzipped_bytes() {
        return Err(over_unzipped(
            format!(
                "工作簿的各工作表共需读取 {} MB 的数据（同一部件被多个工作表引用时按次数计）",
                streamed.div_ceil(Limits::MIB)
            ),
            limits,
            "",
        ));
    }
    let bytes = held.bytes();
    if bytes > limits.max_unzipped_bytes() {
        return Err(over_unzipped(
            format!(
                "工作簿的共享字符串（{} 个）和单元格格式（{} 个）读入后约需 {} MB",
                held.strings.max(held.declared_strings),
                held.xfs,
                bytes.div_ceil(Limits::MIB)
            ),
            limits,
            "",
        ));
    }
    Ok(Checked {
        held: bytes,
        inflated,
    })
}

/// `file.too_large_unzipped`: `found` says how much, `advice` what it may mean.
fn over_unzipped(found: String, limits: &Limits, advice: &str) -> OpenError {
    hit(
        "file.too_large_unzipped",
        format!(
            "{found}，超过上限 {} MB（limits.max_unzipped_mb），未读取。{advice}",
            limits.max_unzipped_mb
        ),
    )
}

pub(crate) fn too_many_sheets(limits: &Limits) -> OpenError {
    hit(
        "file.too_many_sheets",
        format!(
            "工作簿的工作表超过 {} 个（limits.max_sheets），未读取。请只保留报表所在的工作表后重新保存发送。",
            limits.max_sheets
        ),
    )
}

/// The folder a relationships part's targets are relative to:
/// `xl/_rels/workbook.xml.rels` → `xl/`.
fn rels_base(name: &str) -> String {
    match name.rfind("_rels/") {
        Some(at) => name[..at].to_string(),
        None => String::new(),
    }
}

/// The sheets a workbook lists (`<sheet r:id=…>`, and `table:table` in an
/// ods) and the parts their relationships point to, to count how many there
/// are and how much calamine streams for them.
struct SheetParts {
    max: u64,
    /// Sheets listed.
    count: u64,
    /// Relationship ids of the listed sheets, with how often each is listed.
    ids: HashMap<Vec<u8>, u64>,
    /// The largest part each sheet relationship id points to.
    targets: HashMap<Vec<u8>, u64>,
}

impl SheetParts {
    fn new(max: u64) -> SheetParts {
        SheetParts {
            max,
            count: 0,
            ids: HashMap::new(),
            targets: HashMap::new(),
        }
    }

    /// `rels`: the base folder when the part is a relationships part.
    fn event(&mut self, e: &Event<'_>, rels: Option<&str>, sizes: &HashMap<String, u64>) {
        let Event::Start { name, attrs, .. } = e else {
            return;
        };
        if *name == b"table:table" {
            self.count += 1;
            return;
        }
        match (local(name), rels) {
            (b"sheet", _) => {
                self.count += 1;
                if self.too_many() {
                    return;
                }
                // calamine takes the `id` attribute whatever its prefix
                for (k, v) in xml::attributes(attrs) {
                    if local(k) == b"id" {
                        *self.ids.entry(v.to_vec()).or_insert(0) += 1;
                    }
                }
            }
            (b"Relationship", Some(base)) => {
                let attr = |key: &[u8]| {
                    xml::attributes(attrs)
                        .find(|(k, _)| *k == key)
                        .map(|(_, v)| v)
                };
                let sheet_type = attr(b"Type").is_some_and(|t| {
                    t.ends_with(b"/worksheet")
                        || t.ends_with(b"/chartsheet")
                        || t.ends_with(b"/dialogsheet")
                });
                let (Some(id), Some(target)) = (attr(b"Id"), attr(b"Target")) else {
                    return;
                };
                if !sheet_type || self.targets.len() as u64 > 4 * self.max {
                    return;
                }
                let target = String::from_utf8_lossy(&xml::unescape(target)).to_ascii_lowercase();
                let path = match target.strip_prefix('/') {
                    Some(absolute) => absolute.to_string(),
                    None => format!("{}{target}", base.to_ascii_lowercase()),
                };
                let size = sizes.get(&path).copied().unwrap_or(0);
                let known = self.targets.entry(id.to_vec()).or_insert(0);
                *known = (*known).max(size);
            }
            _ => {}
        }
    }

    fn too_many(&self) -> bool {
        self.count > self.max
    }

    /// Bytes of sheet parts calamine streams, a part once per sheet naming it.
    fn streamed(&self) -> u64 {
        self.ids
            .iter()
            .map(|(id, n)| n.saturating_mul(self.targets.get(id).copied().unwrap_or(0)))
            .fold(0u64, u64::saturating_add)
    }
}

/// What calamine's xlsx reader holds from the moment it opens a workbook:
/// every shared string (`<si>`), and for every cell format (`<xf>`) a style
/// with its own copies of the font, fill, border and number format it names.
/// Counted over every part calamine 0.38 may read as shared strings or styles:
/// any part named `…sharedStrings.xml` or `…styles.xml` (ignoring case), since
/// it takes them from whichever folder the package's relationships name.
#[derive(Default)]
struct OoxmlEstimate {
    strings: u64,
    /// The most strings a shared-string table says it has.
    declared_strings: u64,
    /// Bytes of the parts holding shared strings.
    strings_text: u64,
    xfs: u64,
    fonts: u64,
    fills: u64,
    borders: u64,
    /// The longest `<numFmt>` tag, and the longest font, fill and border
    /// elements: what one style may copy.
    numfmt: u64,
    font: u64,
    fill: u64,
    border: u64,
    /// Number formats' text, kept in a map.
    numfmt_text: u64,
    /// Where the open font, fill or border element started.
    open: [Option<u64>; 3],
}

/// Bytes one shared string costs besides its text: the `String` in its
/// vector and the smallest heap block.
const STRING_COST: u64 = 64;

/// A name without its namespace prefix.
fn local(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&b| b == b':') {
        Some(colon) => &name[colon + 1..],
        None => name,
    }
}

impl OoxmlEstimate {
    fn event(&mut self, e: &Event<'_>) {
        match e {
            Event::Start {
                name,
                attrs,
                empty,
                at,
            } => {
                // font, fill or border
                let k = match local(name) {
                    // calamine reserves room for `uniqueCount` strings up front
                    b"sst" => {
                        let declared = xml::attributes(attrs)
                            .filter(|(k, _)| *k == b"uniqueCount")
                            .filter_map(|(_, v)| parse_u64(v))
                            .max()
                            .unwrap_or(0);
                        self.declared_strings = self.declared_strings.max(declared);
                        return;
                    }
                    b"si" => {
                        self.strings += 1;
                        return;
                    }
                    b"xf" => {
                        self.xfs += 1;
                        return;
                    }
                    b"numFmt" => {
                        let len = attrs.len() as u64;
                        self.numfmt = self.numfmt.max(len);
                        self.numfmt_text += len;
                        return;
                    }
                    b"font" => 0,
                    b"fill" => 1,
                    b"border" => 2,
                    _ => return,
                };
                match k {
                    0 => self.fonts += 1,
                    1 => self.fills += 1,
                    _ => self.borders += 1,
                }
                if *empty {
                    self.close(k, attrs.len() as u64);
                } else {
                    self.open[k] = Some(*at);
                }
            }
            Event::End { name, at } => {
                let k = match local(name) {
                    b"font" => 0,
                    b"fill" => 1,
                    b"border" => 2,
                    _ => return,
                };
                if let Some(start) = self.open[k].take() {
                    self.close(k, at.saturating_sub(start));
                }
            }
        }
    }

    fn close(&mut self, k: usize, span: u64) {
        let max = match k {
            0 => &mut self.font,
            1 => &mut self.fill,
            _ => &mut self.border,
        };
        *max = (*max).max(span);
    }

    /// Adds a part's counts; `size` is its uncompressed size.
    fn add(&mut self, part: &OoxmlEstimate, size: u64) {
        if part.strings > 0 {
            self.strings_text += size;
        }
        self.strings += part.strings;
        self.declared_strings = self.declared_strings.max(part.declared_strings);
        self.xfs += part.xfs;
        self.fonts += part.fonts;
        self.fills += part.fills;
        self.borders += part.borders;
        self.numfmt = self.numfmt.max(part.numfmt);
        self.font = self.font.max(part.font);
        self.fill = self.fill.max(part.fill);
        self.border = self.border.max(part.border);
        self.numfmt_text += part.numfmt_text;
    }

    fn bytes(&self) -> u64 {
        use calamine::{Borders, Fill, Font, Style};
        let size = |n: usize| n as u64;
        let strings = self
            .strings
            .saturating_mul(STRING_COST)
            .saturating_add(2 * self.strings_text)
            .saturating_add(
                self.declared_strings
                    .saturating_mul(size(size_of::<String>())),
            );
        // a style: its structure, and copies of what it names (each at most
        // twice the markup it was read from)
        let style =
            size(size_of::<Style>()) + 2 * (self.numfmt + self.font + self.fill + self.border) + 16;
        let styles = self
            .xfs
            .saturating_mul(style)
            .saturating_add(
                self.fonts
                    .saturating_mul(size(size_of::<Font>()) + 2 * self.font),
            )
            .saturating_add(
                self.fills
                    .saturating_mul(size(size_of::<Fill>()) + 2 * self.fill),
            )
            .saturating_add(
                self.borders
                    .saturating_mul(size(size_of::<Borders>()) + 2 * self.border),
            )
            .saturating_add(4 * self.numfmt_text);
        strings.saturating_add(styles)
    }
}

/// The most entries any end-of-central-directory record near the end of the
/// file declares (zip64 ones included). The `zip` crate reads as many central
/// headers as the record it settles on declares, so this bounds its work.
fn declared_entries(bytes: &[u8]) -> u64 {
    const EOCD: [u8; 4] = [0x50, 0x4B, 0x05, 0x06];
    const LOCATOR: [u8; 4] = [0x50, 0x4B, 0x06, 0x07];
    const EOCD64: [u8; 4] = [0x50, 0x4B, 0x06, 0x06];
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u64::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let u64_at = |at: usize| {
        bytes
            .get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    let from = bytes.len().saturating_sub(22 + 65_535 + 20);
    let mut most = 0;
    let end = bytes.len().saturating_sub(21).max(from);
    for at in memchr::memmem::find_iter(&bytes[from..], &EOCD).map(|k| from + k) {
        if at >= end {
            break;
        }
        most = most
            .max(u16_at(at + 8).unwrap_or(0))
            .max(u16_at(at + 10).unwrap_or(0));
        if at >= 20
            && bytes[at - 20..at - 16] == LOCATOR
            && let Some(off) = u64_at(at - 20 + 8).and_then(|o| usize::try_from(o).ok())
            && bytes.get(off..off + 4) == Some(&EOCD64[..])
        {
            most = most
                .max(u64_at(off + 24).unwrap_or(0))
                .max(u64_at(off + 32).unwrap_or(0));
        }
    }
    // A zip64 record may also be found by searching back from the end.
    let from64 = bytes.len().saturating_sub(1 << 20);
    let end64 = bytes.len().saturating_sub(55).max(from64);
    for at in memchr::memmem::find_iter(&bytes[from64..], &EOCD64).map(|k| from64 + k) {
        if at < end64 {
            most = most
                .max(u64_at(at + 24).unwrap_or(0))
                .max(u64_at(at + 32).unwrap_or(0));
        }
    }
    most
}

/// What calamine's ods reader would build from `content.xml`: for every table,
/// the cells it pushes row by row (repeats expanded, trailing empty cells not),
/// the dense range it then builds from the first to the last non-empty row,
/// and the text cloned into each. Counts are upper bounds.
#[derive(Default)]
struct OdsEstimate {
    table: Option<String>,
    /// Rows of the table so far (repeats counted, capped as calamine caps them).
    rows: u64,
    /// Rows from the first non-empty row to the current one, and to the last
    /// non-empty one.
    span: Option<u64>,
    span_to_last: u64,
    /// The widest non-empty row.
    width: u64,
    /// Cells pushed for the table (before the range is built).
    pushed: u64,
    /// Text in the table's cells, cloned per repeat.
    text: u64,
    row: Option<RowState>,
    cell: Option<CellState>,
    /// Totals over the tables done.
    cells: u64,
    bytes: u64,
    largest: Option<(u64, String, u64, u64)>,
    /// Where the last tag started.
    last_at: u64,
    /// A table or a cell comment opened and not (yet) closed.
    unclosed_table: bool,
    unclosed_annotation: bool,
}

struct RowState {
    repeats: u64,
    /// Cells pushed so far.
    len: u64,
    pending_empty: u64,
    text: u64,
}

struct CellState {
    at: u64,
    repeats: u64,
    empty: bool,
    /// Whether its value or formula is text (a number or a boolean takes no
    /// more than its cell).
    texty: bool,
    /// `text:s` spaces inside it.
    spaces: u64,
}

fn parse_u64(raw: &[u8]) -> Option<u64> {
    std::str::from_utf8(raw).ok()?.parse().ok()
}

impl OdsEstimate {
    fn attr_max(attrs: &[u8], key: &[u8], unescape: bool) -> Option<u64> {
        xml::attributes(attrs)
            .filter(|(k, _)| *k == key)
            .filter_map(|(_, v)| {
                if unescape {
                    parse_u64(&xml::unescape(v))
                } else {
                    parse_u64(v)
                }
            })
            .max()
    }

    fn event(&mut self, e: &Event<'_>) {
        self.last_at = match e {
            Event::Start { at, .. } | Event::End { at, .. } => *at,
        };
        // calamine 0.38 reads a table up to its end tag, and a string cell's
        // comment up to its end tag, without stopping at the end of the
        // file: one left open makes it loop for ever.
        match e {
            Event::Start {
                name, empty: false, ..
            } => match *name {
                b"table:table" => self.unclosed_table = true,
                b"office:annotation" => self.unclosed_annotation = true,
                _ => {}
            },
            Event::End { name, .. } => match *name {
                b"table:table" => self.unclosed_table = false,
                b"office:annotation" => self.unclosed_annotation = false,
                _ => {}
            },
            _ => {}
        }
        match e {
            Event::Start {
                name,
                attrs,
                empty,
                at,
            } => match *name {
                b"table:table" => {
                    self.end_table();
                    let name = xml::attributes(attrs)
                        .find(|(k, _)| *k == b"table:name")
                        .map(|(_, v)| String::from_utf8_lossy(&xml::unescape(v)).into_owned())
                        .unwrap_or_default();
                    self.table = Some(name);
                }
                b"table:table-row" => {
                    self.end_row(*at);
                    let repeats =
                        Self::attr_max(attrs, b"table:number-rows-repeated", true).unwrap_or(1);
                    let repeats = repeats.min(ODS_MAX_ROWS.saturating_sub(self.rows));
                    self.rows += repeats;
                    self.row = Some(RowState {
                        repeats,
                        len: 0,
                        pending_empty: 0,
                        text: 0,
                    });
                    if *empty {
                        self.end_row(*at);
                    }
                }
                b"table:table-cell" | b"table:covered-table-cell" => {
                    self.end_cell(*at);
                    let repeats =
                        Self::attr_max(attrs, b"table:number-columns-repeated", false).unwrap_or(1);
                    // Values of these types are strings; with a formula, so is that.
                    let texty = xml::attributes(attrs).any(|(k, v)| {
                        matches!(
                            k,
                            b"office:string-value"
                                | b"office:date-value"
                                | b"office:time-value"
                                | b"table:formula"
                        ) || (k == b"office:value-type" && v == b"string")
                    });
                    let empty = !xml::attributes(attrs).any(|(k, v)| {
                        matches!(
                            k,
                            b"office:value"
                                | b"office:string-value"
                                | b"office:date-value"
                                | b"office:time-value"
                                | b"office:boolean-value"
                                | b"table:formula"
                        ) || (k == b"office:value-type" && v == b"string")
                    });
                    self.cell = Some(CellState {
                        at: *at,
                        repeats,
                        empty,
                        texty,
                        spaces: 0,
                    });
                }
                b"text:s" => {
                    if let Some(c) = self.cell.as_mut() {
                        let n = Self::attr_max(attrs, b"text:c", true).unwrap_or(1);
                        c.spaces = c.spaces.saturating_add(n);
                    }
                }
                _ => {}
            },
            Event::End { name, at } => match *name {
                b"table:table-row" => self.end_row(*at),
                b"table:table" => self.end_table(),
                _ => {}
            },
        }
    }

    /// calamine's `read_row` for one cell.
    fn end_cell(&mut self, at: u64) {
        let Some(c) = self.cell.take() else { return };
        let Some(r) = self.row.as_mut() else { return };
        let room = ODS_MAX_COLUMNS.saturating_sub(r.len);
        r.len += r.pending_empty.min(room);
        r.pending_empty = 0;
        let repeats = c.repeats.min(ODS_MAX_COLUMNS.saturating_sub(r.len));
        if c.empty {
            r.pending_empty = repeats;
        } else {
            r.len += repeats;
            if c.texty {
                // value and formula, cloned per repeat, together at most the
                // cell's markup and the spaces it asks for
                let bytes = at.saturating_sub(c.at).saturating_add(c.spaces);
                r.text = r.text.saturating_add(repeats.saturating_mul(bytes));
            }
        }
    }

    fn end_row(&mut self, at: u64) {
        self.end_cell(at);
        let Some(r) = self.row.take() else { return };
        self.pushed += r.len;
        // the strings as first read (capacity up to twice their length)
        self.text = self.text.saturating_add(r.text.saturating_mul(2));
        if let Some(s) = self.span.as_mut() {
            *s += r.repeats;
        }
        if r.len > 0 {
            let span = self.span.get_or_insert(r.repeats);
            self.span_to_last = *span;
            self.width = self.width.max(r.len);
            // the rebuilt range clones the row's text once per repeat, and
            // so do the copy `worksheet_range` hands out and the reader's own
            self.text = self
                .text
                .saturating_add(r.text.saturating_mul(r.repeats).saturating_mul(3));
        }
    }

    fn end_table(&mut self) {
        self.end_row(self.last_at);
        let name = self.table.take();
        if name.is_some() || self.pushed > 0 {
            self.close(name.unwrap_or_default());
        }
    }

    fn close(&mut self, name: String) {
        let dense = self.span_to_last.saturating_mul(self.width);
        // the cells as read, then the dense range built from them
        self.cells = self.cells.saturating_add(dense).saturating_add(self.pushed);
        self.bytes = self.bytes.saturating_add(self.text);
        if self.largest.as_ref().is_none_or(|(n, ..)| dense > *n) {
            self.largest = Some((dense, name, self.span_to_last, self.width));
        }
        self.rows = 0;
        self.span = None;
        self.span_to_last = 0;
        self.width = 0;
        self.pushed = 0;
        self.text = 0;
    }

    fn over(&self, limits: &Limits) -> Option<LimitHit> {
        if let Some((n, sheet, rows, cols)) = &self.largest
            && *n > limits.max_cells
        {
            return Some(LimitHit {
                rule: "sheet.too_large",
                sheet: Some(sheet.clone()),
                cell: None,
                message: format!(
                    "工作表“{sheet}”的数据范围有 {rows} 行 × {cols} 列 = {n} 个单元格，超过上限 {}（limits.max_cells），整个工作簿未读取。请删除表格以外多余的内容后重新保存发送。",
                    limits.max_cells
                ),
            });
        }
        if self.cells > limits.max_cells {
            return Some(LimitHit {
                rule: "file.too_many_cells",
                sheet: None,
                cell: None,
                message: format!(
                    "工作簿各工作表共需 {} 个单元格，超过上限 {}（limits.max_cells），未读取。请只保留报表所在的工作表后重新保存发送。",
                    self.cells, limits.max_cells
                ),
            });
        }
        let bytes = self.bytes;
        if bytes > limits.max_unzipped_bytes() {
            return Some(LimitHit {
                rule: "file.too_large_unzipped",
                sheet: None,
                cell: None,
                message: format!(
                    "工作簿中的文字展开后约 {} MB，超过上限 {} MB（limits.max_unzipped_mb），未读取。",
                    bytes.div_ceil(Limits::MIB),
                    limits.max_unzipped_mb
                ),
            });
        }
        None
    }
}

/// Reads a whole package part, at most `max` bytes of it (for tests).
#[cfg(test)]
fn part(bytes: &[u8], name: &str, max: u64) -> Option<Vec<u8>> {
    let mut zip = ZipArchive::new(Cursor::new(bytes)).ok()?;
    let mut out = Vec::new();
    zip.by_name(name)
        .ok()?
        .take(max)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate(content: &str) -> OdsEstimate {
        let mut o = OdsEstimate::default();
        xml::scan(content.as_bytes(), 100, |e| {
            o.event(e);
            Ok(())
        })
        .unwrap();
        o.end_table();
        o
    }

    #[test]
    fn trailing_empty_rows_and_cells_cost_nothing() {
        let o = estimate(
            r#"<table:table table:name="S"><table:table-row><table:table-cell office:value-type="float" office:value="1"/><table:table-cell table:number-columns-repeated="16000"/></table:table-row><table:table-row table:number-rows-repeated="1048000"><table:table-cell table:number-columns-repeated="1024"/></table:table-row></table:table>"#,
        );
        assert_eq!(o.cells, 2);
        assert_eq!(o.largest.as_ref().unwrap().0, 1);
    }

    #[test]
    fn a_repeated_full_row_is_counted_in_full() {
        let o = estimate(
            r#"<table:table table:name="S"><table:table-row table:number-rows-repeated="1000"><table:table-cell office:value-type="float" office:value="1" table:number-columns-repeated="1000"/></table:table-row></table:table>"#,
        );
        let (n, name, rows, cols) = o.largest.clone().unwrap();
        assert_eq!((n, name.as_str(), rows, cols), (1_000_000, "S", 1000, 1000));
        assert_eq!(
            o.over(&Limits::default()).unwrap().rule,
            "file.too_many_cells"
        );
    }

    #[test]
    fn text_s_spaces_count_as_text() {
        let o = estimate(
            r#"<table:table table:name="S"><table:table-row><table:table-cell office:value-type="string"><text:p>a<text:s text:c="900000000"/></text:p></table:table-cell></table:table-row></table:table>"#,
        );
        assert_eq!(
            o.over(&Limits::default()).unwrap().rule,
            "file.too_large_unzipped"
        );
    }

    #[test]
    fn declared_entries_reads_the_end_record() {
        let mut buf = Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut buf);
        for i in 0..3 {
            w.start_file(
                format!("f{i}.xml"),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
        }
        w.finish().unwrap();
        let bytes = buf.into_inner();
        assert_eq!(declared_entries(&bytes), 3);
        assert_eq!(part(&bytes, "f0.xml", 10), Some(Vec::new()));
    }

    /// Every part of a package: name, compression method and inflated bytes.
    fn parts(bytes: &[u8]) -> Vec<(String, CompressionMethod, Vec<u8>)> {
        let mut zip = ZipArchive::new(Cursor::new(bytes)).unwrap();
        (0..zip.len())
            .map(|i| {
                let mut f = zip.by_index(i).unwrap();
                let mut data = Vec::new();
                f.read_to_end(&mut data).unwrap();
                (f.name().unwrap().to_string(), f.compression(), data)
            })
            .collect()
    }

    #[test]
    fn a_small_package_is_inflated_once_and_handed_on_unchanged() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data/2020-06");
        for (file, kind) in [
            ("湖州开发区6月报表.xlsx", FileType::Xlsx),
            ("南浔6月.ods", FileType::Ods),
        ] {
            let bytes = std::fs::read(dir.join(file)).unwrap();
            let checked = check(&bytes, kind, &Limits::default()).unwrap();
            let inflated = checked.inflated.expect("a small package is inflated");
            assert!(inflated.check_rest(&Limits::default()).unwrap(), "{file}");
            let repacked = inflated.repack().expect("the package is made again");
            let (before, after) = (parts(&bytes), parts(&repacked));
            assert_eq!(before.len(), after.len(), "{file}");
            for ((name, method, data), (name2, method2, data2)) in before.iter().zip(&after) {
                assert_eq!((name, data), (name2, data2), "{file}");
                let xml = name.ends_with(".xml") || name.ends_with(".rels");
                let expected = if xml {
                    CompressionMethod::Stored
                } else {
                    *method
                };
                assert_eq!(*method2, expected, "{file}: {name}");
            }
        }
    }

    #[test]
    fn parts_inflated_in_one_call_are_the_zip_readers_bytes_or_none() {
        let mut buf = Cursor::new(Vec::new());
        let mut w = ZipWriter::new(&mut buf);
        let text = "<sst><si><t>工业增加值</t></si></sst>".repeat(50);
        for method in [CompressionMethod::Deflated, CompressionMethod::Stored] {
            let options = SimpleFileOptions::default().compression_method(method);
            w.start_file(format!("{method:?}.xml"), options).unwrap();
            w.write_all(text.as_bytes()).unwrap();
        }
        w.finish().unwrap();
        let bytes = buf.into_inner();
        let mut zip = ZipArchive::new(Cursor::new(&bytes[..])).unwrap();
        for (i, (_, _, data)) in parts(&bytes).into_iter().enumerate() {
            assert_eq!(inflate_raw(&mut zip, &bytes, i), Some(data));
        }
        // a stored part whose bytes no longer match its CRC-32
        let mut damaged = bytes.clone();
        let at = memchr::memmem::rfind(&damaged, "工业".as_bytes()).unwrap();
        damaged[at] ^= 1;
        let mut zip = ZipArchive::new(Cursor::new(&damaged[..])).unwrap();
        assert_eq!(inflate_raw(&mut zip, &damaged, 1), None);
    }

    #[test]
    fn a_large_package_is_checked_as_a_stream_and_left_as_it_is() {
        let mut buf = Cursor::new(Vec::new());
        let mut w = ZipWriter::new(&mut buf);
        w.start_file("xl/worksheets/sheet1.xml", SimpleFileOptions::default())
            .unwrap();
        w.write_all(b"<worksheet><sheetData>").unwrap();
        let row = b"<row><c><v>1</v></c></row>";
        for _ in 0..=INFLATE_ONCE_MAX as usize / row.len() {
            w.write_all(row).unwrap();
        }
        w.write_all(b"</sheetData></worksheet>").unwrap();
        w.finish().unwrap();
        let bytes = buf.into_inner();
        let checked = check(&bytes, FileType::Xlsx, &Limits::default()).unwrap();
        assert!(checked.inflated.is_none());
        // the same limits hold on the stream
        let shallow = Limits {
            max_xml_depth: 3,
            ..Limits::default()
        };
        assert!(matches!(
            check(&bytes, FileType::Xlsx, &shallow),
            Err(OpenError::Limit(LimitHit {
                rule: "file.xml_depth",
                ..
            }))
        ));
    }
}

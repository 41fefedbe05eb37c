//! An Excel 97-2003 (.xls) file checked before calamine parses it.
//!
//! calamine reads a whole .xls in one go and trusts the counts and sizes
//! written in it: a DIMENSIONS record may ask for a billion cells, one cell at
//! a far corner makes a dense range of millions, a loop in the sector chain
//! never ends, a formula record of parentheses takes quadratic time. Such a
//! request aborts the process (a failed allocation cannot be caught) or hangs
//! it. So this module walks the file the way calamine 0.38 will — the compound
//! file's sector chains (`cfb.rs`) and the BIFF records (`xls.rs`), whose rules
//! it copies — counting what calamine would allocate and how much work it
//! would do, without allocating it. It refuses the file when that passes the
//! limits; where calamine would stop with an error or a panic (which the
//! reader's guard turns into a finding) it stops too, counting what was
//! allocated until then. Its counts are upper bounds: where a copy of a rule
//! would be long, it assumes the larger outcome.

use std::mem::size_of;

use crate::catalog::Limits;
use crate::model::Cell;
use crate::read::workbook::{LimitHit, OpenError};

const ENDOFCHAIN: u32 = 0xFFFF_FFFE;
const RESERVED_SECTORS: u32 = 0xFFFF_FFFA;
const DIFSECT: u32 = 0xFFFF_FFFC;
const OLE2_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// CONTINUE records after one record: calamine removes them from the front of
/// a vector one at a time (quadratic). Real workbooks have a few hundred at most.
const MAX_CONTINUES: usize = 10_000;
/// Byte moves calamine may spend rebuilding formula text, for the whole file
/// (about a second).
const MAX_FORMULA_WORK: u64 = 1 << 30;

/// How a walk ended early.
enum Halt {
    /// calamine stops here with an error or a panic: nothing after it is parsed.
    Fails,
    /// The file must not be handed to calamine.
    Refuse(OpenError),
}

type Walk<T> = Result<T, Halt>;

fn damaged(why: &str) -> Halt {
    Halt::Refuse(OpenError::Damaged(why.to_string()))
}

/// Checks an .xls file against the limits before calamine parses it.
///
/// # Errors
/// [`OpenError::Limit`] when parsing would need more cells or text than the
/// limits allow, [`OpenError::Damaged`] when its structure would make the
/// parser loop or work without end.
pub fn check(bytes: &[u8], limits: &Limits) -> Result<(), OpenError> {
    // Where the compound file cannot be followed as calamine would follow
    // it, it is not handed over at all: calamine would fail there too, and a
    // stream this walk did not check must not reach it.
    let stream = match workbook_stream(bytes) {
        Ok(s) => s,
        Err(Halt::Fails) => {
            return Err(OpenError::Damaged(
                "复合文档结构损坏，找不到工作簿数据".into(),
            ));
        }
        Err(Halt::Refuse(e)) => return Err(e),
    };
    let mut est = Estimate {
        max_bytes: limits.max_unzipped_bytes(),
        ..Estimate::default()
    };
    let walked = walk_biff(&stream, &mut est, limits.max_sheets);
    if let Some(hit) = est.over(limits) {
        return Err(OpenError::Limit(hit));
    }
    match walked {
        Ok(()) | Err(Halt::Fails) => Ok(()),
        Err(Halt::Refuse(e)) => Err(e),
    }
}

fn too_many_sheets_error(max: u64) -> OpenError {
    OpenError::Limit(LimitHit {
        rule: "file.too_many_sheets",
        sheet: None,
        cell: None,
        message: format!(
            "工作簿的工作表超过 {max} 个（limits.max_sheets），未读取。请只保留报表所在的工作表后重新保存发送。"
        ),
    })
}

// ---------------------------------------------------------------------------
// The compound file (calamine `cfb.rs`)
// ---------------------------------------------------------------------------

/// The file as calamine's `Cursor` reads it.
struct Source<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Source<'_> {
    fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.bytes.len() - self.pos);
        buf[..n].copy_from_slice(&self.bytes[self.pos..self.pos + n]);
        self.pos += n;
        n
    }
}

/// calamine's `Sectors`: sectors are read from the source on first use.
struct Sectors {
    data: Vec<u8>,
    size: usize,
    maxid: u32,
}

impl Sectors {
    fn get(&mut self, id: u32, r: &mut Source<'_>) -> Walk<std::ops::Range<usize>> {
        if self.maxid < id {
            return Err(Halt::Fails);
        }
        let start = id as usize * self.size;
        let end = start + self.size;
        if end > self.data.len() {
            let mut len = self.data.len();
            self.data.resize(end, 0);
            while len < end {
                let read = r.read(&mut self.data[len..end]);
                if read == 0 {
                    // calamine returns `&data[start..len]`, a panic when start > len.
                    return if start > len {
                        Err(Halt::Fails)
                    } else {
                        Ok(start..len)
                    };
                }
                len += read;
            }
        }
        Ok(start..end)
    }

    /// A stream of `len` bytes from its first sector. calamine follows the
    /// chain without looking for loops; with no limit on `len` (the directory)
    /// a loop never ends, so a chain longer than the file has sectors is refused.
    fn chain(&mut self, mut id: u32, fat: &[u32], r: &mut Source<'_>, len: usize) -> Walk<Vec<u8>> {
        let mut out = Vec::new();
        let mut steps: u64 = 0;
        while id != ENDOFCHAIN {
            let at = self.get(id, r)?;
            let to_copy = (at.end - at.start).min(len - out.len());
            out.extend_from_slice(&self.data[at.start..at.start + to_copy]);
            if out.len() >= len {
                break;
            }
            steps += 1;
            if steps > u64::from(self.maxid) + 1 {
                return Err(damaged("文件内部的扇区链成环"));
            }
            id = *fat.get(id as usize).ok_or(Halt::Fails)?;
        }
        Ok(out)
    }
}

fn u16_at(b: &[u8], at: usize) -> Walk<u16> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or(Halt::Fails)
}

fn u32_at(b: &[u8], at: usize) -> Walk<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(Halt::Fails)
}

/// calamine's `to_u32` asserts a whole number of words.
fn words(b: &[u8]) -> Walk<impl Iterator<Item = u32> + '_> {
    if !b.len().is_multiple_of(4) {
        return Err(Halt::Fails);
    }
    Ok(b.chunks_exact(4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]])))
}

struct Directory {
    name: String,
    start: u32,
    len: usize,
}

/// A directory entry's name as calamine decodes it: UTF-16LE, unless the bytes
/// start with a byte-order mark (encoding_rs's `decode` follows the mark).
fn utf16_name(raw: &[u8]) -> String {
    let units = |b: &[u8], be: bool| -> Vec<u16> {
        b.chunks_exact(2)
            .map(|u| {
                if be {
                    u16::from_be_bytes([u[0], u[1]])
                } else {
                    u16::from_le_bytes([u[0], u[1]])
                }
            })
            .collect()
    };
    match raw {
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        [0xFE, 0xFF, rest @ ..] => String::from_utf16_lossy(&units(rest, true)),
        [0xFF, 0xFE, rest @ ..] => String::from_utf16_lossy(&units(rest, false)),
        _ => String::from_utf16_lossy(&units(raw, false)),
    }
}

/// The Workbook (or Book) stream as calamine will see it.
fn workbook_stream(bytes: &[u8]) -> Walk<Vec<u8>> {
    let mut r = Source { bytes, pos: 0 };
    let mut header = [0u8; 512];
    if r.read(&mut header) < 512 || header[..8] != OLE2_MAGIC {
        return Err(Halt::Fails);
    }
    let version = u16_at(&header, 26)?;
    let size = match u16_at(&header, 30)? {
        0x0009 => 512,
        0x000C => {
            let mut rest = [0u8; 4096 - 512];
            if r.read(&mut rest) < rest.len() {
                return Err(Halt::Fails);
            }
            4096
        }
        _ => return Err(Halt::Fails),
    };
    if u16_at(&header, 32)? != 0x0006 {
        return Err(Halt::Fails);
    }
    let dir_start = u32_at(&header, 48)?;
    let mini_fat_start = u32_at(&header, 60)?;
    let mini_fat_len = u32_at(&header, 64)? as usize;
    let difat_start = u32_at(&header, 68)?;
    let mut difat: Vec<u32> = words(&header[76..512])?.collect();
    let maxid = bytes.len() / size;
    let mut sectors = Sectors {
        data: Vec::new(),
        size,
        maxid: maxid as u32,
    };

    let mut id = difat_start;
    let mut difat_sectors = 0usize;
    while id < RESERVED_SECTORS {
        difat_sectors += 1;
        if difat_sectors > maxid.saturating_add(1) {
            return Err(Halt::Fails);
        }
        let at = sectors.get(id, &mut r)?;
        let more: Vec<u32> = words(&sectors.data[at])?.collect();
        difat.extend(more);
        id = difat.pop().ok_or(Halt::Fails)?;
    }
    // calamine reads one sector of the allocation table per entry, however
    // many there are: more entries than sectors in the file is a crafted file
    // (a few thousand sectors listed a million times over).
    let fat_sectors: Vec<u32> = difat.into_iter().filter(|id| *id < DIFSECT).collect();
    if fat_sectors.len() > maxid + 1 {
        return Err(damaged("文件的扇区分配表比文件本身还大"));
    }
    let mut fat = Vec::new();
    for id in fat_sectors {
        let at = sectors.get(id, &mut r)?;
        let more: Vec<u32> = words(&sectors.data[at])?.collect();
        fat.extend(more);
    }

    let raw = sectors.chain(dir_start, &fat, &mut r, usize::MAX)?;
    let dirs: Vec<Directory> = raw
        .chunks(128)
        .filter(|c| c.len() == 128)
        .map(|c| {
            let mut name = utf16_name(&c[..64]);
            if let Some(l) = name.as_bytes().iter().position(|b| *b == 0) {
                name.truncate(l);
            }
            let start = u32::from_le_bytes([c[116], c[117], c[118], c[119]]);
            let len = if size == 512 {
                u32::from_le_bytes([c[120], c[121], c[122], c[123]]) as usize
            } else {
                u64::from_le_bytes(c[120..128].try_into().expect("8 bytes")) as usize
            };
            Directory { name, start, len }
        })
        .collect();
    drop(raw);
    if dirs.is_empty() || (version != 3 && dirs[0].start == ENDOFCHAIN) {
        return Err(Halt::Fails);
    }

    let (mini_fat, ministream) = if mini_fat_len > 0 {
        let ministream = sectors.chain(dirs[0].start, &fat, &mut r, dirs[0].len)?;
        let raw = sectors.chain(mini_fat_start, &fat, &mut r, mini_fat_len * size)?;
        (words(&raw)?.collect::<Vec<u32>>(), ministream)
    } else {
        (Vec::new(), Vec::new())
    };
    let mut mini = Sectors {
        data: ministream,
        size: 64,
        maxid: (maxid * 8) as u32,
    };

    let mut stream = |name: &str| -> Walk<Vec<u8>> {
        let d = dirs
            .iter()
            .find(|d| d.name.as_bytes().eq_ignore_ascii_case(name.as_bytes()))
            .ok_or(Halt::Fails)?;
        if d.len < 4096 {
            mini.chain(d.start, &mini_fat, &mut r, d.len)
        } else {
            sectors.chain(d.start, &fat, &mut r, d.len)
        }
    };
    match stream("Workbook") {
        Err(Halt::Fails) => stream("Book"),
        other => other,
    }
}

// ---------------------------------------------------------------------------
// The BIFF records (calamine `xls.rs`)
// ---------------------------------------------------------------------------

/// What calamine would allocate and do.
#[derive(Default)]
struct Estimate {
    /// Cells built so far: as read, and in the dense ranges (values and
    /// formulas).
    cells: u64,
    /// The largest single allocation of cells asked for, with the sheet and
    /// the range that asked.
    largest: Option<(u64, String, String)>,
    /// Bytes of text (the cells themselves are counted in `cells`).
    bytes: u64,
    /// Byte moves spent on formula text.
    formula_work: u64,
    /// Past this many bytes the walk stops (the file is refused anyway), so
    /// that the walk itself stays small.
    max_bytes: u64,
}

impl Estimate {
    fn ask(&mut self, cells: u64, sheet: &str, range: impl FnOnce() -> String) {
        if self.largest.as_ref().is_none_or(|(n, _, _)| cells > *n) {
            self.largest = Some((cells, sheet.to_string(), range()));
        }
    }

    fn over(&self, limits: &Limits) -> Option<LimitHit> {
        if let Some((n, sheet, range)) = &self.largest
            && *n > limits.max_cells
        {
            return Some(LimitHit {
                rule: "sheet.too_large",
                sheet: Some(sheet.clone()),
                cell: None,
                message: format!(
                    "工作表“{sheet}”的{range}共 {n} 个单元格，超过上限 {}（limits.max_cells），整个工作簿未读取。请删除表格以外多余的内容（或把报表复制到新工作簿）后重新保存发送。",
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
        if self.bytes > limits.max_unzipped_bytes() {
            return Some(LimitHit {
                rule: "file.too_large_unzipped",
                sheet: None,
                cell: None,
                message: format!(
                    "工作簿中的文字展开后约 {} MB，超过上限 {} MB（limits.max_unzipped_mb），未读取。",
                    self.bytes.div_ceil(Limits::MIB),
                    limits.max_unzipped_mb
                ),
            });
        }
        if self.formula_work > MAX_FORMULA_WORK {
            return Some(LimitHit {
                rule: "file.unreadable",
                sheet: None,
                cell: None,
                message: "工作簿中的公式记录异常（解析所需的工作量过大），文件可能已损坏或被恶意构造，未读取。请让报送单位用电子表格程序重新保存后发送。".into(),
            });
        }
        None
    }
}

struct Record<'a> {
    typ: u16,
    data: &'a [u8],
    cont: Vec<&'a [u8]>,
    /// The next CONTINUE to hand out.
    next: usize,
}

impl<'a> Record<'a> {
    fn continue_record(&mut self) -> bool {
        match self.cont.get(self.next) {
            Some(d) => {
                self.data = d;
                self.next += 1;
                true
            }
            None => false,
        }
    }

    fn skip(&mut self, mut len: usize) -> Walk<()> {
        while len > 0 {
            if self.data.is_empty() && !self.continue_record() {
                return Err(Halt::Fails);
            }
            let l = len.min(self.data.len());
            self.data = &self.data[l..];
            len -= l;
        }
        Ok(())
    }
}

/// calamine's `RecordIter`; an `Err` item ends the parse.
struct Records<'a> {
    stream: &'a [u8],
}

impl<'a> Iterator for Records<'a> {
    type Item = Walk<Record<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.stream.len() < 4 {
            return (!self.stream.is_empty()).then_some(Err(Halt::Fails));
        }
        let typ = u16::from_le_bytes([self.stream[0], self.stream[1]]);
        let len = u16::from_le_bytes([self.stream[2], self.stream[3]]) as usize;
        if self.stream.len() < len + 4 {
            return Some(Err(Halt::Fails));
        }
        let (data, next) = self.stream.split_at(len + 4);
        self.stream = next;
        let mut cont = Vec::new();
        if next.len() > 4 && u16::from_le_bytes([next[0], next[1]]) == 0x003C {
            while self.stream.len() > 4
                && u16::from_le_bytes([self.stream[0], self.stream[1]]) == 0x003C
            {
                let len = u16::from_le_bytes([self.stream[2], self.stream[3]]) as usize;
                if self.stream.len() < len + 4 {
                    return Some(Err(Halt::Fails));
                }
                if cont.len() >= MAX_CONTINUES {
                    return Some(Err(damaged("一个记录后接续记录（CONTINUE）过多")));
                }
                let (c, rest) = self.stream.split_at(len + 4);
                cont.push(&c[4..]);
                self.stream = rest;
            }
        }
        Some(Ok(Record {
            typ,
            data: &data[4..],
            cont,
            next: 0,
        }))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Biff {
    Old,
    Biff8,
}

/// What the workbook globals hold that the sheets' parse depends on.
struct Globals {
    biff: Biff,
    /// (stream offset, name) of each sheet.
    sheets: Vec<(usize, String)>,
    /// Upper bounds of the sheet names' lengths in bytes.
    sheet_name_len: Vec<usize>,
    /// Upper bounds of the defined names' lengths in bytes.
    name_len: Vec<usize>,
    /// `itab_first` of each XTI.
    xtis: Vec<i16>,
    /// Upper bounds of the shared strings' lengths in bytes.
    strings: Vec<usize>,
}

/// Bytes a decoded string of `chars` characters can take: calamine decodes
/// UTF-16 or a code page, at most three bytes of UTF-8 a character.
fn utf8_bound(chars: usize) -> usize {
    chars * 3
}

fn walk_biff(stream: &[u8], est: &mut Estimate, max_sheets: u64) -> Walk<()> {
    let g = walk_globals(stream, est, max_sheets)?;
    if est.bytes > est.max_bytes {
        return Ok(());
    }
    // Every sheet is read from its offset to its EOF record (or the stream's
    // end): overlapping sheets would read the same records again and again.
    let mut scanned: u64 = 0;
    let budget = 4 * stream.len() as u64 + (1 << 20);
    for (pos, name) in &g.sheets {
        let sh = stream.get(*pos..).ok_or(Halt::Fails)?;
        let mut sheet = SheetWalk::default();
        let result = walk_sheet(sh, &g, &mut sheet, est, name, &mut scanned, budget);
        // What was pushed before an error was allocated all the same: the
        // cells as read, and their text three times (the sheet, the copy
        // `worksheet_range` hands out and the reader's own).
        est.bytes += 3 * sheet.text;
        est.cells += sheet.cells + sheet.formulas;
        result?;
        // then the dense ranges built from them
        for extent in [sheet.extent, sheet.formula_extent].into_iter().flatten() {
            let n = extent.cells();
            est.ask(n, name, || format!("数据范围 {}", extent.a1()));
            est.cells += n;
        }
    }
    Ok(())
}

fn walk_globals(stream: &[u8], est: &mut Estimate, max_sheets: u64) -> Walk<Globals> {
    let mut g = Globals {
        biff: Biff::Biff8,
        sheets: Vec::new(),
        sheet_name_len: Vec::new(),
        name_len: Vec::new(),
        xtis: Vec::new(),
        strings: Vec::new(),
    };
    for record in (Records { stream }) {
        let mut r = record?;
        let d = r.data;
        match r.typ {
            // A password: calamine says so and stops.
            0x002F if u16_at(d, 0)? != 0 => return Err(Halt::Fails),
            0x0042 => {
                u16_at(d, 0)?;
            }
            0x00E0 if d.len() < 4 => return Err(Halt::Fails),
            0x0085 => {
                // BoundSheet8
                let pos = u32_at(d, 0)? as usize;
                let hs = *d.get(4).ok_or(Halt::Fails)?;
                let dt = *d.get(5).ok_or(Halt::Fails)?;
                if hs & 0b0011_1111 > 2 || !matches!(dt, 0 | 1 | 2 | 6) {
                    return Err(Halt::Fails);
                }
                let rest = &d[6..];
                let biff8 = g.biff == Biff::Biff8;
                if rest.is_empty() || (rest.len() < 2 && biff8) {
                    return Err(Halt::Fails);
                }
                let cch = rest[0] as usize;
                let name_bytes = if biff8 { &rest[2..] } else { &rest[1..] };
                let high = biff8 && rest[1] & 1 != 0;
                let chars = if high {
                    cch.min(name_bytes.len() / 2)
                } else {
                    cch.min(name_bytes.len())
                };
                if g.sheets.len() as u64 >= max_sheets {
                    return Err(Halt::Refuse(too_many_sheets_error(max_sheets)));
                }
                g.sheet_name_len.push(utf8_bound(chars));
                g.sheets.push((pos, sheet_name(name_bytes, chars, high)));
                est.bytes += 64 + utf8_bound(chars.max(cch)) as u64;
            }
            0x0809 => {
                let v = u16_at(d, 0)?;
                let dt = if d.len() >= 4 { u16_at(d, 2)? } else { 0 };
                g.biff = match v {
                    0x0200 | 0x0002 | 0x0007 | 0x0300 | 0x0400 | 0x0500 => Biff::Old,
                    0 if dt == 0x1000 => Biff::Old,
                    _ => Biff::Biff8,
                };
            }
            0x0018 => {
                // Lbl: a defined name
                let cch = *d.get(3).ok_or(Halt::Fails)? as usize;
                let cce = u16_at(d, 4)? as usize;
                let body = d.get(14..).ok_or(Halt::Fails)?;
                let chars = match g.biff {
                    Biff::Old => cch.min(body.len()),
                    Biff::Biff8 => {
                        let flags = *body.first().ok_or(Halt::Fails)?;
                        let need = 1 + if flags & 1 != 0 { 2 * cch } else { cch };
                        if body.len() < need {
                            return Err(Halt::Fails);
                        }
                        cch
                    }
                };
                if cce > d.len() {
                    return Err(Halt::Fails);
                }
                defined_name_formula(&d[d.len() - cce..], g.biff)?;
                g.name_len.push(utf8_bound(chars));
                est.bytes += 128 + 2 * utf8_bound(chars) as u64;
            }
            0x0017 if g.biff == Biff::Biff8 => {
                let n = u16_at(d, 0)? as usize;
                let more: Vec<i16> = d[2..]
                    .chunks_exact(6)
                    .take(n)
                    .map(|x| i16::from_le_bytes([x[2], x[3]]))
                    .collect();
                est.bytes += 8 * more.len() as u64;
                g.xtis.extend(more);
            }
            0x00FC => {
                g.strings = shared_strings(&mut r, est)?;
            }
            0x000A => break,
            _ => {}
        }
    }
    if g.biff == Biff::Old && g.xtis.is_empty() {
        g.xtis = (0..g.sheets.len()).map(|i| i as i16).collect();
    }
    Ok(g)
}

/// The sheet's name, for messages (calamine decodes it with the code page;
/// this reads UTF-16 or Latin-1, which is what the messages need).
fn sheet_name(bytes: &[u8], chars: usize, high: bool) -> String {
    let name = if high {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .take(chars)
            .map(|u| u16::from_le_bytes([u[0], u[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        bytes.iter().take(chars).map(|&b| b as char).collect()
    };
    name.replace('\0', "")
}

/// calamine's `parse_defined_names`: only whether it panics or fails matters.
fn defined_name_formula(rgce: &[u8], biff: Biff) -> Walk<()> {
    let Some(&ptg) = rgce.first() else {
        return Ok(());
    };
    let need = match (ptg, biff) {
        (0x3a | 0x5a | 0x7a, Biff::Old) => 18,
        (0x3a | 0x5a | 0x7a, Biff::Biff8) => 7,
        (0x3b | 0x5b | 0x7b, Biff::Old) => 21,
        (0x3b | 0x5b | 0x7b, Biff::Biff8) => 11,
        (0x3c | 0x5c | 0x7c | 0x3d | 0x5d | 0x7d, Biff::Biff8) => 3,
        (0x3c | 0x5c | 0x7c | 0x3d | 0x5d | 0x7d, Biff::Old) => 13,
        _ => 0,
    };
    if rgce.len() < need {
        return Err(Halt::Fails);
    }
    Ok(())
}

/// calamine's `parse_sst`: the length bound of each string.
fn shared_strings(r: &mut Record<'_>, est: &mut Estimate) -> Walk<Vec<usize>> {
    if r.data.len() < 8 {
        return Err(Halt::Fails);
    }
    let mut out = Vec::new();
    r.data = &r.data[8..];
    while !r.data.is_empty() || r.continue_record() {
        if est.bytes > est.max_bytes {
            // refused for its size whatever follows
            return Ok(out);
        }
        // read_rich_extended_string
        if r.data.is_empty() {
            out.push(0);
            est.bytes += 2 * size_of::<String>() as u64;
            continue;
        }
        if r.data.len() < 3 {
            return Err(Halt::Fails);
        }
        let cch = u16_at(r.data, 0)? as usize;
        let flags = r.data[2];
        r.data = &r.data[3..];
        let mut runs = 0usize;
        let mut ext = 0usize;
        if flags & 0x8 != 0 {
            runs = u16_at(r.data, 0)? as usize;
            r.data = &r.data[2..];
        }
        if flags & 0x4 != 0 {
            ext = u32_at(r.data, 0)? as i32 as usize;
            r.data = &r.data[4..];
        }
        // read_dbcs
        let mut high = flags & 0x1 != 0;
        let mut left = cch;
        let mut chars = 0usize;
        while left > 0 {
            let l = if high {
                (r.data.len() / 2).min(left)
            } else {
                r.data.len().min(left)
            };
            r.data = &r.data[if high { 2 * l } else { l }..];
            chars += l;
            left -= l;
            if left > 0 {
                if r.continue_record() {
                    high = *r.data.first().ok_or(Halt::Fails)? & 0x1 != 0;
                    r.data = &r.data[1..];
                } else {
                    return Err(Halt::Fails);
                }
            }
        }
        let len = utf8_bound(chars);
        // `String::with_capacity(cch)`, grown by doubling
        est.bytes += (cch.max(2 * len) + 2 * size_of::<String>()) as u64;
        out.push(len);
        r.skip(runs * 4)?;
        r.skip(ext)?;
    }
    Ok(out)
}

/// A rectangle of cells, as calamine's `Range::from_sparse` sizes it.
#[derive(Clone, Copy)]
struct Extent {
    top: u32,
    left: u32,
    bottom: u32,
    right: u32,
}

impl Extent {
    fn add(e: &mut Option<Extent>, (row, col): (u32, u32)) {
        *e = Some(match *e {
            None => Extent {
                top: row,
                left: col,
                bottom: row,
                right: col,
            },
            Some(x) => Extent {
                top: x.top.min(row),
                left: x.left.min(col),
                bottom: x.bottom.max(row),
                right: x.right.max(col),
            },
        });
    }

    fn cells(&self) -> u64 {
        u64::from(self.bottom - self.top + 1) * u64::from(self.right - self.left + 1)
    }

    fn a1(&self) -> String {
        format!(
            "{}:{}",
            Cell::new(self.top, self.left),
            Cell::new(self.bottom, self.right)
        )
    }
}

#[derive(Default)]
struct SheetWalk {
    cells: u64,
    extent: Option<Extent>,
    formulas: u64,
    formula_extent: Option<Extent>,
    /// Bytes of strings held by cells and formulas.
    text: u64,
}

impl SheetWalk {
    fn cell(&mut self, at: (u32, u32), text: usize) {
        self.cells += 1;
        self.text += text as u64;
        Extent::add(&mut self.extent, at);
    }
}

fn walk_sheet(
    sh: &[u8],
    g: &Globals,
    s: &mut SheetWalk,
    est: &mut Estimate,
    name: &str,
    scanned: &mut u64,
    budget: u64,
) -> Walk<()> {
    let mut seen_bof = false;
    let mut depth = 0usize;
    let mut formula_at = (0u32, 0u32);
    for record in (Records { stream: sh }) {
        let r = record?;
        *scanned +=
            4 + r.data.len() as u64 + r.cont.iter().map(|c| 4 + c.len() as u64).sum::<u64>();
        if *scanned > budget {
            return Err(damaged("工作表的记录互相重叠"));
        }
        if depth > 0 {
            match r.typ {
                0x0809 => depth += 1,
                0x000A => depth -= 1,
                _ => {}
            }
            continue;
        }
        let d = r.data;
        let rc = |d: &[u8]| -> Walk<(u32, u32)> {
            Ok((u32::from(u16_at(d, 0)?), u32::from(u16_at(d, 2)?)))
        };
        match r.typ {
            0x0809 => {
                if seen_bof {
                    depth += 1;
                } else {
                    seen_bof = true;
                }
            }
            0x0200 => {
                // DIMENSIONS: `cells.reserve(rows * cols)` straight away
                let (rf, rl, mut cf, cl) = match d.len() {
                    10 => (
                        u32::from(u16_at(d, 0)?),
                        u32::from(u16_at(d, 2)?),
                        u32::from(u16_at(d, 4)?),
                        u32::from(u16_at(d, 6)?),
                    ),
                    14 | 16 => (
                        u32_at(d, 0)?,
                        u32_at(d, 4)?,
                        u32::from(u16_at(d, 8)?),
                        u32::from(u16_at(d, 10)?),
                    ),
                    _ => return Err(Halt::Fails),
                };
                if 0xFF < cf || cl < cf {
                    cf = 0;
                }
                let (start, end) = if 1 <= rl && 1 <= cl {
                    ((rf, cf), (rl - 1, cl - 1))
                } else {
                    ((rf, cf), (rf, cf))
                };
                // u32 arithmetic as calamine does it (wrapping in a release build)
                let rows = end.0.wrapping_sub(start.0).wrapping_add(1) as u64;
                let cols = end.1.wrapping_sub(start.1).wrapping_add(1) as u64;
                let n = rows.saturating_mul(cols).saturating_add(s.cells);
                est.ask(n, name, || {
                    format!("DIMENSIONS 记录声明的范围（{rows} 行 × {cols} 列）")
                });
            }
            0x0203 => {
                if d.len() < 14 {
                    return Err(Halt::Fails);
                }
                s.cell(rc(d)?, 0);
            }
            0x0204 | 0x00D6 => {
                if d.len() < 6 {
                    return Err(Halt::Fails);
                }
                let text = string_bound(&d[6..], g.biff)?;
                s.cell(rc(d)?, text);
            }
            0x0205 => {
                if d.len() < 8 {
                    return Err(Halt::Fails);
                }
                match d[7] {
                    0 => {}
                    1 if matches!(d[6], 0x00 | 0x07 | 0x0F | 0x17 | 0x1D | 0x24 | 0x2A | 0x2B) => {}
                    _ => return Err(Halt::Fails),
                }
                s.cell(rc(d)?, 0);
            }
            0x0207 => {
                let text = string_bound(d, g.biff)?;
                s.cell(formula_at, text);
            }
            0x027E => {
                if d.len() < 10 {
                    return Err(Halt::Fails);
                }
                s.cell(rc(d)?, 0);
            }
            0x00FD => {
                if d.len() < 10 {
                    return Err(Halt::Fails);
                }
                let i = u32_at(d, 6)? as usize;
                if let Some(len) = g.strings.get(i) {
                    s.cell(rc(d)?, *len);
                }
            }
            0x00BD => {
                // MulRk
                if d.len() < 6 {
                    return Err(Halt::Fails);
                }
                let row = u32::from(u16_at(d, 0)?);
                let first = u16_at(d, 2)?;
                let last = u16_at(d, d.len() - 2)?;
                let n = last.wrapping_sub(first).wrapping_add(1) as usize;
                if d.len() != 6 + 6 * n {
                    return Err(Halt::Fails);
                }
                for i in 0..n as u32 {
                    s.cell((row, u32::from(first) + i), 0);
                }
            }
            0x00E5 => {
                let count = u16_at(d, 0)?;
                for i in 0..count {
                    let at = usize::from(2u16.wrapping_add(i.wrapping_mul(8)));
                    u16_at(d, at + 6)?;
                    est.bytes += 16;
                }
            }
            0x000A => break,
            0x0006 => {
                if d.len() < 20 {
                    return Err(Halt::Fails);
                }
                formula_at = rc(d)?;
                match d[6..14] {
                    [0x00, .., 0xFF, 0xFF] => {}
                    [0x01, .., 0xFF, 0xFF] | [0x03, .., 0xFF, 0xFF] => s.cell(formula_at, 0),
                    [
                        0x02,
                        _,
                        0x00 | 0x07 | 0x0F | 0x17 | 0x1D | 0x24 | 0x2A | 0x2B,
                        ..,
                        0xFF,
                        0xFF,
                    ] => s.cell(formula_at, 0),
                    [_, .., 0xFF, 0xFF] => return Err(Halt::Fails),
                    _ => s.cell(formula_at, 0),
                }
                let rgce = &d[20..];
                let f = formula_text(rgce, g)?;
                est.formula_work = est.formula_work.saturating_add(f.work);
                let len = match f.len {
                    Some(len) => len.max(rgce.len() / 2),
                    // "Unrecognised formula for cell (…): <error>"
                    None => 160,
                };
                s.formulas += 1;
                s.text += 2 * len as u64;
                Extent::add(&mut s.formula_extent, formula_at);
            }
            _ => {}
        }
        if est.formula_work > MAX_FORMULA_WORK {
            return Ok(());
        }
    }
    Ok(())
}

/// calamine's `parse_string` (XLUnicodeString): the bytes the string takes.
fn string_bound(r: &[u8], biff: Biff) -> Walk<usize> {
    let (high, expected) = match biff {
        Biff::Old => (None, 2),
        Biff::Biff8 => (Some(()), 3),
    };
    if r.len() < expected {
        if r.len() == 2 && u16_at(r, 0)? == 0 {
            return Ok(0);
        }
        return Err(Halt::Fails);
    }
    let cch = u16_at(r, 0)? as usize;
    let avail = r.len() - expected;
    let chars = match high {
        Some(()) if r[2] & 1 != 0 => cch.min(avail / 2),
        _ => cch.min(avail),
    };
    Ok(cch.max(2 * utf8_bound(chars)))
}

fn skip(rgce: &[u8], n: usize) -> Walk<&[u8]> {
    rgce.get(n..).ok_or(Halt::Fails)
}

/// The outcome of rebuilding one formula's text.
struct FormulaText {
    /// An upper bound of the text's length; None when calamine gives up on it
    /// (it then stores a short error text instead).
    len: Option<usize>,
    /// Byte moves spent (inserting into and splitting the text).
    work: u64,
}

/// calamine's `parse_formula`, following only the text's length, the stack of
/// positions and the work done. `Err(Fails)` where calamine panics.
fn formula_text(all: &[u8], g: &Globals) -> Walk<FormulaText> {
    let old = g.biff == Biff::Old;
    let cce = u16_at(all, 0)? as usize;
    let mut rgce = all.get(2..2 + cce).ok_or(Halt::Fails)?;
    let mut stack: Vec<usize> = Vec::new();
    let mut len = 0usize;
    let mut work = 0u64;
    let give_up = |work: u64| Ok(FormulaText { len: None, work });
    // Lengths pushed for references: `$` signs, at most 4 column letters for
    // a 16-bit column and 5 digits for a 16-bit row, plus separators.
    const REF: usize = 1 + 4 + 1 + 5;
    let sheet = |i: usize| g.sheet_name_len.get(i).copied().unwrap_or(5);
    while let Some((&ptg, rest)) = rgce.split_first() {
        rgce = rest;
        match ptg {
            0x3a | 0x5a | 0x7a => {
                let ixti = u16_at(rgce, 0)? as usize;
                u16_at(rgce, 4)?;
                let sh = g
                    .xtis
                    .get(ixti)
                    .and_then(|x| g.sheet_name_len.get(*x as usize))
                    .copied()
                    .unwrap_or(4);
                stack.push(len);
                len += sh + 1 + REF;
                rgce = skip(rgce, 6)?;
            }
            0x3b | 0x5b | 0x7b => {
                let ixti = u16_at(rgce, 0)? as usize;
                u16_at(rgce, 8)?;
                stack.push(len);
                len += sheet(ixti) + 1 + 2 * REF + 2;
                rgce = skip(rgce, 10)?;
            }
            0x3c | 0x5c | 0x7c | 0x3d | 0x5d | 0x7d => {
                let ixti = u16_at(rgce, 0)? as usize;
                stack.push(len);
                len += sheet(ixti) + 1 + 5;
                rgce = skip(
                    rgce,
                    if matches!(ptg, 0x3c | 0x5c | 0x7c) {
                        6
                    } else {
                        10
                    },
                )?;
            }
            0x01 => {
                stack.push(len);
                if rgce.len() < 4 {
                    return give_up(work);
                }
                rgce = &rgce[4..];
            }
            0x03..=0x11 => {
                let Some(e2) = stack.pop() else {
                    return give_up(work);
                };
                work += 2 * (len - e2) as u64 + 2;
                len += 2;
            }
            0x12 | 0x13 | 0x15 => {
                let Some(&e) = stack.last() else {
                    return give_up(work);
                };
                work += (len - e) as u64 + 1;
                len += if ptg == 0x15 { 2 } else { 1 };
            }
            0x14 => len += 1,
            0x16 => stack.push(len),
            0x17 => {
                stack.push(len);
                len += 2;
                let Some(&cch) = rgce.first() else {
                    return give_up(work);
                };
                let cch = cch as usize;
                if old {
                    if rgce.len() < 1 + cch {
                        return give_up(work);
                    }
                    rgce = &rgce[1 + cch..];
                } else {
                    let Some(&flags) = rgce.get(1) else {
                        return give_up(work);
                    };
                    let consumed = 1 + if flags & 1 != 0 { 2 * cch } else { cch };
                    if rgce.len() - 1 < consumed {
                        return give_up(work);
                    }
                    rgce = &rgce[1 + consumed..];
                }
                len += utf8_bound(cch);
            }
            0x18 => rgce = skip(rgce, 5)?,
            0x19 => {
                let etpg = *rgce.first().ok_or(Halt::Fails)?;
                rgce = &rgce[1..];
                match etpg {
                    0x01 | 0x02 | 0x08 | 0x20 | 0x21 => rgce = skip(rgce, 2)?,
                    0x04 => {
                        let n = u16_at(rgce, 0)? as usize + 1;
                        rgce = skip(rgce, 2 + 2 * n)?;
                    }
                    0x10 => {
                        rgce = skip(rgce, 2)?;
                        let Some(&e) = stack.last() else {
                            return give_up(work);
                        };
                        work += 2 * (len - e) as u64 + 5;
                        len += 5;
                    }
                    0x40 | 0x41 => {
                        let Some(&e) = stack.last() else {
                            return give_up(work);
                        };
                        let kind = *rgce.first().ok_or(Halt::Fails)?;
                        if kind > 6 {
                            return give_up(work);
                        }
                        let cch = *rgce.get(1).ok_or(Halt::Fails)? as usize;
                        // each space is one insert at `e`
                        work += (cch * (len - e) + cch * cch / 2 + cch) as u64;
                        len += cch;
                        rgce = &rgce[2..];
                    }
                    _ => return give_up(work),
                }
            }
            0x1C => {
                stack.push(len);
                let err = *rgce.first().ok_or(Halt::Fails)?;
                rgce = &rgce[1..];
                if !matches!(err, 0x00 | 0x07 | 0x0F | 0x17 | 0x1D | 0x24 | 0x2A | 0x2B) {
                    return give_up(work);
                }
                len += 13;
            }
            0x1D => {
                stack.push(len);
                rgce.first().ok_or(Halt::Fails)?;
                len += 5;
                rgce = &rgce[1..];
            }
            0x1E => {
                stack.push(len);
                u16_at(rgce, 0)?;
                len += 5;
                rgce = &rgce[2..];
            }
            0x1F => {
                stack.push(len);
                let b = rgce.get(..8).ok_or(Halt::Fails)?;
                let v = f64::from_le_bytes(b.try_into().expect("8 bytes"));
                len += v.to_string().len();
                rgce = &rgce[8..];
            }
            0x20 | 0x40 | 0x60 => {
                stack.push(len);
                len += 10;
                rgce = skip(rgce, 7)?;
            }
            0x21 | 0x22 | 0x41 | 0x42 | 0x61 | 0x62 => {
                let (iftab, argc) = if matches!(ptg, 0x22 | 0x42 | 0x62) {
                    let iftab = u16_at(rgce, 1)? as usize;
                    let argc = rgce[0] as usize;
                    rgce = &rgce[3..];
                    (iftab, argc)
                } else {
                    let iftab = u16_at(rgce, 0)? as usize;
                    if iftab >= FTAB_ARGC.len() {
                        return give_up(work);
                    }
                    rgce = &rgce[2..];
                    (iftab, FTAB_ARGC[iftab] as usize)
                };
                if stack.len() < argc {
                    return give_up(work);
                }
                let Some(&name) = FTAB_NAME_LEN.get(iftab) else {
                    return give_up(work);
                };
                if argc > 0 {
                    let start = stack[stack.len() - argc];
                    stack.truncate(stack.len() - argc);
                    work += 2 * (len - start) as u64 + argc as u64 * 16;
                    stack.push(start);
                    len += name as usize + 1 + argc;
                } else {
                    stack.push(len);
                    len += name as usize + 2;
                }
            }
            0x23 | 0x43 | 0x63 => {
                let i = (u32_at(rgce, 0)? as usize).wrapping_sub(1);
                stack.push(len);
                len += g.name_len.get(i).copied().unwrap_or(5);
                rgce = &rgce[4..];
            }
            0x24 | 0x44 | 0x64 => {
                stack.push(len);
                let n = if old { 3 } else { 4 };
                rgce.get(..n).ok_or(Halt::Fails)?;
                len += REF;
                rgce = &rgce[n..];
            }
            0x25 | 0x45 | 0x65 => {
                stack.push(len);
                let n = if old { 6 } else { 8 };
                rgce.get(..n).ok_or(Halt::Fails)?;
                len += 2 * REF + 1;
                rgce = &rgce[n..];
            }
            0x2A | 0x4A | 0x6A | 0x2B | 0x4B | 0x6B => {
                stack.push(len);
                len += 5;
                let n = match (ptg & 0x0F == 0x0A, old) {
                    (true, true) => 3,
                    (true, false) => 4,
                    (false, true) => 6,
                    (false, false) => 8,
                };
                rgce = skip(rgce, n)?;
            }
            0x39 | 0x59 => {
                stack.push(len);
                len += 10;
                rgce = skip(rgce, 6)?;
            }
            _ => return give_up(work),
        }
    }
    Ok(FormulaText {
        len: (stack.len() == 1).then_some(len),
        work,
    })
}

/// Byte lengths of calamine's `FTAB` function names (copied from calamine 0.38
/// `src/utils.rs`, MIT licence).
const FTAB_NAME_LEN: [u8; 485] = [
    5, 2, 4, 7, 3, 7, 3, 3, 3, 6, 2, 3, 5, 6, 5, 3, 3, 3, 4, 2, 4, 3, 2, 5, 3, 3, 4, 5, 6, 5, 4, 3,
    3, 5, 4, 5, 3, 2, 3, 3, 6, 4, 8, 4, 4, 6, 3, 4, 4, 6, 5, 6, 6, 4, 4, 6, 2, 2, 4, 3, 4, 4, 3, 4,
    5, 4, 4, 3, 5, 4, 7, 4, 6, 6, 3, 5, 4, 7, 6, 6, 6, 8, 6, 9, 5, 4, 4, 4, 8, 6, 5, 7, 6, 9, 11,
    9, 6, 5, 4, 4, 6, 7, 7, 5, 5, 5, 11, 8, 9, 3, 4, 4, 5, 5, 6, 4, 5, 5, 4, 7, 10, 4, 5, 9, 4, 4,
    5, 6, 8, 7, 1, 1, 5, 6, 5, 7, 5, 8, 6, 4, 9, 9, 3, 3, 3, 7, 7, 7, 8, 8, 4, 7, 8, 11, 14, 13,
    14, 8, 11, 14, 14, 10, 5, 7, 8, 5, 5, 4, 4, 6, 10, 3, 5, 5, 4, 8, 7, 4, 7, 9, 7, 4, 7, 7, 4, 8,
    13, 10, 12, 8, 9, 8, 4, 6, 4, 7, 5, 5, 9, 7, 10, 10, 0, 0, 8, 5, 7, 8, 5, 6, 4, 4, 7, 9, 3, 4,
    4, 0, 0, 7, 7, 5, 3, 4, 7, 6, 8, 6, 10, 4, 4, 4, 5, 5, 5, 4, 13, 8, 10, 11, 13, 15, 13, 8, 4,
    5, 10, 2, 5, 0, 0, 6, 9, 11, 14, 4, 13, 8, 11, 8, 14, 10, 9, 12, 12, 11, 10, 11, 12, 6, 8, 7,
    7, 9, 7, 6, 6, 10, 9, 4, 9, 5, 4, 6, 9, 5, 9, 8, 7, 11, 11, 6, 12, 8, 9, 7, 8, 11, 3, 6, 7, 5,
    7, 7, 8, 8, 7, 6, 5, 8, 5, 9, 7, 3, 5, 5, 5, 4, 5, 7, 7, 5, 4, 4, 5, 5, 5, 8, 10, 11, 4, 8, 4,
    0, 13, 9, 11, 5, 14, 15, 15, 14, 7, 7, 8, 5, 7, 10, 12, 17, 5, 7, 10, 12, 5, 11, 11, 8, 12, 9,
    8, 8, 4, 4, 7, 5, 6, 4, 8, 13, 9, 15, 12, 13, 16, 11, 13, 11, 8, 3, 9, 10, 18, 16, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 5, 5, 7, 5, 6, 4, 6, 7, 5, 5, 5, 10, 11, 9, 6, 7, 5, 9, 9, 10, 6, 8, 5,
    6, 6, 5, 6, 3, 4, 7, 7, 7, 7, 4, 4, 8, 8, 7, 8, 4, 9, 9, 7, 10, 10, 5, 5, 8, 8, 7, 6, 8, 7, 5,
    7, 8, 9, 8, 10, 7, 7, 7, 8, 9, 9, 9, 9, 9, 11, 7, 9, 8, 7, 7, 8, 7, 11, 3, 11, 3, 10, 13, 7,
    12, 7, 8, 6, 9, 10,
];

/// calamine's `FTAB_ARGC`: the fixed argument count of each built-in function.
const FTAB_ARGC: [u8; 485] = [
    255, 3, 1, 1, 255, 255, 255, 255, 1, 1, 0, 254, 255, 2, 3, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1,
    2, 3, 4, 2, 3, 1, 1, 0, 0, 255, 255, 1, 2, 3, 3, 3, 3, 3, 3, 255, 3, 2, 4, 4, 4, 4, 1, 1, 1, 5,
    5, 5, 5, 6, 3, 2, 0, 3, 3, 3, 1, 1, 1, 2, 1, 1, 1, 0, 1, 1, 1, 5, 2, 2, 3, 3, 1, 2, 0, 1, 1, 2,
    0, 1, 2, 2, 2, 0, 0, 1, 2, 1, 1, 255, 4, 4, 2, 7, 1, 1, 2, 2, 2, 4, 1, 1, 1, 1, 2, 2, 2, 1, 4,
    4, 1, 3, 1, 3, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 2, 2, 2, 2, 1, 1, 3, 4, 5, 3, 2, 2, 2, 255,
    255, 1, 4, 5, 5, 5, 5, 1, 3, 4, 3, 1, 1, 1, 1, 1, 2, 6, 6, 255, 2, 4, 1, 0, 0, 2, 2, 3, 2, 1,
    1, 1, 4, 255, 1, 2, 1, 2, 2, 3, 1, 3, 4, 255, 255, 3, 3, 2, 1, 3, 1, 1, 0, 0, 2, 3, 3, 4, 2, 2,
    3, 3, 2, 2, 1, 1, 3, 0, 0, 5, 3, 0, 7, 0, 1, 0, 3, 255, 255, 1, 1, 1, 1, 1, 1, 3, 11, 1, 0, 2,
    3, 5, 4, 4, 1, 0, 5, 5, 1, 0, 0, 1, 2, 2, 1, 255, 1, 1, 2, 3, 3, 1, 1, 1, 2, 3, 3, 3, 2, 255,
    5, 1, 5, 4, 2, 2, 2, 3, 3, 1, 3, 3, 3, 1, 1, 2, 4, 3, 2, 4, 3, 3, 3, 4, 1, 3, 1, 3, 1, 2, 3, 3,
    4, 2, 2, 2, 2, 2, 2, 3, 2, 2, 2, 2, 2, 2, 4, 4, 255, 255, 255, 255, 255, 255, 3, 2, 2, 2, 2, 3,
    255, 2, 2, 4, 4, 3, 255, 2, 9, 2, 3, 4, 1, 1, 255, 3, 2, 1, 2, 1, 4, 3, 1, 2, 2, 4, 5, 2, 128,
    2, 1, 255, 255, 255, 255, 255, 255, 255, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 255, 255, 3, 3, 4, 2,
    1, 2, 2, 2, 2, 2, 2, 1, 1, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 255, 255, 4,
    1, 1, 2, 2, 2, 1, 1, 2, 2, 1, 2, 2, 2, 2, 3, 3, 6, 6, 5, 5, 5, 5, 5, 3, 3, 3, 7, 7, 2, 2, 2, 2,
    6, 6, 2, 2, 3, 4, 4, 4, 4, 4, 4, 6, 6, 8, 8, 8, 8, 2, 2, 7, 7, 8, 8, 5, 3, 3, 255, 255, 255, 2,
    4, 5, 1, 2, 128, 129, 3, 129,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn record(typ: u16, data: &[u8]) -> Vec<u8> {
        let mut out = typ.to_le_bytes().to_vec();
        out.extend((data.len() as u16).to_le_bytes());
        out.extend(data);
        out
    }

    fn globals() -> Globals {
        Globals {
            biff: Biff::Biff8,
            sheets: Vec::new(),
            sheet_name_len: vec![6],
            name_len: Vec::new(),
            xtis: Vec::new(),
            strings: Vec::new(),
        }
    }

    #[test]
    fn directory_names_follow_a_byte_order_mark() {
        let le: Vec<u8> = "Book".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = "Book".encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(utf16_name(&le), "Book");
        assert_eq!(utf16_name(&[&[0xFF, 0xFE][..], &le].concat()), "Book");
        assert_eq!(utf16_name(&[&[0xFE, 0xFF][..], &be].concat()), "Book");
        assert_eq!(utf16_name(b"\xEF\xBB\xBFBook"), "Book");
    }

    #[test]
    fn formula_of_parentheses_costs_quadratic_work() {
        // PtgInt 1, then n PtgParen
        let n = 2000;
        let mut rgce = vec![0x1E, 1, 0];
        rgce.extend(std::iter::repeat_n(0x15, n));
        let mut all = (rgce.len() as u16).to_le_bytes().to_vec();
        all.extend(&rgce);
        let f = formula_text(&all, &globals()).ok().unwrap();
        assert_eq!(f.len, Some(5 + 2 * n));
        assert!(f.work > (n * n) as u64, "{}", f.work);
    }

    #[test]
    fn sum_of_two_cells_is_short() {
        // PtgRef A1, PtgRef B1, PtgAdd
        let rgce = [0x24, 0, 0, 0, 0xC0, 0x24, 0, 0, 1, 0xC0, 0x03];
        let mut all = (rgce.len() as u16).to_le_bytes().to_vec();
        all.extend(rgce);
        let f = formula_text(&all, &globals()).ok().unwrap();
        assert!(f.len.unwrap() < 30 && f.work < 40);
    }

    #[test]
    fn continues_past_the_limit_are_refused() {
        let mut stream = record(0x00FC, &[0; 8]);
        for _ in 0..MAX_CONTINUES + 2 {
            stream.extend(record(0x003C, &[]));
        }
        let mut it = Records { stream: &stream };
        assert!(matches!(it.next(), Some(Err(Halt::Refuse(_)))));
    }

    #[test]
    fn dimensions_of_a_billion_cells_are_refused() {
        // BOF, DIMENSIONS rows 0..2^31, columns 0..256, EOF
        let mut sheet = record(0x0809, &[0, 6, 0x10, 0]);
        let mut dims = Vec::new();
        dims.extend(0u32.to_le_bytes());
        dims.extend(0x8000_0000u32.to_le_bytes());
        dims.extend(0u16.to_le_bytes());
        dims.extend(256u16.to_le_bytes());
        dims.extend(0u16.to_le_bytes());
        sheet.extend(record(0x0200, &dims));
        sheet.extend(record(0x000A, &[]));
        let mut g = globals();
        g.sheets.push((0, "Sheet1".into()));
        let mut est = Estimate::default();
        let mut s = SheetWalk::default();
        let mut scanned = 0;
        walk_sheet(
            &sheet,
            &g,
            &mut s,
            &mut est,
            "Sheet1",
            &mut scanned,
            u64::MAX,
        )
        .ok()
        .unwrap();
        let hit = est.over(&Limits::default()).unwrap();
        assert_eq!(hit.rule, "sheet.too_large");
        assert!(hit.message.contains("Sheet1"), "{}", hit.message);
    }
}

//! Bytes in, sheets out: what a worker process runs on a file
//! (`zonestat::read::workbook::parse`, under the panic guard as in the
//! worker), in this process, then the form reading the parent does on the
//! sheets. A panic in calamine is an answer (the worker reports the file as
//! unreadable); a hang, an abort or a huge allocation is what the workers'
//! limits contain, and what the fuzzer reports (`-timeout`,
//! `-malloc_limit_mb`) so that it can be reported upstream. The form
//! reading must never panic.
//!
//! The first byte says how the rest is used: as a whole file (its type
//! sniffed as the reader does), or (to reach the XML parsers past the zip
//! layer, where random changes to compressed bytes rarely get) as one part
//! of an otherwise valid package: an xlsx sheet, an xlsx shared-string table
//! or an ods `content.xml`.
#![no_main]

use std::io::{Cursor, Write};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zip::write::SimpleFileOptions;
use zonestat::catalog::Catalogue;
use zonestat::read::form::{find_form, read_form};
use zonestat::read::guard::isolate;
use zonestat::read::workbook::{parse, sniff};

fn catalogue() -> &'static Catalogue {
    static CAT: OnceLock<Catalogue> = OnceLock::new();
    CAT.get_or_init(Catalogue::bundled)
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#;
const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
const WORKBOOK: &str = r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="湖开统1表" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#;
const SHEET: &str = r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row></sheetData></worksheet>"#;
const STRINGS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" uniqueCount="2"><si><t>湖开统1表</t></si><si><t>填报单位：湖州经济技术开发区</t></si></sst>"#;
const MANIFEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#;

/// A stored (uncompressed) zip of the parts.
fn package(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buf);
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in parts {
        zip.start_file(*name, stored).expect("start part");
        zip.write_all(data).expect("write part");
    }
    zip.finish().expect("finish zip");
    buf.into_inner()
}

fn xlsx(sheet: &[u8], strings: &[u8]) -> Vec<u8> {
    package(&[
        ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
        ("_rels/.rels", RELS.as_bytes()),
        ("xl/workbook.xml", WORKBOOK.as_bytes()),
        ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet),
        ("xl/sharedStrings.xml", strings),
    ])
}

fuzz_target!(|data: &[u8]| {
    let Some((&how, rest)) = data.split_first() else {
        return;
    };
    // (0-3: a whole file, as fuzz/seed.py writes .xlsx, .xls, .ods and other
    // files; the type is sniffed from the content all the same)
    let bytes = match how % 7 {
        0..=3 => rest.to_vec(),
        4 => xlsx(rest, STRINGS.as_bytes()),
        5 => xlsx(SHEET.as_bytes(), rest),
        _ => package(&[
            (
                "mimetype",
                b"application/vnd.oasis.opendocument.spreadsheet",
            ),
            ("META-INF/manifest.xml", MANIFEST.as_bytes()),
            ("content.xml", rest),
        ]),
    };
    let cat = catalogue();
    let kind = sniff(&bytes);
    // (a panic here is calamine's, and the worker's answer is file.unreadable)
    let Ok(Ok(opened)) = isolate(|| parse(&bytes, kind, &cat.limits)) else {
        return;
    };
    for sheet in &opened.sheets {
        if let Some((form, at)) = find_form(sheet, cat) {
            read_form(sheet, form, at, &cat.layout);
        }
    }
});

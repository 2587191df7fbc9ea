//! Documents made for the tests and benchmarks (feature `samples`, never in a Lambda): real PDFs and DOCX files with
//! a résumé's text, the adversarial corpus (truncated, encrypted, bombs, floods of operators, values and fonts, deep
//! nesting, cycles, wrong types, empty, the maximum size), each with what the reader must say about it, and the
//! costliest documents the reader still reads (at the edge of its budget).

use std::io::{Cursor, Write};

use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, Stream};
use route_registry::modules::resume::types::{ResumeType, MAX_RESUME_BYTES};

/// A résumé's text, `n` times over (each time a little different), with the usual headings.
pub fn resume_text(name: &str, n: usize) -> Vec<String> {
    let mut lines =
        vec![name.to_owned(), format!("{}@example.com · +1 555 0100", name.to_lowercase().replace(' ', "."))];
    lines.extend(["", "Summary", "Backend engineer who builds reliable platforms."].map(str::to_owned));
    lines.push("Experience".into());
    for i in 0..n.max(1) {
        lines.push(format!("Acme Corp {i} — Senior Engineer, 20{:02}–20{:02}", 10 + i % 10, 11 + i % 10));
        lines.push("Built the billing pipeline; cut its latency by half; led four engineers.".into());
    }
    lines.extend(
        ["Education", "BSc Computer Science, Example University", "Skills", "Rust, Postgres, AWS"].map(str::to_owned),
    );
    lines
}

fn content(lines: &[String]) -> Vec<u8> {
    let mut operations = vec![
        Operation::new("BT", vec![]),
        Operation::new("Tf", vec!["F1".into(), 11.into()]),
        Operation::new("TL", vec![14.into()]),
        Operation::new("Td", vec![50.into(), 790.into()]),
    ];
    for line in lines {
        // Helvetica's standard encoding: keep to ASCII (the em dash and dot are written as ASCII here).
        let ascii: String = line.chars().map(|c| if c.is_ascii() { c } else { '-' }).collect();
        operations.push(Operation::new("Tj", vec![Object::string_literal(ascii)]));
        operations.push(Operation::new("T*", vec![]));
    }
    operations.push(Operation::new("ET", vec![]));
    Content { operations }.encode().unwrap_or_default()
}

/// A PDF document of `pages` pages, each with `lines` as text, compressed like a real one.
pub fn pdf_document(lines: &[String], pages: usize) -> Document {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font = doc.add_object(dictionary! {"Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica"});
    let resources = doc.add_object(dictionary! {"Font" => dictionary! {"F1" => font}});
    let mut kids = Vec::new();
    for _ in 0..pages.max(1) {
        let contents = doc.add_object(Stream::new(dictionary! {}, content(lines)));
        let page = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => contents, "Resources" => resources,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        });
        kids.push(page.into());
    }
    let count = kids.len() as i64;
    doc.objects.insert(pages_id, Object::Dictionary(dictionary! {"Type" => "Pages", "Kids" => kids, "Count" => count}));
    let catalog = doc.add_object(dictionary! {"Type" => "Catalog", "Pages" => pages_id});
    doc.trailer.set("Root", catalog);
    doc.compress();
    doc
}

fn save(doc: &mut Document) -> Vec<u8> {
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap_or_default();
    out
}

/// A real PDF with `lines` as its text.
pub fn pdf(lines: &[String]) -> Vec<u8> {
    pdf_pages(lines, 1)
}

/// A real PDF of `pages` pages, each with `lines` as its text.
pub fn pdf_pages(lines: &[String], pages: usize) -> Vec<u8> {
    save(&mut pdf_document(lines, pages))
}

/// A real DOCX (the parts Word needs to open it) with one paragraph per line.
pub fn docx(lines: &[String]) -> Vec<u8> {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let body: String = lines
        .iter()
        .map(|l| format!(r#"<w:p><w:r><w:t xml:space="preserve">{}</w:t></w:r></w:p>"#, escape(l)))
        .collect();
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}<w:sectPr/></w:body></w:document>"#
    );
    zip_of(&[
        ("[Content_Types].xml", CONTENT_TYPES.as_bytes().to_vec()),
        ("_rels/.rels", RELS.as_bytes().to_vec()),
        ("word/document.xml", document.into_bytes()),
    ])
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#;
const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#;

/// A zip of these entries, deflated.
pub fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    for (name, data) in entries {
        if zip.start_file(*name, options).is_ok() {
            let _ = zip.write_all(data);
        }
    }
    zip.finish().map(Cursor::into_inner).unwrap_or_default()
}

/// A PDF of about `size` bytes: a résumé's text and an unreferenced stream of padding.
pub fn pdf_of_size(lines: &[String], size: usize) -> Vec<u8> {
    let mut doc = pdf_document(lines, 1);
    let base = save(&mut doc.clone()).len();
    let pad = size.saturating_sub(base + 64);
    let mut padded = doc.clone();
    padded.add_object(Stream::new(dictionary! {}, vec![b'x'; pad]).with_compression(false));
    let mut out = save(&mut padded);
    if out.len() > size {
        let over = out.len() - size;
        padded = doc.clone();
        padded.add_object(Stream::new(dictionary! {}, vec![b'x'; pad.saturating_sub(over)]).with_compression(false));
        out = save(&mut padded);
    }
    doc.objects.clear();
    out
}

/// A one-page résumé PDF whose page draws `extra` after its text (compressed, as a real page is), and whose font
/// carries `font_map` as its `ToUnicode` map when given; `pages` pages alike.
pub fn pdf_drawing(lines: &[String], pages: usize, extra: &[u8], font_map: Option<Vec<u8>>) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut font = dictionary! {"Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica"};
    if let Some(map) = font_map {
        let mut map = Stream::new(dictionary! {}, map);
        let _ = map.compress();
        font.set("ToUnicode", doc.add_object(map));
    }
    let font = doc.add_object(font);
    let resources = doc.add_object(dictionary! {"Font" => dictionary! {"F1" => font}});
    let mut drawn = content(lines);
    drawn.push(b'\n');
    drawn.extend_from_slice(extra);
    let mut stream = Stream::new(dictionary! {}, drawn);
    let _ = stream.compress();
    let contents = doc.add_object(stream);
    let kids: Vec<Object> = (0..pages.max(1))
        .map(|_| {
            doc.add_object(dictionary! {
                "Type" => "Page", "Parent" => pages_id, "Contents" => contents, "Resources" => resources,
                "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            })
            .into()
        })
        .collect();
    let count = kids.len() as i64;
    doc.objects.insert(pages_id, Object::Dictionary(dictionary! {"Type" => "Pages", "Kids" => kids, "Count" => count}));
    let catalog = doc.add_object(dictionary! {"Type" => "Catalog", "Pages" => pages_id});
    doc.trailer.set("Root", catalog);
    save(&mut doc)
}

/// A `ToUnicode` character map of about `size` bytes (single-byte codes to letters).
pub fn font_map(size: usize) -> Vec<u8> {
    let mut map = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /X def\n\
        1 begincodespacerange <00> <FF> endcodespacerange\n"
        .to_vec();
    let mut code = 0usize;
    while map.len() < size {
        map.extend_from_slice(b"100 beginbfchar\n");
        for _ in 0..100 {
            map.extend_from_slice(format!("<{:02X}> <{:04X}>\n", code % 256, 0x41 + code % 26).as_bytes());
            code += 1;
        }
        map.extend_from_slice(b"endbfchar\n");
    }
    map.extend_from_slice(b"endcmap CMapName currentdict /CMap defineresource pop end end");
    map
}

/// The costliest documents the reader still reads, each at the edge of one of its bounds: whitespace and comments
/// to just under the content budget, operators to just under the token budget, a large font map on every one of
/// 100 pages. Each must end `parsed` (and, in the benchmark, cost well under a second).
pub fn costly() -> Vec<(&'static str, Vec<u8>)> {
    use crate::pdf::{MAX_CONTENT_BYTES, MAX_TOKENS};
    let text = resume_text("Costly Reader", 1);
    let room = MAX_CONTENT_BYTES - 64 * 1024;
    vec![
        ("whitespace.pdf", pdf_drawing(&text, 1, &vec![b' '; room], None)),
        ("comments.pdf", pdf_drawing(&text, 1, &b"% a comment line\n".repeat(room / 17), None)),
        ("q-operators.pdf", pdf_drawing(&text, 1, &b"q Q ".repeat(MAX_TOKENS / 2 - 2_000), None)),
        ("values.pdf", pdf_drawing(&text, 1, &b"[1 (a) /N] ".repeat(MAX_TOKENS / 4 - 1_000), None)),
        ("font-map-on-100-pages.pdf", pdf_drawing(&text, 100, b"", Some(font_map(900 * 1024)))),
    ]
}

/// One file of the adversarial corpus: its name, the type it is uploaded as, its bytes, and a part of the reason
/// the reader must give.
#[derive(Debug, Clone)]
pub struct Hostile {
    pub name: &'static str,
    pub declared: ResumeType,
    pub bytes: Vec<u8>,
    pub reason: &'static str,
}

/// The adversarial corpus. Each file ends `failed` with a reason containing `reason`.
pub fn hostile() -> Vec<Hostile> {
    let text = resume_text("Mallory Hostile", 3);
    let good = pdf(&text);
    let mut out = Vec::new();
    let mut add = |name, declared, bytes, reason| out.push(Hostile { name, declared, bytes, reason });

    add("truncated.pdf", ResumeType::Pdf, good[..good.len() / 3].to_vec(), "");
    let mut encrypted = pdf_document(&text, 1);
    let encrypt = encrypted.add_object(dictionary! {
        "Filter" => "Standard", "V" => 1, "R" => 2, "P" => -4,
        "O" => Object::string_literal(vec![7u8; 32]), "U" => Object::string_literal(vec![9u8; 32]),
    });
    encrypted.trailer.set("Encrypt", encrypt);
    encrypted.trailer.set("ID", vec![Object::string_literal(vec![1u8; 16]), Object::string_literal(vec![1u8; 16])]);
    add("encrypted.pdf", ResumeType::Pdf, save(&mut encrypted), "encrypted");

    let mut nested = b"%PDF-1.4\n1 0 obj\n".to_vec();
    nested.extend(std::iter::repeat_n(b'[', 200_000));
    nested.extend(std::iter::repeat_n(b']', 200_000));
    nested.extend(b"\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
    add("deeply-nested.pdf", ResumeType::Pdf, nested, "");

    let mut bomb = pdf_document(&text, 1);
    let page = *bomb.get_pages().values().next().unwrap_or(&(0, 0));
    let mut huge = Stream::new(dictionary! {}, vec![b' '; 64 * 1024 * 1024]);
    let _ = huge.compress();
    let huge = bomb.add_object(huge);
    if let Ok(Object::Dictionary(d)) = bomb.get_object_mut(page) {
        d.set("Contents", huge);
    }
    add("flate-bomb.pdf", ResumeType::Pdf, save(&mut bomb), "draw more than");

    let mut cycle = pdf_document(&text, 1);
    if let Ok(pages) = cycle.catalog().and_then(|c| c.get(b"Pages")).and_then(Object::as_reference) {
        if let Ok(Object::Dictionary(d)) = cycle.get_object_mut(pages) {
            d.set("Kids", vec![pages.into()]);
        }
    }
    add("page-tree-cycle.pdf", ResumeType::Pdf, save(&mut cycle), "");

    add("too-many-pages.pdf", ResumeType::Pdf, save(&mut pdf_document(&text[..2], 150)), "150 pages");

    let bomb_xml = {
        let mut xml = br#"<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>"#.to_vec();
        xml.extend(std::iter::repeat_n(b'a', 64 * 1024 * 1024));
        xml.extend(b"</w:t></w:r></w:p></w:body></w:document>");
        xml
    };
    add("zip-bomb.docx", ResumeType::Docx, zip_of(&[("word/document.xml", bomb_xml)]), "expands to more than");
    let many: Vec<(String, Vec<u8>)> = (0..2_000).map(|i| (format!("part{i}.xml"), Vec::new())).collect();
    let many: Vec<(&str, Vec<u8>)> = many.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
    add("many-entries.docx", ResumeType::Docx, zip_of(&many), "2000 parts");
    add("not-a-docx.docx", ResumeType::Docx, zip_of(&[("readme.txt", b"hello".to_vec())]), "no word/document.xml");
    add(
        "malformed-xml.docx",
        ResumeType::Docx,
        zip_of(&[("word/document.xml", b"<w:document><w:t>open</w:x>".to_vec())]),
        "malformed",
    );
    let truncated_docx = docx(&text);
    add("truncated.docx", ResumeType::Docx, truncated_docx[..truncated_docx.len() / 2].to_vec(), "not a readable DOCX");

    add("image.pdf", ResumeType::Pdf, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(), "PNG image");
    add("resume.doc", ResumeType::Docx, b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0".to_vec(), "old Word document (.doc)");
    add("pdf-as-text.txt", ResumeType::Text, good.clone(), "but is a PDF");
    add("binary.txt", ResumeType::Text, vec![0, 1, 2, 3, 0, 255], "binary");
    add("empty.txt", ResumeType::Text, Vec::new(), "empty");
    add("too-much-text.txt", ResumeType::Text, "word ".repeat(MAX_RESUME_BYTES as usize / 5).into_bytes(), "more than");
    add("scanned.pdf", ResumeType::Pdf, pdf(&[]), "no text");

    // Floods: each inflates from kilobytes to what would take the reader seconds, and is refused before it is
    // decoded.
    let flood = |extra: &[u8], map| pdf_drawing(&text, 1, extra, map);
    add("operator-flood.pdf", ResumeType::Pdf, flood(&b"q ".repeat(7 << 20), None), "draw more than");
    add("token-flood.pdf", ResumeType::Pdf, flood(&b"q Q ".repeat(300_000), None), "drawing instructions");
    add("deep-content.pdf", ResumeType::Pdf, flood(&[b"[".repeat(40), b"]".repeat(40)].concat(), None), "levels deep");
    add("font-map-bomb.pdf", ResumeType::Pdf, flood(b"", Some(font_map(5 << 20))), "character maps");
    add("font-flood.pdf", ResumeType::Pdf, font_flood(&text, 80), "fonts");
    out
}

/// A one-page PDF that sets `fonts` different fonts, each with a small map.
fn font_flood(lines: &[String], fonts: usize) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut names = lopdf::Dictionary::new();
    let mut drawn = b"BT 11 TL 50 790 Td".to_vec();
    for i in 0..fonts {
        let mut map = Stream::new(dictionary! {}, font_map(512));
        let _ = map.compress();
        let map = doc.add_object(map);
        let font = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "ToUnicode" => map,
        });
        names.set(format!("F{i}"), font);
        drawn
            .extend_from_slice(format!(" /F{i} 11 Tf ({}) Tj T*", lines.first().map_or("", String::as_str)).as_bytes());
    }
    drawn.extend_from_slice(b" ET");
    let resources = doc.add_object(dictionary! {"Font" => names});
    let contents = doc.add_object(Stream::new(dictionary! {}, drawn));
    let page = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => contents, "Resources" => resources,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {"Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1}),
    );
    let catalog = doc.add_object(dictionary! {"Type" => "Catalog", "Pages" => pages_id});
    doc.trailer.set("Root", catalog);
    save(&mut doc)
}

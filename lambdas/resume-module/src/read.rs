//! Reading a résumé's document: what it is (by its content, never its name or declared type alone) and its text.
//! Every input is assumed hostile: a refusal says why in words the owner can act on, and every cost is bounded
//! here (pages, entries, expanded sizes, characters) before the child process's hard limits
//! ([`crate::READER_LIMITS`]) catch anything these miss.
//!
//! - PDF through `lopdf`, with every cost bounded by [`crate::pdf`]'s budget (pages, content, tokens counted before
//!   they are decoded, fonts), so a document's cost follows its size.
//! - DOCX through `zip` and `quick-xml`: at most [`MAX_ENTRIES`] entries, `word/document.xml` read to
//!   [`MAX_XML_BYTES`] whatever its header claims, the text of its runs, tabs, breaks and paragraphs. Entities other
//!   than XML's own are not expanded (no DTD is read).
//! - Plain text: UTF-8 (a byte-order mark is dropped), UTF-16 with a byte-order mark, or Windows-1252 when it is
//!   not UTF-8 and has no NUL byte.
//!
//! The text is normalised for storage (line ends, no control characters, which Postgres' `jsonb` refuses in part)
//! and holds at most [`MAX_TEXT_CHARS`] characters.

use std::io::{Cursor, Read};

use route_registry::modules::resume::types::ResumeType;

/// The most entries a DOCX may have (Word writes a dozen or two).
pub const MAX_ENTRIES: usize = 1_000;
/// The largest `word/document.xml`, expanded (a long résumé's is well under a megabyte).
pub const MAX_XML_BYTES: u64 = 32 * 1024 * 1024;
/// The most characters of text kept (a résumé has a few thousand).
pub const MAX_TEXT_CHARS: usize = 200_000;

/// What a document is, by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pdf,
    Docx,
    Text,
}

impl Kind {
    pub fn resume_type(self) -> ResumeType {
        match self {
            Kind::Pdf => ResumeType::Pdf,
            Kind::Docx => ResumeType::Docx,
            Kind::Text => ResumeType::Text,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Pdf => "a PDF",
            Kind::Docx => "a DOCX",
            Kind::Text => "plain text",
        }
    }
}

/// Formats that are not a résumé here, by their first bytes, with what to tell the owner.
const OTHER_FORMATS: &[(&[u8], &str)] = &[
    (b"\x89PNG", "it is a PNG image, not a PDF, a DOCX or plain text"),
    (b"\xFF\xD8\xFF", "it is a JPEG image, not a PDF, a DOCX or plain text"),
    (b"GIF8", "it is a GIF image, not a PDF, a DOCX or plain text"),
    (b"II*\x00", "it is a TIFF image, not a PDF, a DOCX or plain text"),
    (b"MM\x00*", "it is a TIFF image, not a PDF, a DOCX or plain text"),
    (
        b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
        "it is an old Word document (.doc) or a password-protected Office file: save it as DOCX or PDF, without a password",
    ),
    (b"{\\rtf", "it is an RTF document: save it as DOCX or PDF"),
    (b"\x1F\x8B", "it is a gzip archive, not a PDF, a DOCX or plain text"),
    (b"7z\xBC\xAF\x27\x1C", "it is a 7-Zip archive, not a PDF, a DOCX or plain text"),
    (b"Rar!", "it is a RAR archive, not a PDF, a DOCX or plain text"),
    (b"\x7FELF", "it is a program, not a PDF, a DOCX or plain text"),
];

/// What `bytes` is, or why it is none of the three.
pub fn detect(bytes: &[u8]) -> Result<Kind, String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    // PDF readers accept the header within the first kilobyte.
    if bytes[..bytes.len().min(1024)].windows(5).any(|w| w == b"%PDF-") {
        return Ok(Kind::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Ok(Kind::Docx);
    }
    if let Some((_, reason)) = OTHER_FORMATS.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return Err((*reason).to_owned());
    }
    Ok(Kind::Text)
}

/// The text of a document uploaded as `declared`: its content must be what was declared.
pub fn read(declared: ResumeType, bytes: &[u8]) -> Result<(Kind, String), String> {
    let kind = detect(bytes)?;
    if kind.resume_type() != declared {
        return Err(format!(
            "it was created as {} but is {}: create the résumé with the type of the file",
            declared.media_type(),
            kind.name()
        ));
    }
    let raw = match kind {
        Kind::Pdf => crate::pdf::text(bytes)?,
        Kind::Docx => docx_text(bytes)?,
        Kind::Text => plain_text(bytes)?,
    };
    let text = normalise(&raw)?;
    if text.trim().is_empty() {
        return Err(match kind {
            Kind::Pdf => "it has no text to read (a scanned image?): upload a PDF with text, or a DOCX".into(),
            _ => "it has no text".into(),
        });
    }
    Ok((kind, text))
}

pub(crate) fn too_long() -> String {
    format!("it has more than {MAX_TEXT_CHARS} characters of text; a résumé has a few thousand")
}

/// An error message cut to a readable length.
pub(crate) fn short(message: &str) -> String {
    let mut s: String = message.chars().take(160).collect();
    if s.len() < message.len() {
        s.push('…');
    }
    s
}

fn docx_text(bytes: &[u8]) -> Result<String, String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("it is not a readable DOCX (a damaged zip archive: {})", short(&e.to_string())))?;
    if archive.len() > MAX_ENTRIES {
        return Err(format!("it is not a DOCX: it has {} parts, and Word writes a few dozen", archive.len()));
    }
    let mut entry = match archive.by_name("word/document.xml") {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => {
            return Err("it is a zip archive but not a DOCX (it has no word/document.xml)".into())
        }
        Err(e) if e.to_string().to_ascii_lowercase().contains("password") => {
            return Err("it is encrypted (password-protected): upload a copy without a password".into())
        }
        Err(e) => return Err(format!("it is not a readable DOCX ({})", short(&e.to_string()))),
    };
    // The header's size may lie: read one byte past the bound, whatever it says.
    let mut xml = Vec::new();
    (&mut entry)
        .take(MAX_XML_BYTES + 1)
        .read_to_end(&mut xml)
        .map_err(|e| format!("it is not a readable DOCX ({})", short(&e.to_string())))?;
    if xml.len() as u64 > MAX_XML_BYTES {
        return Err(format!(
            "its text expands to more than {} MiB; a résumé's is well under one",
            MAX_XML_BYTES / 1024 / 1024
        ));
    }
    let xml = String::from_utf8(xml).map_err(|_| "it is not a readable DOCX (its text is not UTF-8)".to_owned())?;
    document_xml_text(&xml)
}

/// The text of a WordprocessingML body: runs' text (`w:t`, and `a:t` in shapes), tabs, breaks, paragraph ends.
pub fn document_xml_text(xml: &str) -> Result<String, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().trim_text(false);
    let mut out = String::new();
    let mut in_text = 0usize;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("it is not a readable DOCX (its XML is malformed: {})", short(&e.to_string())))?;
        match event {
            Event::Start(e) if e.local_name().as_ref() == "t" => in_text += 1,
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_text = in_text.saturating_sub(1),
                "p" => out.push('\n'),
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                "tab" => out.push('\t'),
                "br" | "cr" | "p" => out.push('\n'),
                _ => {}
            },
            Event::Text(t) if in_text > 0 => out.push_str(&t.xml10_content()),
            Event::CData(t) if in_text > 0 => out.push_str(&t.into_inner()),
            Event::GeneralRef(r) if in_text > 0 => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    out.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                    out.push_str(s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        if out.len() > MAX_TEXT_CHARS * 4 {
            return Err(too_long());
        }
    }
    Ok(out)
}

fn plain_text(bytes: &[u8]) -> Result<String, String> {
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom..]);
        if had_errors {
            return Err(format!("it is not valid {} text", encoding.name()));
        }
        return Ok(text.into_owned());
    }
    if bytes.contains(&0) {
        return Err("it is not a PDF, a DOCX or plain text (it has binary content)".into());
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_owned()),
        Err(_) => {
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
            Ok(text.into_owned())
        }
    }
}

/// Line ends as `\n`, no control characters but tabs and line ends, no trailing spaces, at most two blank lines in
/// a row, at most [`MAX_TEXT_CHARS`] characters.
pub fn normalise(raw: &str) -> Result<String, String> {
    let unified = raw.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(unified.len().min(MAX_TEXT_CHARS * 4));
    let mut blank_run = 0;
    let mut chars = 0usize;
    for line in unified.split('\n') {
        let clean: String = line
            .chars()
            .map(|c| if c == '\u{000C}' || c == '\u{00A0}' { ' ' } else { c })
            .filter(|c| *c == '\t' || !c.is_control())
            .filter(|c| !matches!(c, '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}'))
            .collect();
        let clean = clean.trim_end();
        if clean.is_empty() {
            blank_run += 1;
            if blank_run > 2 || out.is_empty() {
                continue;
            }
        } else {
            blank_run = 0;
        }
        chars += clean.chars().count() + 1;
        if chars > MAX_TEXT_CHARS {
            return Err(too_long());
        }
        out.push_str(clean);
        out.push('\n');
    }
    Ok(out.trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_decides_what_a_file_is() {
        assert_eq!(detect(b"%PDF-1.7\n"), Ok(Kind::Pdf));
        assert_eq!(detect(b"PK\x03\x04rest"), Ok(Kind::Docx));
        assert_eq!(detect(b"Jane Doe\nSkills"), Ok(Kind::Text));
        assert!(detect(b"").unwrap_err().contains("empty"));
        assert!(detect(b"\x89PNG\r\n\x1a\n").unwrap_err().contains("PNG image"));
        assert!(detect(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1").unwrap_err().contains(".doc"));
    }

    #[test]
    fn a_declared_type_that_is_not_the_content_is_refused() {
        let e = read(ResumeType::Pdf, b"Jane Doe\nExperience\nAcme").unwrap_err();
        assert!(e.contains("created as application/pdf but is plain text"), "{e}");
    }

    #[test]
    fn text_is_decoded_and_normalised() {
        let (_, text) = read(ResumeType::Text, b"\xEF\xBB\xBFJane\r\n\r\n\r\n\r\nSkills\x07 \nRust").unwrap();
        assert_eq!(text, "Jane\n\n\nSkills\nRust");
        let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain("Zoë".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(read(ResumeType::Text, &utf16).unwrap().1, "Zoë");
        assert_eq!(read(ResumeType::Text, b"Zo\xEB").unwrap().1, "Zoë");
        assert!(read(ResumeType::Text, b"a\x00b").unwrap_err().contains("binary"));
    }

    #[test]
    fn docx_text_keeps_runs_tabs_breaks_and_paragraphs_only() {
        let xml = r#"<?xml version="1.0"?><w:document xmlns:w="w"><w:body>
            <w:p><w:r><w:t>Jane</w:t></w:r><w:r><w:tab/><w:t xml:space="preserve"> Doe &amp; co &#x263A;</w:t></w:r></w:p>
            <w:p><w:r><w:instrText>HYPERLINK x</w:instrText><w:t>Skills</w:t><w:br/><w:t>Rust</w:t></w:r></w:p>
            </w:body></w:document>"#;
        assert_eq!(document_xml_text(xml).unwrap(), "Jane\t Doe & co ☺\nSkills\nRust\n");
        let e = document_xml_text("<w:p><w:t>open</w:x></w:p>").unwrap_err();
        assert!(e.contains("malformed"), "{e}");
    }

    #[test]
    fn too_much_text_is_refused() {
        let long = "word ".repeat(MAX_TEXT_CHARS / 5 + 10);
        assert!(normalise(&long).unwrap_err().contains("more than"));
    }
}

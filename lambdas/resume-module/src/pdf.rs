//! Reading a PDF's text with every cost bounded by the document's size: pages, content decompressed, tokens counted
//! before they are decoded, nesting, fonts and their maps. Decoding costs 0.1–0.6 µs per token, and a 15 KB file can
//! inflate to 16 MiB of `q` operators (seven million operations, 11 s of CPU in a release build); a font's
//! `ToUnicode` map of 900 KB read again for each of 100 pages cost 3.9 s. So the reader counts a page's content in one
//! pass over its bytes before decoding it, reads each font's encoding once per document, and charges both to one
//! budget per document ([`MAX_CONTENT_BYTES`], [`MAX_TOKENS`], [`MAX_FONT_BYTES`]); BENCHMARKS.md, "Résumé
//! processing", has what the costliest documents within it take.
//!
//! The count follows the content stream syntax (ISO 32000-1 §7.2, §7.8.2) only as far as counting needs: comments,
//! literal strings (nested parentheses and escapes), hex strings, names, numbers and keywords, arrays and
//! dictionaries (their depth), and inline images (`BI … ID <data> EI`, whose data is skipped). Text is what the
//! text-showing operators show (`Tj`, `TJ`, `'`, `"`), a line break at `T*`, `'`, `"` and `ET`, a space for a
//! `TJ` adjustment wider than a tenth of an em.

use std::collections::HashMap;

use lopdf::content::Content;
use lopdf::{Dictionary, Document, Encoding, Object};

use crate::read::{short, too_long, MAX_TEXT_CHARS};

/// A decompressed stream's largest size while the document loads (object streams; images are never decoded).
pub const MAX_STREAM_BYTES: usize = 16 * 1024 * 1024;
/// The most pages read (a résumé has a few).
pub const MAX_PAGES: usize = 100;
/// The most content, decompressed, of all pages together (a text page draws 5–50 KB).
pub const MAX_CONTENT_BYTES: usize = 8 * 1024 * 1024;
/// The most tokens (operations and operands) of all pages together (a text page holds a few thousand).
pub const MAX_TOKENS: usize = 500_000;
/// The deepest nesting of arrays and dictionaries in a page's content (marked content nests two or three).
pub const MAX_CONTENT_DEPTH: usize = 32;
/// The most fonts read (a résumé uses a handful).
pub const MAX_FONTS: usize = 64;
/// The most font data read, decompressed: every used font's `ToUnicode` and encoding maps together (a subset
/// font's map is a few kilobytes).
pub const MAX_FONT_BYTES: usize = 4 * 1024 * 1024;

/// A PDF's text, or why it cannot be read (in words for its owner).
pub fn text(bytes: &[u8]) -> Result<String, String> {
    let options = lopdf::LoadOptions { max_decompressed_size: Some(MAX_STREAM_BYTES), ..Default::default() };
    let encrypted = || "it is encrypted (password-protected): upload a copy without a password".to_owned();
    let doc = match Document::load_mem_with_options(bytes, options) {
        Ok(doc) => doc,
        Err(e) => {
            let message = e.to_string().to_ascii_lowercase();
            if message.contains("decrypt") || message.contains("encrypt") {
                return Err(encrypted());
            }
            return Err(format!("it is not a readable PDF ({})", short(&e.to_string())));
        }
    };
    if doc.is_encrypted() || doc.trailer.get(b"Encrypt").is_ok() {
        return Err(encrypted());
    }
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err("it is not a readable PDF (it has no pages)".into());
    }
    if pages.len() > MAX_PAGES {
        return Err(format!("it has {} pages; a résumé is read up to {MAX_PAGES}", pages.len()));
    }
    let mut reader = Reader { doc: &doc, budget: Budget::default(), encodings: HashMap::new(), text: String::new() };
    let mut failures = Vec::new();
    for (&number, &page) in &pages {
        match reader.page(number, page) {
            Ok(()) => {}
            Err(Failed::Page(e)) => failures.push(e),
            Err(Failed::Document(refusal)) => return Err(refusal),
        }
    }
    if reader.text.trim().is_empty() {
        if let Some(first) = failures.first() {
            return Err(format!("its pages could not be read ({})", short(first)));
        }
    }
    Ok(reader.text)
}

/// Why a page gave no text: the page alone (its content does not decode: the next page is read), or the whole
/// document (over a bound: it is refused, with the reason).
enum Failed {
    Page(String),
    Document(String),
}

/// What the document may still spend.
struct Budget {
    content_bytes: usize,
    tokens: usize,
    fonts: usize,
    font_bytes: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { content_bytes: MAX_CONTENT_BYTES, tokens: MAX_TOKENS, fonts: MAX_FONTS, font_bytes: MAX_FONT_BYTES }
    }
}

struct Reader<'a> {
    doc: &'a Document,
    budget: Budget,
    /// Each font's encoding, read once (by the font dictionary's address: the document does not move).
    encodings: HashMap<*const Dictionary, Option<Encoding<'a>>>,
    text: String,
}

impl<'a> Reader<'a> {
    /// Reads one page's text into `self.text`: its content counted and charged first, then decoded one operation at
    /// a time.
    fn page(&mut self, number: u32, page: lopdf::ObjectId) -> Result<(), Failed> {
        let content = match self.doc.get_page_content_with_limit(page, self.budget.content_bytes) {
            Ok(content) => content,
            Err(lopdf::Error::Decompress(_)) => {
                return Err(Failed::Document(format!(
                    "its pages draw more than {} MiB; a résumé's draw kilobytes",
                    MAX_CONTENT_BYTES >> 20
                )))
            }
            Err(e) => return Err(Failed::Page(e.to_string())),
        };
        self.budget.content_bytes -= content.len().min(self.budget.content_bytes);
        let counted = count(&content);
        if counted.tokens > self.budget.tokens {
            return Err(Failed::Document(format!(
                "its pages hold more than {MAX_TOKENS} drawing instructions and values; a résumé's page holds a few \
                 thousand"
            )));
        }
        self.budget.tokens -= counted.tokens;
        if counted.depth > MAX_CONTENT_DEPTH {
            return Err(Failed::Document(format!(
                "page {number} nests {} levels deep; a page nests a few",
                counted.depth
            )));
        }
        let fonts = self.doc.get_page_fonts(page).map_err(|e| Failed::Page(e.to_string()))?;
        // The current font, by its dictionary's address (its encoding is in `self.encodings`).
        let mut font: Option<*const Dictionary> = None;
        let mut failure = None;
        for operation in Content::decode_iter(&content) {
            let operation = operation.map_err(|e| Failed::Page(e.to_string()))?;
            let operands = &operation.operands;
            let operator = operation.operator.as_str();
            if operator == "Tf" {
                font = match operands.first().and_then(|o| o.as_name().ok()).and_then(|name| fonts.get(name)) {
                    Some(&dictionary) => Some(self.read_encoding(dictionary)?),
                    None => None,
                };
                continue;
            }
            if matches!(operator, "'" | "\"" | "T*" | "ET") && !self.text.is_empty() && !self.text.ends_with('\n') {
                self.text.push('\n');
            }
            let shown = match operator {
                "Tj" | "TJ" | "'" => operands.as_slice(),
                "\"" => operands.get(2..).unwrap_or_default(),
                _ => continue,
            };
            if let Some(encoding) = font.and_then(|f| self.encodings[&f].as_ref()) {
                show(&mut self.text, encoding, shown, &mut failure);
            }
            if self.text.len() > MAX_TEXT_CHARS * 4 {
                return Err(Failed::Document(too_long()));
            }
        }
        match failure {
            Some(e) if self.text.trim().is_empty() => Err(Failed::Page(e)),
            _ => Ok(()),
        }
    }

    /// Reads a font's encoding once per document, charged to the budget (its maps' decompressed size); answers the
    /// font's key in `self.encodings`.
    fn read_encoding(&mut self, font: &'a Dictionary) -> Result<*const Dictionary, Failed> {
        let key: *const Dictionary = font;
        if self.encodings.contains_key(&key) {
            return Ok(key);
        }
        if self.budget.fonts == 0 {
            return Err(Failed::Document(format!("it uses more than {MAX_FONTS} fonts; a résumé uses a few")));
        }
        self.budget.fonts -= 1;
        let over = || {
            Failed::Document(format!(
                "its fonts' character maps take more than {} MiB; a résumé's take kilobytes",
                MAX_FONT_BYTES >> 20
            ))
        };
        for map in [&b"ToUnicode"[..], b"Encoding"] {
            if let Ok(stream) = font.get_deref(map, self.doc).and_then(Object::as_stream) {
                let size = stream.decompressed_content_with_limit(self.budget.font_bytes).map_err(|_| over())?.len();
                self.budget.font_bytes -= size.min(self.budget.font_bytes);
            }
        }
        self.encodings.insert(key, font.get_font_encoding_with_limit(self.doc, MAX_FONT_BYTES).ok());
        Ok(key)
    }
}

/// Appends the text that a showing operation's operands show (strings, and a space after an array and for a `TJ`
/// adjustment wider than a tenth of an em), in `encoding`; the first failure to decode is kept.
fn show(text: &mut String, encoding: &Encoding, operands: &[Object], failure: &mut Option<String>) {
    for operand in operands {
        match operand {
            Object::String(bytes, _) => {
                if let Err(e) = encoding.write_to_string(bytes, text) {
                    failure.get_or_insert(e.to_string());
                }
            }
            Object::Array(items) => {
                show(text, encoding, items, failure);
                text.push(' ');
            }
            Object::Integer(i) if *i < -100 => text.push(' '),
            Object::Real(r) if *r < -100.0 => text.push(' '),
            _ => {}
        }
    }
}

/// What one page's content holds: its tokens (operations, operands, and each array or dictionary opened: what the
/// decoder builds one by one), of which operations, and its deepest nesting of arrays and dictionaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counted {
    pub tokens: usize,
    pub operations: usize,
    pub depth: usize,
}

fn is_white(c: u8) -> bool {
    matches!(c, b'\0' | b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

fn is_delimiter(c: u8) -> bool {
    matches!(c, b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%')
}

fn is_regular(c: u8) -> bool {
    !is_white(c) && !is_delimiter(c)
}

/// Counts `content`'s operations and nesting. Linear in its length; malformed content is counted as far as it goes
/// (the decoder then refuses it).
pub fn count(content: &[u8]) -> Counted {
    let mut counted = Counted::default();
    let mut depth = 0usize;
    let mut i = 0;
    let n = content.len();
    while i < n {
        match content[i] {
            c if is_white(c) => i += 1,
            b'%' => {
                while i < n && !matches!(content[i], b'\r' | b'\n') {
                    i += 1;
                }
            }
            b'(' => {
                counted.tokens += 1;
                i = after_literal_string(content, i + 1);
            }
            b'<' if content.get(i + 1) == Some(&b'<') => {
                counted.tokens += 1;
                depth += 1;
                counted.depth = counted.depth.max(depth);
                i += 2;
            }
            b'<' => {
                counted.tokens += 1;
                while i < n && content[i] != b'>' {
                    i += 1;
                }
                i += 1;
            }
            b'>' if content.get(i + 1) == Some(&b'>') => {
                depth = depth.saturating_sub(1);
                i += 2;
            }
            b'[' => {
                counted.tokens += 1;
                depth += 1;
                counted.depth = counted.depth.max(depth);
                i += 1;
            }
            b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'/' => {
                counted.tokens += 1;
                i += 1;
                while i < n && is_regular(content[i]) {
                    i += 1;
                }
            }
            c if is_delimiter(c) => i += 1,
            _ => {
                let start = i;
                while i < n && is_regular(content[i]) {
                    i += 1;
                }
                let token = &content[start..i];
                counted.tokens += 1;
                let operand = matches!(token[0], b'0'..=b'9' | b'+' | b'-' | b'.')
                    || matches!(token, b"true" | b"false" | b"null");
                if !operand {
                    counted.operations += 1;
                    if token == b"ID" {
                        i = after_inline_image(content, i);
                    }
                }
            }
        }
    }
    counted
}

/// The index after a literal string whose `(` is just before `i`.
fn after_literal_string(content: &[u8], mut i: usize) -> usize {
    let mut open = 1usize;
    while i < content.len() {
        match content[i] {
            b'\\' => i += 1,
            b'(' => open += 1,
            b')' => {
                open -= 1;
                if open == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    content.len()
}

/// The index after an inline image's data (`ID` ends at `i`; the data runs to whitespace, `EI`, then whitespace or
/// the end). The `EI` itself is counted as the operation it is when the scan goes on from its start.
fn after_inline_image(content: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j + 2 <= content.len() {
        if is_white(content[j - 1])
            && &content[j..j + 2] == b"EI"
            && content.get(j + 2).is_none_or(|&c| is_white(c) || is_delimiter(c))
        {
            return j;
        }
        j += 1;
    }
    content.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_keywords_outside_strings_comments_and_images() {
        let c = count(b"BT /F1 11 Tf 50 790 Td (Ada (Love) lace\\) x) Tj ET % q Q q\n[(a) -20 (b)] TJ true null");
        assert_eq!(c, Counted { tokens: 17, operations: 6, depth: 1 });
        let c = count(b"q 1 0 0 1 0 0 cm BI /W 2 /H 1 /BPC 8 /CS /G ID \x00Q q\xff EI Q");
        assert_eq!(c.operations, 6, "q cm BI ID EI Q: {c:?}");
        let c = count(b"<< /A << /B [[[1]]] >> >> BDC EMC <48656c6c6f> Tj");
        assert_eq!(c, Counted { tokens: 12, operations: 3, depth: 5 });
    }

    #[test]
    fn malformed_content_is_counted_as_far_as_it_goes() {
        assert_eq!(count(b"(never closed Tj Tj").operations, 0);
        assert_eq!(count(b"]]]>> q").operations, 1);
        assert_eq!(count(b"BI ID no end").operations, 2);
        assert_eq!(count(&[b'q', b' '].repeat(1000)).operations, 1000);
    }
}

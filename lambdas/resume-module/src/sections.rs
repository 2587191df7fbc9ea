//! A résumé's text split into sections by deterministic rules: a line that is a known heading ("Experience",
//! "WORK HISTORY", "Skills:") starts a section; what comes before the first heading is the contact block. The same
//! text always gives the same sections.
//!
//! This is the boundary where a model call can go later: [`split`] takes the text and returns the sections, and
//! nothing else in the module knows how they were found. No AI service is reachable from the platform today.

use route_registry::modules::resume::types::Sections;

/// The section a heading starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Summary,
    Experience,
    Education,
    Skills,
    /// Another known heading, kept under its own name.
    Other,
}

/// Headings, normalised (lower case, letters and single spaces, `&` as `and`), by the section they start.
const HEADINGS: &[(&str, Part)] = &[
    ("summary", Part::Summary),
    ("professional summary", Part::Summary),
    ("career summary", Part::Summary),
    ("profile", Part::Summary),
    ("professional profile", Part::Summary),
    ("personal profile", Part::Summary),
    ("about", Part::Summary),
    ("about me", Part::Summary),
    ("objective", Part::Summary),
    ("career objective", Part::Summary),
    ("overview", Part::Summary),
    ("experience", Part::Experience),
    ("work experience", Part::Experience),
    ("professional experience", Part::Experience),
    ("relevant experience", Part::Experience),
    ("employment", Part::Experience),
    ("employment history", Part::Experience),
    ("work history", Part::Experience),
    ("career history", Part::Experience),
    ("experience and employment", Part::Experience),
    ("education", Part::Education),
    ("education and training", Part::Education),
    ("academic background", Part::Education),
    ("academic qualifications", Part::Education),
    ("qualifications", Part::Education),
    ("skills", Part::Skills),
    ("technical skills", Part::Skills),
    ("key skills", Part::Skills),
    ("core skills", Part::Skills),
    ("skills and abilities", Part::Skills),
    ("skills and expertise", Part::Skills),
    ("core competencies", Part::Skills),
    ("competencies", Part::Skills),
    ("expertise", Part::Skills),
    ("certifications", Part::Other),
    ("certificates", Part::Other),
    ("licenses and certifications", Part::Other),
    ("projects", Part::Other),
    ("publications", Part::Other),
    ("languages", Part::Other),
    ("awards", Part::Other),
    ("honors and awards", Part::Other),
    ("achievements", Part::Other),
    ("volunteer experience", Part::Other),
    ("volunteering", Part::Other),
    ("interests", Part::Other),
    ("hobbies", Part::Other),
    ("references", Part::Other),
    ("courses", Part::Other),
    ("training", Part::Other),
];

/// A heading line is short: a few words.
const MAX_HEADING_CHARS: usize = 40;

/// `line` as a heading's key: letters and digits in lower case, `&` as `and`, single spaces, no trailing colon.
fn key(line: &str) -> Option<String> {
    let line = line.trim();
    if line.is_empty() || line.chars().count() > MAX_HEADING_CHARS {
        return None;
    }
    let mut out = String::new();
    for word in line.trim_end_matches([':', '.', '-', '—', '–']).split(|c: char| c.is_whitespace() || c == '/') {
        let word: String = if word == "&" {
            "and".into()
        } else {
            word.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
        };
        if !word.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&word);
        }
    }
    Some(out)
}

/// The section `line` starts, if it is a heading.
fn heading(line: &str) -> Option<Part> {
    let key = key(line)?;
    HEADINGS.iter().find(|(h, _)| *h == key).map(|(_, part)| *part)
}

/// Appends `text` to a section, a blank line between parts of the same section.
fn append(slot: &mut Option<String>, text: String) {
    if text.is_empty() {
        return;
    }
    match slot {
        Some(existing) => {
            existing.push_str("\n\n");
            existing.push_str(&text);
        }
        None => *slot = Some(text),
    }
}

/// Splits a résumé's text into its sections.
pub fn split(text: &str) -> Sections {
    let mut sections = Sections::default();
    let mut current: Option<(Part, String)> = None;
    let mut body: Vec<&str> = Vec::new();
    let flush = |current: &Option<(Part, String)>, body: &mut Vec<&str>, sections: &mut Sections| {
        let text = body.join("\n").trim().to_owned();
        body.clear();
        match current {
            None => append(&mut sections.contact, text),
            Some((Part::Summary, _)) => append(&mut sections.summary, text),
            Some((Part::Experience, _)) => append(&mut sections.experience, text),
            Some((Part::Education, _)) => append(&mut sections.education, text),
            Some((Part::Skills, _)) => append(&mut sections.skills, text),
            Some((Part::Other, name)) => {
                let mut slot = sections.other.remove(name);
                append(&mut slot, text);
                if let Some(t) = slot {
                    sections.other.insert(name.clone(), t);
                }
            }
        }
    };
    for line in text.lines() {
        match heading(line) {
            Some(part) => {
                flush(&current, &mut body, &mut sections);
                let name = line.trim().trim_end_matches(':').trim().to_owned();
                current = Some((part, name));
            }
            None => body.push(line),
        }
    }
    flush(&current, &mut body, &mut sections);
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESUME: &str = "Jane Doe\njane@example.com · +1 555 0100\n\nPROFESSIONAL SUMMARY\nBackend engineer.\n\n\
                          Work Experience:\nAcme Corp — Senior Engineer\n2020–2024\n\nEducation\nBSc Computer \
                          Science\n\nSkills & Expertise\nRust, Postgres\n\nCertifications\nAWS SAP\n\nExperience\nEarlier \
                          Co — Engineer";

    #[test]
    fn known_headings_start_sections_in_any_case_with_or_without_a_colon() {
        let s = split(RESUME);
        assert_eq!(s.contact.as_deref(), Some("Jane Doe\njane@example.com · +1 555 0100"));
        assert_eq!(s.summary.as_deref(), Some("Backend engineer."));
        assert_eq!(s.experience.as_deref(), Some("Acme Corp — Senior Engineer\n2020–2024\n\nEarlier Co — Engineer"));
        assert_eq!(s.education.as_deref(), Some("BSc Computer Science"));
        assert_eq!(s.skills.as_deref(), Some("Rust, Postgres"));
        assert_eq!(s.other.get("Certifications").map(String::as_str), Some("AWS SAP"));
    }

    #[test]
    fn a_sentence_that_mentions_a_heading_is_not_one() {
        let s = split("Jane\nMy experience spans ten years of skills and education.\nSkills\nRust");
        assert_eq!(s.contact.as_deref(), Some("Jane\nMy experience spans ten years of skills and education."));
        assert_eq!(s.skills.as_deref(), Some("Rust"));
        assert!(s.experience.is_none() && s.education.is_none());
    }

    #[test]
    fn the_same_text_gives_the_same_sections_and_empty_ones_are_left_out() {
        assert_eq!(split(RESUME), split(RESUME));
        let s = split("Skills\n\nEducation\nMIT");
        assert!(s.skills.is_none() && s.contact.is_none());
        assert_eq!(s.education.as_deref(), Some("MIT"));
    }
}

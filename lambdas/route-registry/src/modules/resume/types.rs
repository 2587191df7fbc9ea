//! resume-module's request and response bodies: wire types only (the handlers live in the `resume-module` crate).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The largest résumé the store takes (the upload's policy says so to S3, which refuses anything larger).
pub const MAX_RESUME_BYTES: u32 = 5 * 1024 * 1024;

/// The media types a résumé may be uploaded as (its content decides what it is; a mismatch is refused then).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ResumeType {
    #[serde(rename = "application/pdf")]
    Pdf,
    #[serde(rename = "application/vnd.openxmlformats-officedocument.wordprocessingml.document")]
    Docx,
    #[serde(rename = "text/plain")]
    Text,
}

impl ResumeType {
    pub const ALL: [ResumeType; 3] = [ResumeType::Pdf, ResumeType::Docx, ResumeType::Text];

    /// The media type as S3 and HTTP write it.
    pub const fn media_type(self) -> &'static str {
        match self {
            ResumeType::Pdf => "application/pdf",
            ResumeType::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ResumeType::Text => "text/plain",
        }
    }
}

/// `POST /resumes`: a new résumé in one of the caller's organizations, of this type.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateResume {
    pub org_id: Uuid,
    pub content_type: ResumeType,
}

/// Where a résumé stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResumeState {
    /// Waiting for its document (the upload is the caller's to make, before it expires).
    Uploaded,
    /// Its document arrived and is being read.
    Processing,
    /// Read: its sections are there.
    Parsed,
    /// Its document could not be read; `failure_reason` says why.
    Failed,
}

/// A résumé's text split into sections, by deterministic rules (headings such as "Experience" or "Skills"); what
/// comes before the first heading is the contact block. Empty sections are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Sections {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experience: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub education: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skills: Option<String>,
    /// Other headed parts, by their heading.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other: BTreeMap<String, String>,
}

/// A résumé: visible to its owner, and to the members of its organization once the owner shares it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Resume {
    pub id: Uuid,
    pub org_id: Uuid,
    pub owner_id: Uuid,
    pub content_type: ResumeType,
    pub state: ResumeState,
    /// The document's size in bytes, once it arrived.
    pub size: Option<u64>,
    /// Why it could not be read, once failed.
    pub failure_reason: Option<String>,
    /// Its sections, once parsed.
    pub sections: Option<Sections>,
    /// Whether the members of its organization see it.
    pub shared: bool,
    pub created_at: String,
    pub parsed_at: Option<String>,
}

/// How to upload the document: an HTML-form-style POST of `fields` and then the file (as the last field, `file`)
/// to `url`, before `expires_at`. The store itself refuses another key, another type, more than `max_bytes`, or a
/// late upload.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UploadForm {
    pub url: String,
    pub fields: BTreeMap<String, String>,
    pub expires_at: String,
    pub max_bytes: u32,
}

/// `POST /resumes`' answer: the résumé (uploaded, waiting for its document) and how to upload it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct NewResume {
    pub resume: Resume,
    pub upload: UploadForm,
}

/// A confirmation without a resource.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ResumeMessage {
    pub message: String,
}

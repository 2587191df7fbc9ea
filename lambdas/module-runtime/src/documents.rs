//! The documents bucket, for functions that declare a documents prefix (`Use::Documents`): pre-signed uploads
//! (an HTML-form POST whose policy S3 enforces: this key, this type, at most this size, before this time), reading
//! an object (bounded), and erasing every version of one. S3's REST API signed with Signature Version 4
//! (`aws-sigv4`, as for SQS and KMS), on the container's one HTTP client.
//!
//! `DOCUMENTS_BUCKET` and `DOCUMENTS_PREFIX` come from the stacks; `AWS_ENDPOINT_URL_S3` (or `AWS_ENDPOINT_URL`)
//! points at another S3 (the local store), addressed path-style as the SDKs do for a custom endpoint.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::json;

use crate::aws::AwsConfig;
use crate::error::Dependency;
use crate::{timeouts, ApiError};
use route_registry::time::civil;

/// Where the documents are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentsConfig {
    pub bucket: String,
    /// The function's prefix (`resumes/`).
    pub prefix: String,
    /// Another S3 (the local store), path-style; `None`: AWS's regional endpoint, virtual-hosted.
    pub endpoint: Option<String>,
}

/// An upload form: POST `fields` then the file (as the last field, `file`) to `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadForm {
    pub url: String,
    pub fields: BTreeMap<String, String>,
    /// RFC 3339, UTC.
    pub expires_at: String,
}

/// The documents bucket as one function sees it.
#[derive(Debug, Clone)]
pub struct Documents {
    http: reqwest::Client,
    aws: AwsConfig,
    config: DocumentsConfig,
}

/// SigV4's URI encoding of a key: unreserved characters kept, `/` kept, everything else `%XX`.
fn encode_key(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Documents {
    pub fn new(http: reqwest::Client, aws: AwsConfig, config: DocumentsConfig) -> Documents {
        Documents { http, aws, config }
    }

    pub fn config(&self) -> &DocumentsConfig {
        &self.config
    }

    /// The bucket's base URL: path-style on a custom endpoint, virtual-hosted on AWS.
    fn bucket_url(&self) -> String {
        match &self.config.endpoint {
            Some(e) => format!("{}/{}", e.trim_end_matches('/'), self.config.bucket),
            None => format!("https://{}.s3.{}.amazonaws.com", self.config.bucket, self.aws.region),
        }
    }

    fn check_key(&self, key: &str) -> Result<(), ApiError> {
        if key.starts_with(&self.config.prefix) && !key.contains("..") {
            Ok(())
        } else {
            Err(ApiError::internal(format!("{key} is outside this function's prefix {}", self.config.prefix)))
        }
    }

    /// A form that uploads one object at `key` of `content_type` and at most `max_bytes`, until `valid_for` from
    /// now. S3 checks the policy: another key, type or size, or a later upload, is refused there.
    pub fn upload_form(
        &self,
        key: &str,
        content_type: &str,
        max_bytes: u32,
        valid_for: Duration,
    ) -> Result<UploadForm, ApiError> {
        self.check_key(key)?;
        let now = SystemTime::now();
        let secs = now.duration_since(UNIX_EPOCH).map_err(ApiError::internal)?.as_secs();
        let (y, m, d, hh, mm, ss) = civil(secs);
        let (ey, em, ed, ehh, emm, ess) = civil(secs + valid_for.as_secs());
        let date = format!("{y:04}{m:02}{d:02}");
        let amz_date = format!("{date}T{hh:02}{mm:02}{ss:02}Z");
        let expires_at = format!("{ey:04}-{em:02}-{ed:02}T{ehh:02}:{emm:02}:{ess:02}Z");
        let credential = format!("{}/{date}/{}/s3/aws4_request", self.aws.access_key_id, self.aws.region);
        let mut fields = BTreeMap::new();
        fields.insert("key".to_owned(), key.to_owned());
        fields.insert("Content-Type".to_owned(), content_type.to_owned());
        fields.insert("x-amz-algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned());
        fields.insert("x-amz-credential".to_owned(), credential.clone());
        fields.insert("x-amz-date".to_owned(), amz_date.clone());
        let mut conditions = vec![
            json!({"bucket": self.config.bucket}),
            json!(["eq", "$key", key]),
            json!(["eq", "$Content-Type", content_type]),
            json!(["content-length-range", 1, max_bytes]),
            json!({"x-amz-algorithm": "AWS4-HMAC-SHA256"}),
            json!({"x-amz-credential": credential}),
            json!({"x-amz-date": amz_date}),
        ];
        if let Some(token) = &self.aws.session_token {
            fields.insert("x-amz-security-token".to_owned(), token.clone());
            conditions.push(json!({"x-amz-security-token": token}));
        }
        let policy = STANDARD.encode(json!({"expiration": expires_at, "conditions": conditions}).to_string());
        let signing_key = v4::generate_signing_key(&self.aws.secret_access_key, now, &self.aws.region, "s3");
        let signature = v4::calculate_signature(signing_key, policy.as_bytes());
        fields.insert("policy".to_owned(), policy);
        fields.insert("x-amz-signature".to_owned(), signature);
        Ok(UploadForm { url: self.bucket_url(), fields, expires_at })
    }

    /// One signed request to the bucket (`path` after the bucket, already encoded; `query` canonical-ready).
    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &str,
        deadline: Instant,
    ) -> Result<reqwest::Response, ApiError> {
        let dependency = Dependency::Documents;
        let wait = timeouts::bound(timeouts::DOCUMENTS_REQUEST, deadline).ok_or_else(|| ApiError::Timeout {
            dependency,
            detail: "the deadline passed before the documents call".into(),
        })?;
        let mut url = format!("{}{path}", self.bucket_url());
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        let host = url
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
            .unwrap_or_default()
            .to_owned();
        let credentials = aws_credential_types::Credentials::new(
            &self.aws.access_key_id,
            &self.aws.secret_access_key,
            self.aws.session_token.clone(),
            None,
            "lambda-environment",
        );
        let identity = credentials.into();
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.aws.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(ApiError::internal)?
            .into();
        let signable = SignableRequest::new(
            method.as_str(),
            url.as_str(),
            [("host", host.as_str())].into_iter(),
            SignableBody::Bytes(&[]),
        )
        .map_err(ApiError::internal)?;
        let (instructions, _) = sign(signable, &params).map_err(ApiError::internal)?.into_parts();
        let mut request = self.http.request(method, &url).timeout(wait);
        for (k, v) in instructions.headers() {
            request = request.header(k, v);
        }
        request.send().await.map_err(|e| ApiError::transport(dependency, &e))
    }

    /// An S3 error answer as an API error: refusals are this function's fault (502), throttling and 5xx 503.
    async fn failure(response: reqwest::Response, what: &str) -> ApiError {
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let code = text.split("<Code>").nth(1).and_then(|c| c.split("</Code>").next()).unwrap_or("").to_owned();
        let detail = format!("S3 {what} answered {status} {code}");
        if status == 503 || status >= 500 || code == "SlowDown" {
            ApiError::Unavailable { dependency: Dependency::Documents, retry_after_s: timeouts::RETRY_AFTER_S, detail }
        } else {
            ApiError::BadGateway { dependency: Dependency::Documents, detail }
        }
    }

    /// Reads one object (a version of it, if given), refusing to read past `max_bytes`: `None` when there is no
    /// such object, `Err(TooLarge)` … as `Ok(Some(Err(size)))` when it is larger.
    pub async fn get(
        &self,
        key: &str,
        version: Option<&str>,
        max_bytes: usize,
        deadline: Instant,
    ) -> Result<Option<Result<Vec<u8>, usize>>, ApiError> {
        self.check_key(key)?;
        let query = version.map(|v| format!("versionId={}", encode_key(v).replace('/', "%2F"))).unwrap_or_default();
        let mut response =
            self.request(reqwest::Method::GET, &format!("/{}", encode_key(key)), &query, deadline).await?;
        if response.status().as_u16() == 404 {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(Self::failure(response, "GetObject").await);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| ApiError::transport(Dependency::Documents, &e))? {
            body.extend_from_slice(&chunk);
            if body.len() > max_bytes {
                let size = response.content_length().map(|n| n as usize).unwrap_or(body.len());
                return Ok(Some(Err(size.max(body.len()))));
            }
        }
        Ok(Some(Ok(body)))
    }

    /// Deletes every version and delete marker of the object at `key`: what it deleted.
    pub async fn erase(&self, key: &str, deadline: Instant) -> Result<usize, ApiError> {
        self.check_key(key)?;
        let mut deleted = 0;
        // A listing holds up to 1,000 versions; an object has a handful, but loop until none is left.
        for _ in 0..100 {
            let query = format!("prefix={}&versions=", encode_key(key).replace('/', "%2F"));
            let response = self.request(reqwest::Method::GET, "", &query, deadline).await?;
            if !response.status().is_success() {
                return Err(Self::failure(response, "ListObjectVersions").await);
            }
            let xml = response.text().await.map_err(|e| ApiError::transport(Dependency::Documents, &e))?;
            let versions = listed_versions(&xml, key);
            if versions.is_empty() {
                return Ok(deleted);
            }
            for id in versions {
                self.erase_version(key, &id, deadline).await?;
                deleted += 1;
            }
        }
        Err(ApiError::BadGateway {
            dependency: Dependency::Documents,
            detail: format!("{key} kept versions after 100 rounds"),
        })
    }
}

impl Documents {
    /// Erases one version of `key` (an upload the platform did not ask for); a version already gone is no error.
    pub async fn erase_version(&self, key: &str, version: &str, deadline: Instant) -> Result<(), ApiError> {
        self.check_key(key)?;
        let path = format!("/{}", encode_key(key));
        let query = format!("versionId={}", encode_key(version).replace('/', "%2F"));
        let response = self.request(reqwest::Method::DELETE, &path, &query, deadline).await?;
        if !response.status().is_success() && response.status().as_u16() != 404 {
            return Err(Self::failure(response, "DeleteObject").await);
        }
        Ok(())
    }
}

/// The version ids of `key` (exactly; a listing by prefix may name longer keys) in a `ListVersionsResult`.
pub fn listed_versions(xml: &str, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    for element in ["Version", "DeleteMarker"] {
        for part in xml.split(&format!("<{element}>")).skip(1) {
            let body = part.split(&format!("</{element}>")).next().unwrap_or("");
            let field = |name: &str| {
                body.split(&format!("<{name}>"))
                    .nth(1)
                    .and_then(|r| r.split(&format!("</{name}>")).next())
                    .map(unescape)
            };
            if field("Key").as_deref() == Some(key) {
                if let Some(id) = field("VersionId") {
                    out.push(id);
                }
            }
        }
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_name_the_versions_of_exactly_the_key() {
        let xml = "<ListVersionsResult><Version><Key>resumes/a</Key><VersionId>v1</VersionId></Version>\
                   <Version><Key>resumes/ab</Key><VersionId>v2</VersionId></Version>\
                   <DeleteMarker><Key>resumes/a</Key><VersionId>m1</VersionId></DeleteMarker></ListVersionsResult>";
        assert_eq!(listed_versions(xml, "resumes/a"), ["v1", "m1"]);
    }

    #[test]
    fn keys_are_encoded_as_signature_v4_wants() {
        assert_eq!(encode_key("resumes/a b+c.pdf"), "resumes/a%20b%2Bc.pdf");
    }
}

//! The local documents store refuses, by itself, every upload that breaks the pre-signed form the API hands out:
//! a larger file, an empty one, another type, another key, a late upload, a changed policy or signature, a field the
//! policy does not cover, a credential it does not know. The form is the processor's and API's own
//! (`module_runtime::documents`), and the store checks it as S3 does; what it accepts it stores as a new version
//! and reports as a created object.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use module_runtime::aws::AwsConfig;
use module_runtime::documents::{Documents, DocumentsConfig, UploadForm};
use route_registry::modules::resume::types::MAX_RESUME_BYTES;
use standins::s3::S3Standin;

const BUCKET: &str = "career-test-documents";
const PDF: &str = "application/pdf";

fn aws(secret: &str) -> AwsConfig {
    AwsConfig {
        region: "us-east-1".into(),
        access_key_id: "tester".into(),
        secret_access_key: secret.into(),
        session_token: None,
        sqs_endpoint: None,
        kms_endpoint: None,
    }
}

fn documents(store: &S3Standin, secret: &str) -> Documents {
    let config =
        DocumentsConfig { bucket: BUCKET.into(), prefix: "resumes/".into(), endpoint: Some(store.url.clone()) };
    Documents::new(reqwest::Client::new(), aws(secret), config)
}

/// An HTML-form POST: the fields in order, then the file.
async fn post(url: &str, fields: &BTreeMap<String, String>, file: &[u8]) -> (u16, String) {
    let boundary = "----career-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes(),
        );
    }
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cv.pdf\"\r\nContent-Type: {PDF}\r\n\r\n").bytes());
    body.extend(file);
    body.extend(format!("\r\n--{boundary}--\r\n").bytes());
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn form(docs: &Documents, key: &str, valid_for: Duration) -> UploadForm {
    docs.upload_form(key, PDF, MAX_RESUME_BYTES, valid_for).unwrap()
}

fn changed(form: &UploadForm, name: &str, value: &str) -> BTreeMap<String, String> {
    let mut fields = form.fields.clone();
    fields.insert(name.into(), value.into());
    fields
}

#[tokio::test]
async fn the_store_refuses_every_upload_that_breaks_the_form() {
    let store = S3Standin::start(&[("tester", "s3cret")]).unwrap();
    store.create_bucket(BUCKET);
    let docs = documents(&store, "s3cret");
    let key = "resumes/org/user/one";
    let f = form(&docs, key, Duration::from_secs(600));
    let small = b"%PDF-1.7 a small document".to_vec();

    type Refusal = (&'static str, BTreeMap<String, String>, Vec<u8>, u16, &'static str);
    let refusals: Vec<Refusal> = vec![
        ("one byte over the limit", f.fields.clone(), vec![b'x'; MAX_RESUME_BYTES as usize + 1], 400, "EntityTooLarge"),
        ("empty", f.fields.clone(), Vec::new(), 400, "EntityTooSmall"),
        ("another type", changed(&f, "Content-Type", "text/html"), small.clone(), 403, "Content-Type"),
        ("another key", changed(&f, "key", "resumes/org/user/other"), small.clone(), 403, "$key"),
        ("a key outside the prefix", changed(&f, "key", "imports/x"), small.clone(), 403, "$key"),
        (
            "a changed policy",
            changed(&f, "policy", &format!("{}A", &f.fields["policy"][1..])),
            small.clone(),
            403,
            "SignatureDoesNotMatch",
        ),
        (
            "a changed signature",
            changed(&f, "x-amz-signature", &"0".repeat(64)),
            small.clone(),
            403,
            "SignatureDoesNotMatch",
        ),
        (
            "a field the policy does not cover",
            changed(&f, "x-amz-meta-owner", "mallory"),
            small.clone(),
            403,
            "x-amz-meta-owner",
        ),
    ];
    for (what, fields, file, status, says) in refusals {
        let (got, body) = post(&f.url, &fields, &file).await;
        assert_eq!(got, status, "{what}: {body}");
        assert!(body.contains(says), "{what}: {body} does not say {says}");
    }
    // A form signed with a secret the store does not know.
    let forged = form(&documents(&store, "guessed"), key, Duration::from_secs(600));
    let (got, body) = post(&forged.url, &forged.fields, &small).await;
    assert_eq!(got, 403, "{body}");
    // A late upload: the form expired.
    let late = form(&docs, key, Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (got, body) = post(&late.url, &late.fields, &small).await;
    assert_eq!((got, body.contains("Policy expired")), (403, true), "{body}");
    assert!(store.versions(BUCKET, "resumes/").is_empty(), "nothing refused was stored");

    // The form as given, at the limit exactly: stored, as a new version under the key.
    let (got, body) = post(&f.url, &f.fields, &vec![b'x'; MAX_RESUME_BYTES as usize]).await;
    assert!((200..300).contains(&got), "{got} {body}");
    let versions = store.versions(BUCKET, "resumes/");
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert_eq!(versions[0].0, key);
    assert!(store.refusals().len() >= 9, "{:?}", store.refusals());
}

/// Reading is bounded, and erasing removes every version and delete marker of exactly the key.
#[tokio::test]
async fn reads_are_bounded_and_an_erasure_leaves_no_version() {
    let store = S3Standin::start(&[("tester", "s3cret")]).unwrap();
    store.create_bucket(BUCKET);
    let docs = documents(&store, "s3cret");
    let deadline = Instant::now() + Duration::from_secs(10);
    let key = "resumes/org/user/two";
    let first = store.put_object(BUCKET, key, b"first".to_vec(), PDF);
    store.put_object(BUCKET, key, b"second, longer".to_vec(), PDF);
    store.put_object(BUCKET, "resumes/org/user/two-other", b"kept".to_vec(), PDF);
    assert_eq!(docs.get(key, None, 1024, deadline).await.unwrap(), Some(Ok(b"second, longer".to_vec())));
    assert_eq!(docs.get(key, Some(&first), 1024, deadline).await.unwrap(), Some(Ok(b"first".to_vec())));
    assert_eq!(docs.get(key, None, 4, deadline).await.unwrap(), Some(Err(14)), "refused past the bound");
    assert_eq!(docs.get("resumes/none", None, 4, deadline).await.unwrap(), None);
    assert!(docs.get("imports/x", None, 4, deadline).await.is_err(), "outside the prefix is never asked for");

    assert_eq!(docs.erase(key, deadline).await.unwrap(), 2);
    let left = store.versions(BUCKET, "resumes/");
    assert_eq!(left.len(), 1, "only the other key is left: {left:?}");
    assert_eq!(left[0].0, "resumes/org/user/two-other");
    assert_eq!(docs.erase(key, deadline).await.unwrap(), 0, "erasing again finds nothing");
}

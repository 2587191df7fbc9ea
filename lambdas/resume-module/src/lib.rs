//! resume-module: the `resume-resumes` function (the API: create with an upload form, list, get, share, unshare,
//! delete), `resume-process-resume-doc` (started by each uploaded document: reads it in an isolated child
//! process, splits its text into sections, records the outcome) and `resume-erasure-sweep` (hourly: finishes the
//! erasures a client abandoned halfway), each registered once in [`FUNCTIONS`]. Who sees
//! what is Row-Level Security's and the database functions' (`migrations/0010_resumes.sql`); the wire types are the
//! catalog's (`route_registry::modules::resume`).
//!
//! The document never passes through Lambda on its way in: the API signs an upload form for one key and S3 checks
//! it. The processor is the only reader, and it reads in a child with hard limits ([`READER_LIMITS`]), so a hostile
//! document ends as `failed` with a reason, within the function's time, whatever it does to the reader.

pub mod pdf;
pub mod read;
#[cfg(feature = "samples")]
pub mod samples;
pub mod sections;

use std::time::Duration;

use module_runtime::isolate::{self, Isolated, Isolation, Limits};
use module_runtime::{
    ApiError, Call, CreatedObject, Http, OnObject, OnSchedule, Registration, Reply, ScheduledRun, Work,
};
use route_registry::modules::resume::types::{
    CreateResume, NewResume, Resume, ResumeMessage, ResumeType, Sections, UploadForm, MAX_RESUME_BYTES,
};
use route_registry::modules::resume::{
    CREATE_RESUME, DELETE_RESUME, ERASURES_PER_RUN, ERASURE_GRACE_MIN, ERASURE_SWEEP, GET_RESUME, LIST_RESUMES,
    PROCESS_RESUME_DOC, RESUMES, SHARE_RESUME, UNSHARE_RESUME,
};
use route_registry::Route;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    List,
    Get,
    Share,
    Unshare,
    Delete,
}

/// The routes `resume-resumes` serves, from the catalog.
pub const ROUTES: &[(Route, Op)] = &[
    (CREATE_RESUME, Op::Create),
    (LIST_RESUMES, Op::List),
    (GET_RESUME, Op::Get),
    (SHARE_RESUME, Op::Share),
    (UNSHARE_RESUME, Op::Unshare),
    (DELETE_RESUME, Op::Delete),
];

/// How long an upload form stays valid: long enough to pick a file and send 5 MiB on a slow line, short enough that
/// a leaked form is soon useless.
pub const UPLOAD_VALID_FOR: Duration = Duration::from_secs(10 * 60);

/// The reader's hard limits. The processor has 512 MB: the child may reserve 384 MiB of address space (its stack
/// included), the rest is the parent's (9 MiB measured, plus the document held twice). CPU: the function's 60 s
/// less what recording the outcome needs. What documents really take (BENCHMARKS.md, "Résumé processing"): at most
/// 22 ms of CPU and 37 MiB resident (the zip bomb), 10 ms and 15 MiB for a 5 MiB PDF.
pub const READER_LIMITS: Limits = Limits { memory_mb: 384, cpu_s: 50, stack_mb: 64 };

/// Kept free at the end of an invocation to record the outcome after the reader stopped.
pub const RECORD_MARGIN: Duration = Duration::from_secs(4);

/// The reader, run in the child: the declared media type, a newline, the document; the text and its sections as
/// JSON, or why it cannot be read.
pub const READER: Isolated = Isolated { run: read_isolated, limits: READER_LIMITS };

/// The `resume-resumes` function, registered once.
pub const RESUMES_FUNCTION: Registration =
    Registration::http(RESUMES, &Http { routes: ROUTES, run: |op, call| Box::pin(run(op, call)) });

/// The processor, registered once, with the reader it isolates.
pub const PROCESS_RESUME_DOC_FUNCTION: Registration =
    Registration::objects(PROCESS_RESUME_DOC, &OnObject { run: |work, object| Box::pin(process(work, object)) })
        .isolating(&READER);

/// The erasure sweep, registered once.
pub const ERASURE_SWEEP_FUNCTION: Registration =
    Registration::schedule(ERASURE_SWEEP, &OnSchedule { run: |work, run| Box::pin(sweep(work, run)) });

/// Every function of this module, once.
pub const FUNCTIONS: &[Registration] = &[RESUMES_FUNCTION, PROCESS_RESUME_DOC_FUNCTION, ERASURE_SWEEP_FUNCTION];

/// What the reader answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadDocument {
    pub text: String,
    pub sections: Sections,
}

/// The reader's input: the declared type, then the document.
pub fn reader_input(declared: ResumeType, document: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(document.len() + 80);
    input.extend_from_slice(declared.media_type().as_bytes());
    input.push(b'\n');
    input.extend_from_slice(document);
    input
}

/// The reader itself (also callable in-process, for tests and benchmarks). What it outputs is held to the platform's
/// text rule ([`clean`]), as every field of the API is.
pub fn read_document(declared: ResumeType, document: &[u8]) -> Result<ReadDocument, String> {
    let (_, text) = read::read(declared, document)?;
    let text = clean(&text);
    let sections = sections::split(&text);
    Ok(ReadDocument { text, sections })
}

/// A document's text under the platform's text rule (`route_registry::validate::is_forbidden`): no control,
/// bidirectional-control or zero-width character, which would let one text look like another; the line breaks that
/// carry its structure stay, and a tab becomes a space.
pub fn clean(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            '\t' => Some(' '),
            c if route_registry::validate::is_forbidden(c) => None,
            c => Some(c),
        })
        .collect()
}

fn read_isolated(input: &[u8]) -> Result<Vec<u8>, String> {
    let newline = input.iter().position(|b| *b == b'\n').ok_or("the reader's input has no type line")?;
    let declared = std::str::from_utf8(&input[..newline])
        .ok()
        .and_then(|t| ResumeType::ALL.into_iter().find(|r| r.media_type() == t))
        .ok_or("the reader's input names no résumé type")?;
    let read = read_document(declared, &input[newline + 1..])?;
    serde_json::to_vec(&read).map_err(|e| format!("cannot encode the text: {e}"))
}

/// What `begin_resume_processing` answers.
#[derive(Debug, Deserialize)]
struct Begin {
    skip: bool,
    #[serde(default)]
    erase: bool,
    /// Another upload of a résumé that has one: this version only is erased, never read.
    #[serde(default)]
    erase_version: bool,
    reason: Option<String>,
    id: Option<Uuid>,
    content_type: Option<ResumeType>,
}

/// Handles one created document (1 when it was read, parsed or failed; 0 when there was nothing to do).
pub async fn process(work: Work, object: CreatedObject) -> Result<u64, ApiError> {
    let started = std::time::Instant::now();
    let db = work.db()?;
    let begin: Begin = serde_json::from_value(
        db.call(
            "begin_resume_processing",
            &json!({"p_key": object.key, "p_version": object.version_id, "p_size": object.size}),
        )
        .await?,
    )
    .map_err(|e| ApiError::internal(format!("unexpected answer from begin_resume_processing: {e}")))?;
    let (id, declared) = match (begin.skip, begin.id, begin.content_type) {
        (false, Some(id), Some(declared)) => (id, declared),
        _ => {
            let mut erased = 0;
            if begin.erase {
                // A late upload for a résumé erased meanwhile: nothing may keep it.
                erased = work.documents()?.erase(&object.key, work.deadline).await?;
            } else if let (true, Some(version)) = (begin.erase_version, &object.version_id) {
                // A second upload with the same form: the résumé reads its first, and keeps nothing it did not ask for.
                work.documents()?.erase_version(&object.key, version, work.deadline).await?;
                erased = 1;
            }
            tracing::info!(key = %object.key, reason = begin.reason.as_deref().unwrap_or(""), erased, "skipped");
            return Ok(0);
        }
    };
    let outcome = read_object(&work, &object, declared).await?;
    let args = match &outcome {
        Ok((read, _)) => json!({"p_id": id, "p_version": object.version_id, "p_parsed": true, "p_text": read.text,
                                "p_sections": read.sections}),
        Err(reason) => json!({"p_id": id, "p_version": object.version_id, "p_parsed": false, "p_reason": reason}),
    };
    let recorded = db.call("finish_resume_processing", &args).await?;
    let peak_kib = outcome.as_ref().map(|(_, peak)| *peak).unwrap_or(0);
    let recorded = recorded == Value::Bool(true);
    tracing::info!(
        resume = %id,
        parsed = outcome.is_ok(),
        reason = outcome.as_ref().err().map(String::as_str).unwrap_or(""),
        recorded,
        size = object.size,
        reader_peak_kib = peak_kib,
        ms = started.elapsed().as_millis() as u64,
        "processed"
    );
    Ok(1)
}

/// Reads the object's version in the isolated reader: its text and sections (and the reader's peak memory), or
/// why it cannot be read. `Err(ApiError)` only when S3 or the child could not be reached at all (the event is then
/// retried).
async fn read_object(
    work: &Work,
    object: &CreatedObject,
    declared: ResumeType,
) -> Result<Result<(ReadDocument, u64), String>, ApiError> {
    let max = MAX_RESUME_BYTES as usize;
    if object.size > max as u64 {
        return Ok(Err(too_large(object.size)));
    }
    let document = match work.documents()?.get(&object.key, object.version_id.as_deref(), max, work.deadline).await? {
        None => return Ok(Err("its document is gone (deleted before it could be read)".into())),
        Some(Err(size)) => return Ok(Err(too_large(size as u64))),
        Some(Ok(document)) => document,
    };
    let until = work.deadline.checked_sub(RECORD_MARGIN).unwrap_or(work.deadline);
    let input = reader_input(declared, &document);
    drop(document);
    let isolation = isolate::run(work.function.binary, READER_LIMITS, input, until).await?;
    if let Isolation::Done { usage, .. } | Isolation::Refused { usage, .. } = &isolation {
        if !usage.filtered {
            tracing::warn!("the reader ran without its seccomp filter (the kernel refused it); its limits held");
        }
    }
    Ok(match isolation {
        Isolation::Done { output, usage } => serde_json::from_slice::<ReadDocument>(&output)
            .map(|read| (read, usage.peak_kib))
            .map_err(|e| format!("the reader answered something unreadable ({e})")),
        Isolation::Refused { reason, .. } | Isolation::Stopped { reason } => Err(reason),
    })
}

/// An erasure the sweep finishes (`abandoned_resume_erasures`).
#[derive(Debug, Deserialize)]
struct Abandoned {
    id: Uuid,
    object_key: String,
}

/// A key whose row went (`erased_resume_keys`): any version left under it is erased before it is forgotten.
#[derive(Debug, Deserialize)]
struct Erased {
    object_key: String,
}

/// Kept free at the end of a sweep run: an erasure is not started with less left (one takes a few round trips).
pub const SWEEP_MARGIN: Duration = Duration::from_secs(5);

/// One sweep run: the résumés of people deactivated longer than the retention marked for erasure; every version of
/// each abandoned erasure's document erased, then its row removed; every version left under the key of a row removed
/// some other way erased; oldest first, until the run's time is nearly out (the rest wait for the next run). The
/// number of erasures finished.
pub async fn sweep(work: Work, run: ScheduledRun) -> Result<u64, ApiError> {
    let db = work.db()?;
    let expired = db.call("expire_resumes_of_deactivated", &json!({"p_limit": ERASURES_PER_RUN})).await?;
    let params = [("p_grace_min", ERASURE_GRACE_MIN.to_string()), ("p_limit", ERASURES_PER_RUN.to_string())];
    let due: Vec<Abandoned> = serde_json::from_value(db.call_read("abandoned_resume_erasures", &params).await?)
        .map_err(|e| ApiError::internal(format!("unexpected answer from abandoned_resume_erasures: {e}")))?;
    let keys: Vec<Erased> = serde_json::from_value(db.call_read("erased_resume_keys", &params).await?)
        .map_err(|e| ApiError::internal(format!("unexpected answer from erased_resume_keys: {e}")))?;
    // Configured or not, it shows at the first run, not at the first abandoned erasure.
    let documents = work.documents()?;
    let (mut finished, mut versions, mut left, mut forgotten) = (0u64, 0usize, 0usize, 0usize);
    let out_of_time = || std::time::Instant::now() + SWEEP_MARGIN >= work.deadline;
    for (i, abandoned) in due.iter().enumerate() {
        if out_of_time() {
            left = due.len() - i;
            break;
        }
        versions += documents.erase(&abandoned.object_key, work.deadline).await?;
        if db.call("finish_resume_erasure", &json!({"p_id": abandoned.id})).await? == Value::Bool(true) {
            finished += 1;
        }
    }
    for (i, erased) in keys.iter().enumerate() {
        if out_of_time() {
            left += keys.len() - i;
            break;
        }
        versions += documents.erase(&erased.object_key, work.deadline).await?;
        if db.call("forget_erased_resume", &json!({"p_key": erased.object_key})).await? == Value::Bool(true) {
            forgotten += 1;
        }
    }
    tracing::info!(run = run.id, expired = %expired, due = due.len(), finished, forgotten, versions, left, "swept erasures");
    Ok(finished)
}

fn too_large(size: u64) -> String {
    format!("it has {size} bytes; a résumé may have {MAX_RESUME_BYTES} (5 MiB)")
}

fn resume(value: Value) -> Result<Resume, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::internal(format!("unexpected résumé: {e}")))
}

fn data<T: Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(ApiError::internal)
}

/// One operation of `resume-resumes`.
pub async fn run(op: Op, call: Call) -> Result<Reply, ApiError> {
    let db = call.db()?;
    match op {
        Op::Create => {
            let body: CreateResume = call.body()?;
            let media_type = body.content_type.media_type();
            let created =
                db.call("create_resume", &json!({"p_org_id": body.org_id, "p_content_type": media_type})).await?;
            let key = created["object_key"]
                .as_str()
                .ok_or_else(|| ApiError::internal("create_resume answered no object key"))?
                .to_owned();
            let created = resume(created)?;
            let form = call.documents()?.upload_form(&key, media_type, MAX_RESUME_BYTES, UPLOAD_VALID_FOR)?;
            let upload = UploadForm {
                url: form.url,
                fields: form.fields,
                expires_at: form.expires_at,
                max_bytes: MAX_RESUME_BYTES,
            };
            Ok(Reply::created(data(&NewResume { resume: created, upload })?))
        }
        Op::List => {
            let rows = db.call_read("list_my_resumes", &[]).await?;
            let resumes: Vec<Resume> =
                serde_json::from_value(rows).map_err(|e| ApiError::internal(format!("unexpected résumés: {e}")))?;
            Ok(Reply::ok(data(&resumes)?))
        }
        Op::Get => {
            let id = call.uuid("id")?;
            Ok(Reply::ok(data(&resume(db.call_read("get_resume", &[("p_id", id.to_string())]).await?)?)?))
        }
        Op::Share | Op::Unshare => {
            let id = call.uuid("id")?;
            let shared = op == Op::Share;
            Ok(Reply::ok(data(&resume(db.call("share_resume", &json!({"p_id": id, "p_shared": shared})).await?)?)?))
        }
        Op::Delete => {
            let id = call.uuid("id")?;
            let key = db.call("resume_to_erase", &json!({"p_id": id})).await?;
            let key = key.as_str().ok_or_else(|| ApiError::internal("resume_to_erase answered no key"))?;
            let erased = call.documents()?.erase(key, call.deadline).await?;
            db.call("delete_resume", &json!({"p_id": id})).await?;
            let message = format!("résumé {id} deleted, with {erased} stored version(s) of its document");
            Ok(Reply::ok(data(&ResumeMessage { message })?))
        }
    }
}

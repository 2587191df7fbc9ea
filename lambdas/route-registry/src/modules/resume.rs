//! resume-module: résumés uploaded, processed and parsed. The caller creates a résumé in one of their organizations
//! and gets a pre-signed upload for one new object under a key the platform chooses
//! (`resumes/<organization>/<user>/<résumé>`): the bytes go straight to S3, never through Lambda or API Gateway, and
//! S3 itself refuses a larger file, another type, another key or a late upload. The document's arrival starts
//! `process-resume-doc`, which reads it (PDF, DOCX or plain text, by content), splits the text into sections and
//! records the outcome; the owner reads it, shares it with the organization, unshares it, or deletes it (the row
//! and every version of the object).
//!
//! No AI service is reachable from here: the sections come from deterministic rules, behind one function (text in,
//! sections out) where a model call can go later.

pub mod types;

use self::types::{CreateResume, NewResume, Resume, ResumeMessage};
use crate::{Access, Auth, Body, Doc, Function, Method, Module, Route, ScheduleTrigger, Trigger, Use};

pub const MODULE_NAME: &str = "resume-module";

/// The documents prefix of the module: uploads land under it, and objects created there start the processor.
pub const PREFIX: &str = "resumes";

/// The API's function: create (with the upload form), read, list, share, unshare, delete. 256 MB and 15 s as the
/// other API functions (BENCHMARKS.md, "Memory size"); signing an upload form is local work (a few HMACs).
pub const RESUMES: Function = Function {
    module: MODULE_NAME,
    name: "resumes",
    binary: "resume-resumes",
    memory_mb: 256,
    timeout_s: 15,
    // Pre-signing an upload is the signer's write; deleting a résumé erases every version of its object.
    uses: &[Use::Database, Use::Documents { prefix: PREFIX, access: Access::WriteErase }],
    trigger: Trigger::Http,
};

/// Reads each uploaded document. 512 MB and 60 s, the seed's sizing, kept for reasons BENCHMARKS.md ("Résumé
/// processing") measures: the reader's child may hold up to 384 MiB and the function must survive it (a typical
/// document takes 3 ms of CPU and 6 MiB in the child, the worst hostile one 22 ms and 37 MiB; 256 MB would save
/// $0.05 per million documents); 60 s is the ceiling on what a document built to take forever can cost.
pub const PROCESS_RESUME_DOC: Function = Function {
    module: MODULE_NAME,
    name: "process-resume-doc",
    binary: "resume-process-resume-doc",
    memory_mb: 512,
    timeout_s: 60,
    // It reads the prefix that starts it and writes nowhere in the bucket (the stacks refuse it otherwise); it erases
    // an object that arrived for a résumé erased meanwhile (a late upload), so an erasure leaves nothing behind.
    uses: &[Use::Database, Use::Documents { prefix: PREFIX, access: Access::ReadErase }],
    trigger: Trigger::ObjectsCreated { prefix: PREFIX },
};

/// Finishes erasures a client abandoned: a DELETE marks the résumé `erasing` before it erases the document's
/// versions, and a client that gave up after a failure (the store unreachable, say) and never repeated it would leave
/// the versions stored and an invisible row. Each run erases every version of the documents of résumés marked at
/// least [`ERASURE_GRACE_MIN`] minutes ago (a DELETE in progress takes seconds), then removes their rows. It also erases
/// what is left under the key of a row removed without its document (a client of PostgREST calling the last step
/// alone: the row's key is kept for it), and marks for erasure the résumés of people deactivated longer than the
/// retention (30 days). Hourly, so an abandoned erasure completes within 75 minutes; 128 MB like the other small
/// workers (the work is a few S3 and PostgREST round trips per résumé).
pub const ERASURE_SWEEP: Function = Function {
    module: MODULE_NAME,
    name: "erasure-sweep",
    binary: "resume-erasure-sweep",
    memory_mb: 128,
    timeout_s: 60,
    // It lists and deletes versions under the prefix, and reads nothing.
    uses: &[Use::Database, Use::Documents { prefix: PREFIX, access: Access::Erase }],
    trigger: Trigger::Schedule(ScheduleTrigger {
        expression: "rate(1 hour)",
        time_zone: "UTC",
        flexible_window_min: 0,
        retries: 2,
        max_event_age_s: 3600,
    }),
};

/// How long a résumé stays marked `erasing` before the sweep takes over its erasure.
pub const ERASURE_GRACE_MIN: u32 = 15;

/// The most erasures one sweep run finishes; the rest wait for the next run.
pub const ERASURES_PER_RUN: u32 = 200;

const fn one<T: schemars::JsonSchema>() -> Body {
    Body::One(Doc::of::<T>())
}

#[allow(clippy::too_many_arguments, reason = "one argument per catalog field, named at every call by position")]
const fn route(
    method: Method,
    path: &'static str,
    summary: &'static str,
    success: u16,
    errors: &'static [u16],
    request: Option<Doc>,
    response: Body,
) -> Route {
    Route {
        method,
        path,
        function: RESUMES,
        auth: Auth::User,
        summary,
        success,
        errors,
        request,
        response,
        upload: None,
    }
}

pub const CREATE_RESUME: Route = route(
    Method::Post,
    "/resumes",
    "Create a résumé in one of your organizations: its id, and a pre-signed upload for its document (PDF, DOCX or plain text, 5 MiB at most, within 10 minutes; the first upload is read, another is erased). At most 30 an hour (429 with Retry-After)",
    201,
    &[400, 404, 409, 429],
    Some(Doc::of::<CreateResume>()),
    one::<NewResume>(),
);
pub const LIST_RESUMES: Route =
    route(Method::Get, "/resumes", "List your résumés", 200, &[], None, Body::List(Doc::of::<Resume>()));
pub const GET_RESUME: Route = route(
    Method::Get,
    "/resumes/{id}",
    "Get a résumé: yours, or one shared with an organization you belong to; its state and, once parsed, its sections",
    200,
    &[400, 404],
    None,
    one::<Resume>(),
);
pub const SHARE_RESUME: Route = route(
    Method::Post,
    "/resumes/{id}/share",
    "Share your résumé with its organization's members (while you are one of them: leaving, being removed or deactivated ends the share; 409 once you are not a member)",
    200,
    &[400, 404, 409],
    None,
    one::<Resume>(),
);
pub const UNSHARE_RESUME: Route = route(
    Method::Delete,
    "/resumes/{id}/share",
    "Stop sharing your résumé with its organization",
    200,
    &[400, 404],
    None,
    one::<Resume>(),
);
pub const DELETE_RESUME: Route = route(
    Method::Delete,
    "/resumes/{id}",
    "Delete your résumé: the record and every version of its document",
    200,
    &[400, 404],
    None,
    one::<ResumeMessage>(),
);

pub const FUNCTIONS: &[Function] = &[RESUMES, PROCESS_RESUME_DOC, ERASURE_SWEEP];

pub const ROUTES: &[Route] = &[CREATE_RESUME, LIST_RESUMES, GET_RESUME, SHARE_RESUME, UNSHARE_RESUME, DELETE_RESUME];

pub const MODULE: Module = Module {
    name: MODULE_NAME,
    summary: "résumés uploaded, processed and parsed",
    functions: FUNCTIONS,
    routes: ROUTES,
    service_functions: &[
        "begin_resume_processing",
        "finish_resume_processing",
        "abandoned_resume_erasures",
        "finish_resume_erasure",
        "erased_resume_keys",
        "forget_erased_resume",
        "expire_resumes_of_deactivated",
    ],
    renamed: &[],
};

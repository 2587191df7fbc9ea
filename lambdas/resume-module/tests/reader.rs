//! The reader as the processor runs it: in a child process (the function's own binary) with its hard limits. Real
//! PDF, DOCX and text résumés come out as sections; every file of the adversarial corpus comes out refused with a
//! reason the owner can read, within the reader's time, by the reader's own bounds; and a bounded fuzz run
//! (mutations of real documents, fixed seed) ends every input read or refused, never with the child stopped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use std::time::{Duration, Instant};

use module_runtime::isolate::{self, Isolation};
use resume_module::{samples, ReadDocument, READER_LIMITS};
use route_registry::modules::resume::types::ResumeType;

const BINARY: &str = "resume-process-resume-doc";

fn host() {
    // The child is the processor's own binary (this test binary's `main` is the test harness).
    std::env::set_var(isolate::EXE_VARIABLE, env!("CARGO_BIN_EXE_resume-module"));
}

async fn isolated(declared: ResumeType, bytes: &[u8], within: Duration) -> Isolation {
    host();
    let input = resume_module::reader_input(declared, bytes);
    isolate::run(BINARY, READER_LIMITS, input, Instant::now() + within).await.unwrap()
}

fn parsed(i: &Isolation) -> ReadDocument {
    match i {
        Isolation::Done { output, .. } => serde_json::from_slice(output).unwrap(),
        other => panic!("not read: {other:?}"),
    }
}

#[tokio::test]
async fn real_pdf_docx_and_text_resumes_are_read_into_sections() {
    let text = samples::resume_text("Ada Lovelace", 3);
    for (declared, bytes) in [
        (ResumeType::Pdf, samples::pdf(&text)),
        (ResumeType::Docx, samples::docx(&text)),
        (ResumeType::Text, text.join("\n").into_bytes()),
    ] {
        let read = parsed(&isolated(declared, &bytes, Duration::from_secs(20)).await);
        let s = &read.sections;
        assert!(s.contact.as_deref().unwrap_or_default().contains("Ada Lovelace"), "{declared:?}: {s:?}");
        assert!(s.experience.as_deref().unwrap_or_default().contains("Acme Corp 2"), "{declared:?}: {s:?}");
        assert!(s.education.as_deref().unwrap_or_default().contains("Example University"), "{declared:?}: {s:?}");
        assert_eq!(s.skills.as_deref(), Some("Rust, Postgres, AWS"), "{declared:?}: {s:?}");
        assert_eq!(s.summary.as_deref(), Some("Backend engineer who builds reliable platforms."), "{declared:?}");
    }
}

/// The reader's output is held to the text rule every API field follows: a résumé whose name hides a right-to-left
/// override, zero-width joiners and control characters (a PDF, a DOCX, a text) comes out with none of them, the
/// line structure kept.
#[tokio::test]
async fn what_the_reader_outputs_follows_the_text_rule() {
    let mut text = samples::resume_text("Mallory\u{202e}gnp.exe Hidden", 2);
    text[0] = format!("{}\u{200b}\u{2066}\u{7}\u{feff}", text[0]);
    text[1] = format!("{}\tTab\u{1b}[31m", text[1]);
    for (declared, bytes) in [
        (ResumeType::Pdf, samples::pdf(&text)),
        (ResumeType::Docx, samples::docx(&text)),
        (ResumeType::Text, text.join("\n").into_bytes()),
    ] {
        let read = parsed(&isolated(declared, &bytes, Duration::from_secs(20)).await);
        let all = serde_json::to_string(&read).unwrap();
        let forbidden: Vec<char> = read
            .text
            .chars()
            .chain(serde_json::to_value(&read.sections).unwrap().to_string().chars())
            .filter(|c| *c != '\n' && route_registry::validate::is_forbidden(*c))
            .collect();
        assert!(forbidden.is_empty(), "{declared:?}: {forbidden:?} in {all}");
        let contact = read.sections.contact.as_deref().unwrap_or_default();
        assert!(contact.contains("Hidden") && contact.contains("Tab[31m"), "{declared:?}: {contact}");
        assert_eq!(read.sections.skills.as_deref(), Some("Rust, Postgres, AWS"), "{declared:?}");
    }
}

#[tokio::test]
async fn a_document_of_the_maximum_size_is_read() {
    let text = samples::resume_text("Max Size", 2);
    let max = route_registry::modules::resume::types::MAX_RESUME_BYTES as usize;
    let bytes = samples::pdf_of_size(&text, max);
    assert!(bytes.len() <= max && bytes.len() > max - 4096, "{} bytes", bytes.len());
    let read = parsed(&isolated(ResumeType::Pdf, &bytes, Duration::from_secs(50)).await);
    assert_eq!(read.sections.skills.as_deref(), Some("Rust, Postgres, AWS"));
}

/// Every file of the corpus: refused by the reader's own bounds with its reason, never read, never past the deadline,
/// and never by the child's hard limits (a child stopped means a bound of the reader's was missed).
#[tokio::test]
async fn every_hostile_file_ends_with_a_reason_within_the_readers_time() {
    let within = Duration::from_secs(50);
    for h in samples::hostile() {
        let started = Instant::now();
        let outcome = isolated(h.declared, &h.bytes, within).await;
        let took = started.elapsed();
        let reason = match &outcome {
            Isolation::Refused { reason, .. } => reason.clone(),
            Isolation::Stopped { reason } => {
                panic!("{}: the child was stopped ({reason}): a reader bound missed it", h.name)
            }
            Isolation::Done { .. } => panic!("{} was read: {outcome:?}", h.name),
        };
        assert!(!reason.is_empty(), "{}: no reason", h.name);
        assert!(reason.contains(h.reason), "{}: `{reason}` does not say `{}`", h.name, h.reason);
        assert!(took < within, "{} took {took:?}", h.name);
        println!("{:<22} {:>9} bytes  {:>6} ms  {reason}", h.name, h.bytes.len(), took.as_millis());
    }
}

/// The costliest documents within the reader's budget are read: the bounds refuse floods, not large résumés. (What
/// they cost is the benchmark's: BENCHMARKS.md, "Résumé processing".)
#[tokio::test]
async fn documents_at_the_edge_of_the_budget_are_read() {
    for (name, bytes) in samples::costly() {
        let read = parsed(&isolated(ResumeType::Pdf, &bytes, Duration::from_secs(50)).await);
        assert!(read.text.len() > 10, "{name}: {:?}", read.text);
    }
}

/// A child that runs past its deadline is killed and said to be too slow; the parent is not held. The document is
/// one of the costliest the reader accepts (seconds of work), so the child cannot finish before the parent's timer
/// fires however loaded the machine is (a small résumé, read in 5 ms, once did under a parallel test run).
#[tokio::test]
async fn a_child_past_its_deadline_is_killed_with_the_reason() {
    let (_, bytes) = samples::costly().into_iter().find(|(name, _)| *name == "q-operators.pdf").unwrap();
    let started = Instant::now();
    let outcome = isolated(ResumeType::Pdf, &bytes, Duration::from_millis(1)).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    match outcome {
        Isolation::Stopped { reason } => assert!(reason.contains("longer than the time"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

/// A child reports its own peak memory, not its parent's: the processor's figures (and the benchmark's) are per
/// document, whatever the process that spawned the child held before.
#[tokio::test]
async fn a_childs_peak_memory_is_its_own() {
    let held = vec![1u8; 300 * 1024 * 1024];
    let outcome = isolated(ResumeType::Text, b"Ada Lovelace\nSkills\nRust", Duration::from_secs(20)).await;
    std::hint::black_box(&held);
    match outcome {
        Isolation::Done { usage, .. } => {
            assert!(usage.peak_kib > 0, "{usage:?}");
            assert!(usage.filtered, "the reader ran without its seccomp filter: {usage:?}");
            assert!(usage.peak_kib < 150 * 1024, "the child reports its parent's 300 MiB: {usage:?}");
        }
        other => panic!("{other:?}"),
    }
}

/// xorshift64*: a fixed seed, so a failing input can be found again by its iteration.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutation of `seed`: flipped bytes, a cut, a repeated or removed span, or random bytes spliced in.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let len = v.len().max(1);
        match rng.below(5) {
            0 => {
                for _ in 0..=rng.below(16) {
                    let i = rng.below(len);
                    if let Some(b) = v.get_mut(i) {
                        *b ^= 1 << rng.below(8);
                    }
                }
            }
            1 => v.truncate(rng.below(len)),
            2 => {
                let (a, n) = (rng.below(len), rng.below(256));
                let span: Vec<u8> = v.iter().skip(a).take(n).copied().collect();
                let at = rng.below(len);
                v.splice(at.min(v.len())..at.min(v.len()), span.iter().copied().cycle().take(span.len() * 8));
            }
            3 => {
                let a = rng.below(len);
                let b = (a + rng.below(512)).min(v.len());
                if a < b {
                    v.drain(a..b);
                }
            }
            _ => {
                let at = rng.below(len).min(v.len());
                let junk: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
                v.splice(at..at, junk);
            }
        }
    }
    v
}

/// The bounded fuzz run: at most 3,000 mutated documents or 90 s, whichever comes first. Each must end read or
/// refused with a reason within its own 10 s; a child stopped (a crash, an abort, a limit reached) fails the run.
#[tokio::test]
async fn fuzzed_documents_each_end_read_or_with_a_reason() {
    let text = samples::resume_text("Fuzz Target", 2);
    let seeds = [
        (ResumeType::Pdf, samples::pdf(&text)),
        (ResumeType::Docx, samples::docx(&text)),
        (ResumeType::Text, text.join("\n").into_bytes()),
    ];
    let mut rng = Rng(0x5EED_CAFE_F00D_D00D);
    let (started, budget) = (Instant::now(), Duration::from_secs(90));
    let (mut read, mut refused, mut stopped, mut runs) = (0, 0, Vec::new(), 0);
    while runs < 3_000 && started.elapsed() < budget {
        let (declared, seed) = &seeds[runs % seeds.len()];
        let input = mutate(&mut rng, seed);
        let one = Instant::now();
        match isolated(*declared, &input, Duration::from_secs(10)).await {
            Isolation::Done { output, .. } => {
                serde_json::from_slice::<ReadDocument>(&output).unwrap_or_else(|e| panic!("run {runs}: {e}"));
                read += 1;
            }
            Isolation::Refused { reason, .. } => {
                assert!(!reason.is_empty(), "run {runs}: a refusal without a reason");
                refused += 1;
            }
            // A crash, an abort or a limit reached is the reader's failure to bound the input itself.
            Isolation::Stopped { reason } => stopped.push((runs, reason)),
        }
        assert!(one.elapsed() < Duration::from_secs(11), "run {runs} took {:?}", one.elapsed());
        runs += 1;
    }
    println!(
        "fuzz: {runs} runs in {:?}: {read} read, {refused} refused, {} stopped {stopped:?}",
        started.elapsed(),
        stopped.len()
    );
    assert!(runs >= 100, "only {runs} runs in {budget:?}");
    assert!(stopped.is_empty(), "the reader's child stopped (crashed, aborted or at a limit) on: {stopped:?}");
}

/// What the reader does with arbitrary text (its own code, in-process): never panics, and the same text always
/// gives the same sections.
#[test]
fn arbitrary_text_is_normalised_and_split_deterministically() {
    let mut rng = Rng(42);
    let words =
        ["Experience", "SKILLS:", "Education", "\r\n", "\n", "\t", "é", "\u{0}", "\u{FEFF}", "a", " ", "Summary"];
    for _ in 0..2_000 {
        let text: String = (0..rng.below(200)).map(|_| words[rng.below(words.len())]).collect();
        if let Ok(clean) = resume_module::read::normalise(&text) {
            assert!(!clean.contains('\u{0}') && !clean.contains('\r'), "{clean:?}");
            let a = resume_module::sections::split(&clean);
            assert_eq!(a, resume_module::sections::split(&clean));
        }
    }
}

//! `cargo bench -p resume-module --bench reader` (also `cargo xtask bench resume`): what reading a résumé costs, as
//! the processor reads it, in a child process of its own release binary with the hard limits: for PDF, DOCX and
//! text, small (one page), typical (three pages and a 150 KB image, as word processors write them) and the maximum
//! (5 MiB), then the costliest documents the reader still reads (at the edge of its budget), then every file of the
//! adversarial corpus. Per case: wall time from spawning the child to its
//! answer (spawn, reading the input from a pipe, parsing, writing the answer), the child's own CPU time, and its peak
//! resident memory; medians with min–max over the runs. Plain pipes, warm page cache; the fetch from S3 and the
//! database calls around it are not included (the cold-start benchmark has the whole function).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used, reason = "a benchmark's output")]

use std::time::{Duration, Instant};

use module_runtime::isolate::{self, Isolation};
use resume_module::samples;
use resume_module::READER_LIMITS;
use route_registry::modules::resume::types::{ResumeType, MAX_RESUME_BYTES};

const RUNS: usize = 15;

/// Incompressible bytes (an image's), from a fixed seed.
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A PDF with `pages` pages of text and an image-like stream of `image` incompressible bytes.
fn pdf(pages: usize, image: usize) -> Vec<u8> {
    use lopdf::{dictionary, Stream};
    let mut doc = samples::pdf_document(&samples::resume_text("Bench Mark", 8), pages);
    if image > 0 {
        doc.add_object(Stream::new(dictionary! {"Subtype" => "Image"}, noise(image)).with_compression(false));
    }
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// A DOCX with the text `times` over and an image part of `image` bytes.
fn docx(times: usize, image: usize) -> Vec<u8> {
    let text: Vec<String> = (0..times).flat_map(|_| samples::resume_text("Bench Mark", 8)).collect();
    let document = samples::docx(&text);
    if image == 0 {
        return document;
    }
    // The same package with a stored (incompressible) image part added, as Word stores a photo.
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(document)).unwrap();
    let mut entries = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut data).unwrap();
        let name: String = f.name().unwrap().into_owned();
        entries.push((name, data));
    }
    entries.push(("word/media/image1.png".to_owned(), noise(image)));
    let refs: Vec<(&str, Vec<u8>)> = entries.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
    samples::zip_of(&refs)
}

fn median_range(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn case(runtime: &tokio::runtime::Runtime, name: &str, declared: ResumeType, bytes: &[u8]) {
    let input = resume_module::reader_input(declared, bytes);
    let (mut walls, mut cpus, mut peaks, mut outcome) = (Vec::new(), Vec::new(), Vec::new(), String::new());
    for _ in 0..RUNS {
        let started = Instant::now();
        let result = runtime
            .block_on(isolate::run(
                "resume-process-resume-doc",
                READER_LIMITS,
                input.clone(),
                Instant::now() + Duration::from_secs(55),
            ))
            .unwrap();
        walls.push(started.elapsed().as_secs_f64() * 1000.0);
        match result {
            Isolation::Done { usage, .. } => {
                cpus.push(usage.cpu_us as f64 / 1000.0);
                peaks.push(usage.peak_kib as f64 / 1024.0);
                outcome = "parsed".into();
            }
            Isolation::Refused { usage, reason } => {
                cpus.push(usage.cpu_us as f64 / 1000.0);
                peaks.push(usage.peak_kib as f64 / 1024.0);
                outcome = format!("refused: {}", reason.chars().take(40).collect::<String>());
            }
            Isolation::Stopped { reason } => outcome = format!("stopped: {reason}"),
        }
    }
    let (w, w0, w1) = median_range(walls);
    let (c, c0, c1) = if cpus.is_empty() { (0.0, 0.0, 0.0) } else { median_range(cpus) };
    let (p, _, p1) = if peaks.is_empty() { (0.0, 0.0, 0.0) } else { median_range(peaks) };
    println!(
        "{name:<30} {:>9.1} {:>22} {:>22} {:>12}  {outcome}",
        bytes.len() as f64 / 1024.0,
        format!("{w:.1} ({w0:.1}–{w1:.1})"),
        format!("{c:.1} ({c0:.1}–{c1:.1})"),
        format!("{p:.1} / {p1:.1}"),
    );
}

fn main() {
    std::env::set_var(isolate::EXE_VARIABLE, env!("CARGO_BIN_EXE_resume-module"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let max = MAX_RESUME_BYTES as usize;
    println!("reading a résumé in the isolated child (release, {RUNS} runs each; medians, min–max)");
    println!(
        "{:<30} {:>9} {:>22} {:>22} {:>12}  outcome",
        "document", "KiB", "wall ms", "child CPU ms", "peak MiB med/max"
    );
    let text = samples::resume_text("Bench Mark", 8).join("\n");
    let cases: Vec<(&str, ResumeType, Vec<u8>)> = vec![
        ("PDF small (1 page)", ResumeType::Pdf, pdf(1, 0)),
        ("PDF typical (3 pages, image)", ResumeType::Pdf, pdf(3, 150 * 1024)),
        ("PDF maximum (5 MiB)", ResumeType::Pdf, samples::pdf_of_size(&samples::resume_text("Bench Mark", 8), max)),
        ("PDF 100 pages", ResumeType::Pdf, pdf(100, 0)),
        ("DOCX small", ResumeType::Docx, docx(1, 0)),
        ("DOCX typical (image)", ResumeType::Docx, docx(2, 150 * 1024)),
        ("DOCX maximum (5 MiB)", ResumeType::Docx, docx(2, max - 8 * 1024)),
        ("text small", ResumeType::Text, text.clone().into_bytes()),
        ("text typical (3×)", ResumeType::Text, text.repeat(3).into_bytes()),
        ("text maximum (5 MiB)", ResumeType::Text, "word ".repeat(max / 5).into_bytes()),
    ];
    for (name, declared, bytes) in &cases {
        assert!(bytes.len() <= max, "{name} is {} bytes", bytes.len());
        case(&runtime, name, *declared, bytes);
    }
    println!("at the edge of the reader's budget (read):");
    for (name, bytes) in samples::costly() {
        case(&runtime, name, ResumeType::Pdf, &bytes);
    }
    println!("the adversarial corpus (refused):");
    for h in samples::hostile() {
        case(&runtime, h.name, h.declared, &h.bytes);
    }
}

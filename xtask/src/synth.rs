//! `cargo xtask synth` in the task runner: the same options and the same code as the binary `cargo xtask` runs for
//! synth (`xtask/synth/`, which builds from the stacks alone), plus what only benchmarks use: a report of the
//! process's own CPU time and peak memory, and synthetic catalogs for the scaling benchmark.

use anyhow::Result;

/// Named apart from `xtask_synth::Args`, which it flattens: clap names each argument group after its struct, and two
/// groups of one name are refused when the command is built.
#[derive(Debug, clap::Args)]
pub struct SynthTask {
    #[command(flatten)]
    synth: xtask_synth::Args,
    /// Print this process's CPU time and peak resident memory at the end (for benchmarks).
    #[arg(long, hide = true)]
    report_usage: bool,
    /// Synthesize this many copies of org-module instead of the catalog (the synth scaling benchmark).
    #[arg(long, hide = true)]
    synthetic_modules: Option<usize>,
}

pub fn run(args: &SynthTask) -> Result<()> {
    let synthetic = args.synthetic_modules.map(synthetic_catalog);
    xtask_synth::run_with(&args.synth, synthetic.as_deref())?;
    if args.report_usage {
        let pid = std::process::id();
        println!("cpu_ns={}", crate::bench::cpu_time(pid).unwrap_or_default().as_nanos());
        println!("peak_rss_kib={}", crate::bench::peak_rss_kib(pid).unwrap_or(0));
    }
    Ok(())
}

/// `n` copies of org-module under other names (`m0-module` …, routes under `/m0/…`), for the synth scaling
/// benchmark. The catalog's types hold `&'static` data (they are constants), so the copies are leaked: once, in a
/// benchmark process that exits right after.
fn synthetic_catalog(n: usize) -> Vec<route_registry::Module> {
    use route_registry::{modules::org, Function, Module, Route, Use};
    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }
    (0..n)
        .map(|i| {
            let name = leak(format!("m{i}-module"));
            let copy = |f: &Function| Function { module: name, binary: leak(format!("m{i}-{}", f.name)), ..*f };
            // The queue-fed functions first: the copies of their producers send to the copies, not to org-module.
            let consumers: &'static [Function] =
                Box::leak(org::FUNCTIONS.iter().filter(|f| f.queues().count() == 0).map(copy).collect());
            let functions: Vec<Function> = org::FUNCTIONS
                .iter()
                .map(|f| {
                    let uses: Vec<Use> = f
                        .uses
                        .iter()
                        .map(|u| match u {
                            Use::Queue(to) => match consumers.iter().find(|c| c.name == to.name) {
                                Some(c) => Use::Queue(c),
                                None => *u,
                            },
                            other => *other,
                        })
                        .collect();
                    Function { uses: Box::leak(uses.into_boxed_slice()), ..copy(f) }
                })
                .collect();
            let functions: &'static [Function] = Box::leak(functions.into_boxed_slice());
            let routes: Vec<Route> = org::ROUTES
                .iter()
                .map(|r| {
                    let at = org::FUNCTIONS.iter().position(|f| *f == r.function).unwrap_or(0);
                    Route { path: leak(format!("/m{i}{}", r.path)), function: functions[at], ..*r }
                })
                .collect();
            Module {
                name,
                summary: org::MODULE.summary,
                functions,
                routes: Box::leak(routes.into_boxed_slice()),
                service_functions: org::MODULE.service_functions,
                renamed: &[],
            }
        })
        .collect()
}

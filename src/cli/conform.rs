//! `wgpu-lstm conform`: randomized GPU-vs-CPU cases over the whole feature grid on the chosen
//! adapter; one line per case, a closing `N passed, M failed`, non-zero exit on any failure.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::progress;
use super::AdapterArgs;
use wgpu_lstm::bench::{AdapterReport, Machine};
use wgpu_lstm::conform::ConformCase;
use wgpu_lstm::gpu::Variants;
use wgpu_lstm::{Error, GpuContext, Result, CONFORMANCE_TOLERANCE};

#[derive(Args)]
pub struct ConformArgs {
    /// Number of random cases.
    #[arg(long, default_value_t = 50)]
    cases: usize,
    /// Seed of the first case (case k uses seed + k).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    adapter: AdapterArgs,
    /// Run every case with every kernel variant that applies to it (each GEMM with each step,
    /// layer by layer and, for unidirectional stacks without projection, as a wavefront), not
    /// just the autotuned ones.
    #[arg(long)]
    all_variants: bool,
    /// Run every case with these kernel variants, e.g. `regblock,b4` or `regblock,b4,layers`.
    #[arg(long, value_name = "GEMM,STEP[,SCHEDULE]", conflicts_with = "all_variants")]
    variants: Option<String>,
    /// Also write the results as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(Serialize)]
struct ConformReport {
    schema: &'static str,
    machine: Machine,
    adapter: AdapterReport,
    tolerance: f32,
    passed: usize,
    failed: usize,
    cases: Vec<CaseReport>,
}

#[derive(Serialize)]
struct CaseReport {
    seed: u64,
    config: String,
    /// The kernels forced for this run; null when autotuned.
    variants: Option<String>,
    passed: bool,
    /// Worst absolute GPU-vs-CPU difference; null when the case could not run.
    worst_error: Option<f32>,
    error: Option<String>,
}

pub fn conform(args: &ConformArgs) -> Result<ExitCode> {
    if args.cases == 0 {
        return Err(Error::invalid("--cases", "must be at least 1"));
    }
    let ctx = GpuContext::with_request(&args.adapter.request())?;
    println!("adapter: {}", ctx.describe());
    println!("tolerance: max abs error {CONFORMANCE_TOLERANCE:.0e}");
    let runs: Vec<Option<Variants>> = if args.all_variants {
        Variants::all().into_iter().map(Some).collect()
    } else {
        vec![args.variants.as_deref().map(super::parse_variants).transpose()?]
    };
    let bar = progress::bar((args.cases * runs.len()) as u64, "conform");
    let mut cases = Vec::with_capacity(args.cases * runs.len());
    for k in 0..args.cases {
        let seed = args.seed + k as u64;
        let case = ConformCase::random(seed);
        // A wavefront the case cannot run is the layer-by-layer run, which is already listed.
        let applicable: Vec<Option<Variants>> = runs
            .iter()
            .copied()
            .filter(|v| v.is_none_or(|v| !args.all_variants || v.effective(&case.config) == v))
            .collect();
        bar.inc((runs.len() - applicable.len()) as u64);
        for variants in &applicable {
            let variants = &variants.map(|v| v.effective(&case.config));
            let (worst_error, error) = match case.run(ctx.pipeline_cache(), &ctx.queue, *variants) {
                Ok(e) => (Some(e), None),
                Err(e) => (None, Some(e.to_string())),
            };
            let passed = worst_error.is_some_and(|e| e <= CONFORMANCE_TOLERANCE);
            let verdict = match (passed, worst_error, &error) {
                (true, Some(e), _) => format!("PASS worst error {e:.2e}"),
                (false, Some(e), _) => format!("FAIL worst error {e:.2e}"),
                (_, None, Some(msg)) => format!("FAIL {msg}"),
                _ => unreachable!("a case either ran or failed"),
            };
            let kernels = variants.map_or(String::new(), |v| format!(" [{v}]"));
            bar.suspend(|| {
                println!(
                    "case {k:3} seed {seed}{kernels}: {} ... {verdict}",
                    case.describe()
                )
            });
            bar.inc(1);
            cases.push(CaseReport {
                seed,
                config: case.describe(),
                variants: variants.map(|v| v.to_string()),
                passed,
                worst_error,
                error,
            });
        }
    }
    bar.finish_and_clear();
    let passed = cases.iter().filter(|c| c.passed).count();
    let failed = cases.len() - passed;
    println!("{passed} passed, {failed} failed");
    if let Some(path) = &args.json {
        let report = ConformReport {
            schema: "wgpu-lstm-conform/1",
            machine: Machine::detect(),
            adapter: AdapterReport::of(&ctx.adapter_info()),
            tolerance: CONFORMANCE_TOLERANCE,
            passed,
            failed,
            cases,
        };
        std::fs::write(path, serde_json::to_string_pretty(&report).expect("serializes"))
            .map_err(|e| Error::io(path, e))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

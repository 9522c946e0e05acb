//! `wgpu-lstm conform`: GPU-vs-CPU cases on the chosen adapter, each run with every kernel
//! combination the engine could use for it (or only the autotune's pick, or given kernels) and
//! compared under the error model; one line per run, a summary per kernel variant; then the
//! training part (`conform_training.rs`); a non-zero exit on any failure.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::conform_training::{self, TrainingReport};
use super::progress;
use super::AdapterArgs;
use wgpu_lstm::bench::{AdapterReport, Machine};
use wgpu_lstm::conform::{suite, CaseShape, Check, Kernels, Origin, Verdict, STRATA};
use wgpu_lstm::gpu::Variants;
use wgpu_lstm::{Error, GpuContext, Result, ABSOLUTE_ROUNDOFFS, RELATIVE_ROUNDOFFS};

#[derive(Args)]
pub struct ConformArgs {
    /// Number of cases: one of each named combination (docs/conformance.md lists them) first, then any --shape,
    /// then random ones up to this many.
    #[arg(long, default_value_t = 50)]
    cases: usize,
    /// Seed of the first case (case k uses seed + k).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also check a production shape, B,T,I,H or B,T,I,H,L (repeatable).
    #[arg(long, value_name = "B,T,I,H[,L]")]
    shape: Vec<CaseShape>,
    /// Run only case K of the run (the same seed and options name the same cases).
    #[arg(long, value_name = "K")]
    only: Option<usize>,
    #[command(flatten)]
    adapter: AdapterArgs,
    /// Check only the kernels the autotune picks for each case, not every combination the engine
    /// could run.
    #[arg(long, conflicts_with = "variants")]
    autotuned: bool,
    /// Run every case with these kernel variants only, e.g. `regblock,b4` or `regblock,b4,layers`.
    #[arg(long, value_name = "GEMM,STEP[,SCHEDULE]")]
    variants: Option<String>,
    /// Stop at the first failing run.
    #[arg(long)]
    fail_fast: bool,
    /// Check only the forward, not the training part (gradients, finite differences,
    /// optimizers). `--only` implies it.
    #[arg(long, conflicts_with = "training_only")]
    forward_only: bool,
    /// Check only the training part.
    #[arg(long, conflicts_with_all = ["only", "shape", "variants", "autotuned"])]
    training_only: bool,
    /// Also write the results as JSON (schema wgpu-lstm-conform/3).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(Serialize)]
struct ConformReport {
    schema: &'static str,
    machine: Machine,
    adapter: AdapterReport,
    /// `autotuned`, `every-variant` or the forced kernels.
    mode: String,
    error_model: ErrorModel,
    passed: usize,
    failed: usize,
    not_applicable: usize,
    /// The WGSL files of every kernel the run compiled (relative to `shaders/`).
    shader_files: Vec<&'static str>,
    seconds: f64,
    cases: Vec<CaseReport>,
    /// Runs per kernel variant.
    variants: Vec<VariantSummary>,
    /// The training part; null with --forward-only or --only.
    training: Option<TrainingReport>,
}

#[derive(Serialize)]
struct ErrorModel {
    absolute_roundoffs: f32,
    relative_roundoffs: f32,
}

#[derive(Serialize)]
struct CaseReport {
    index: usize,
    seed: u64,
    origin: &'static str,
    config: String,
    atol: Option<f32>,
    rtol: Option<f32>,
    runs: Vec<RunReport>,
    /// Why the case could not be prepared (the CPU reference failed).
    error: Option<String>,
}

#[derive(Serialize)]
struct RunReport {
    /// The kernels that ran, or were asked for where the run failed; null for the autotuned run
    /// that failed before choosing.
    variants: Option<String>,
    /// `pass`, `fail` or `n/a` (a forced combination that does not fit the device).
    verdict: &'static str,
    max_abs_error: Option<f32>,
    /// The worst |gpu − ref| / (atol + rtol·|ref|): at most 1 passes.
    worst_ratio: Option<f32>,
    worst: Option<String>,
    error: Option<String>,
}

#[derive(Serialize, Default, Clone)]
struct VariantSummary {
    variant: String,
    /// Cases that ran it at least once.
    cases: usize,
    runs: usize,
    passed: usize,
    failed: usize,
    not_applicable: usize,
}

fn run_report(requested: Option<Variants>, result: Result<Check>) -> (Verdict, RunReport) {
    let verdict = Verdict::of(requested, &result);
    let run = match result {
        Ok(check) => {
            let c = &check.comparison;
            let worst = c.worst.as_ref().map(|w| {
                format!(
                    "{}[{}]: got {:e}, expected {:e}",
                    w.tensor, w.index, w.got, w.expected
                )
            });
            RunReport {
                variants: Some(check.variants.to_string()),
                verdict: verdict.name(),
                max_abs_error: Some(c.max_abs_error),
                worst_ratio: Some(c.worst_ratio),
                worst,
                error: None,
            }
        }
        Err(e) => RunReport {
            variants: requested.map(|v| v.to_string()),
            verdict: verdict.name(),
            max_abs_error: None,
            worst_ratio: None,
            worst: None,
            error: Some(e.to_string()),
        },
    };
    (verdict, run)
}

pub fn conform(args: &ConformArgs) -> Result<ExitCode> {
    if args.cases == 0 {
        return Err(Error::invalid("--cases", "must be at least 1"));
    }
    let all_cases = suite(args.cases, args.seed, &args.shape)?;
    if let Some(k) = args.only {
        if k >= all_cases.len() {
            return Err(Error::invalid(
                "--only",
                format!("this run has cases 0 to {}", all_cases.len() - 1),
            ));
        }
    }
    let forced = args.variants.as_deref().map(super::parse_variants).transpose()?;
    let ctx = GpuContext::with_request(&args.adapter.request())?;
    let kernels = match (forced, args.autotuned) {
        (Some(v), _) => Kernels::Forced(v),
        (None, true) => Kernels::Autotuned,
        (None, false) => Kernels::EveryVariant,
    };
    let mode = kernels.name();
    println!("adapter: {}", ctx.describe());
    println!(
        "error model: |gpu - cpu| <= atol + rtol·|cpu|, atol = {ABSOLUTE_ROUNDOFFS}·u·√K·L, rtol = \
         {RELATIVE_ROUNDOFFS}·u·√T (u = 2^-24, K the widest gate sum, L layers, T steps)"
    );
    println!(
        "kernels: {}",
        match mode.as_str() {
            "every-variant" => "every combination the engine could run for each case",
            "autotuned" => "the autotune's pick for each case",
            other => other,
        }
    );
    let started = Instant::now();
    let selected: Vec<(usize, &(Origin, wgpu_lstm::conform::ConformCase))> = all_cases
        .iter()
        .enumerate()
        .filter(|(k, _)| !args.training_only && args.only.is_none_or(|only| only == *k))
        .collect();
    let bar = progress::bar(selected.len() as u64, "conform");
    let mut cases = Vec::with_capacity(selected.len());
    let mut summary: BTreeMap<String, (usize, VariantSummary)> = BTreeMap::new();
    let (mut passed, mut failed, mut not_applicable) = (0, 0, 0);
    'cases: for (k, (origin, case)) in selected {
        let header = format!(
            "case {k:3} seed {} [{}] {}",
            case.seed,
            origin.describe(),
            case.describe()
        );
        bar.suspend(|| println!("{header}"));
        let mut report = CaseReport {
            index: k,
            seed: case.seed,
            origin: origin.describe(),
            config: case.describe(),
            atol: None,
            rtol: None,
            runs: Vec::new(),
            error: None,
        };
        let prepared = match case.prepare() {
            Ok(p) => p,
            Err(e) => {
                bar.suspend(|| println!("    FAIL the CPU reference could not run: {e}"));
                report.error = Some(e.to_string());
                failed += 1;
                cases.push(report);
                bar.inc(1);
                if args.fail_fast {
                    break;
                }
                continue;
            }
        };
        report.atol = Some(prepared.bound.atol);
        report.rtol = Some(prepared.bound.rtol);
        let mut ran = 0;
        for requested in prepared.requests(kernels) {
            let result = prepared.run(ctx.pipeline_cache(), &ctx.queue, requested);
            // The kernels that ran, or that were asked for.
            let actual = result.as_ref().ok().map(|c| c.variants).or(requested);
            let (verdict, run) = run_report(requested, result);
            let kernels = run.variants.clone().unwrap_or_else(|| "autotuned".into());
            let detail = match (&run.worst_ratio, &run.error) {
                (Some(r), _) => format!(
                    "{:.3} of the bound, max abs error {:.2e}{}",
                    r,
                    run.max_abs_error.unwrap_or(0.0),
                    if verdict == Verdict::Fail {
                        format!(", worst at {}", run.worst.as_deref().unwrap_or("?"))
                    } else {
                        String::new()
                    }
                ),
                (None, Some(e)) => e.clone(),
                (None, None) => String::new(),
            };
            let label = match verdict {
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
                Verdict::NotApplicable => "n/a ",
            };
            bar.suspend(|| println!("    {label} {kernels}: {detail}"));
            match verdict {
                Verdict::Pass => passed += 1,
                Verdict::Fail => failed += 1,
                Verdict::NotApplicable => not_applicable += 1,
            }
            if verdict != Verdict::NotApplicable {
                ran += 1;
            }
            if let Some(v) = actual {
                count(&mut summary, k, v, verdict);
            }
            report.runs.push(run);
            if verdict == Verdict::Fail && args.fail_fast {
                cases.push(report);
                break 'cases;
            }
        }
        if ran == 0 {
            bar.suspend(|| println!("    FAIL no kernel combination fits this adapter at this shape"));
            report.error = Some("no kernel combination fits this adapter at this shape".into());
            failed += 1;
        }
        cases.push(report);
        bar.inc(1);
        if failed > 0 && args.fail_fast {
            break;
        }
    }
    bar.finish_and_clear();
    let forward_seconds = started.elapsed().as_secs_f64();
    let stopped = failed > 0 && args.fail_fast;
    let training = (!args.forward_only && args.only.is_none() && !stopped)
        .then(|| conform_training::run(&ctx, args.seed, args.fail_fast));
    let seconds = started.elapsed().as_secs_f64();
    if !summary.is_empty() {
        println!(
            "{:<28} {:>6} {:>6} {:>6} {:>6} {:>6}",
            "variant", "cases", "runs", "passed", "failed", "n/a"
        );
        for (_, s) in summary.values() {
            println!(
                "{:<28} {:>6} {:>6} {:>6} {:>6} {:>6}",
                s.variant, s.cases, s.runs, s.passed, s.failed, s.not_applicable
            );
        }
    }
    if !args.training_only {
        println!(
            "forward: {passed} passed, {failed} failed, {not_applicable} not applicable ({} cases, {} strata, {forward_seconds:.1} s)",
            cases.len(),
            STRATA.len()
        );
    }
    if let Some(t) = &training {
        println!(
            "training: {} passed, {} failed ({} cases, {} finite-difference checks, {} optimizers, {} of {} training kernels, {:.1} s)",
            t.passed,
            t.failed,
            t.cases.len(),
            t.finite_differences.len(),
            t.optimizers.len(),
            t.kernels.len(),
            t.kernels.len() + t.kernels_not_run.len(),
            seconds - forward_seconds
        );
    }
    let failed_training = training.as_ref().map_or(0, |t| t.failed);
    if let Some(path) = &args.json {
        let report = ConformReport {
            schema: "wgpu-lstm-conform/3",
            machine: Machine::detect(),
            adapter: AdapterReport::of(&ctx.adapter_info()),
            mode,
            error_model: ErrorModel {
                absolute_roundoffs: ABSOLUTE_ROUNDOFFS,
                relative_roundoffs: RELATIVE_ROUNDOFFS,
            },
            passed,
            failed,
            not_applicable,
            shader_files: ctx.pipeline_cache().shader_files(),
            seconds,
            cases,
            variants: summary.into_values().map(|(_, s)| s).collect(),
            training,
        };
        let json = serde_json::to_string_pretty(&report).expect("serializes");
        std::fs::write(path, json).map_err(|e| Error::io(path, e))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(if failed + failed_training == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Count a run of case `case` with `variants` for each of its GEMM, step and schedule.
fn count(
    summary: &mut BTreeMap<String, (usize, VariantSummary)>,
    case: usize,
    variants: Variants,
    verdict: Verdict,
) {
    for name in [
        variants.gemm.name(),
        variants.step.name(),
        format!("schedule-{}", variants.schedule.name()),
    ] {
        let (last_case, s) = summary.entry(name.clone()).or_insert_with(|| {
            (
                usize::MAX,
                VariantSummary {
                    variant: name,
                    ..VariantSummary::default()
                },
            )
        });
        if *last_case != case {
            *last_case = case;
            s.cases += 1;
        }
        s.runs += 1;
        match verdict {
            Verdict::Pass => s.passed += 1,
            Verdict::Fail => s.failed += 1,
            Verdict::NotApplicable => s.not_applicable += 1,
        }
    }
}

//! The training part of `wgpu-lstm conform`: the GPU backward of each training stratum against
//! the float64 CPU backward (tensor by tensor), the CPU backward against finite differences,
//! the optimizers against their float64 rules, and which training kernels ran.

use serde::Serialize;

use wgpu_lstm::conform::{
    required_train_kernels, run_training, FdCheck, OptimizerCheck, TrainCase, TrainCheck, TrainingCheck,
    FD_TOLERANCE, OPTIMIZER_ROUNDOFFS, TRAIN_STRATA,
};
use wgpu_lstm::{Comparison, GpuContext, Result, GRADIENT_ABSOLUTE_ROUNDOFFS, GRADIENT_RELATIVE_ROUNDOFFS};

#[derive(Serialize, Default)]
pub struct TrainingReport {
    pub passed: usize,
    pub failed: usize,
    pub error_model: GradientModel,
    pub cases: Vec<TrainCaseReport>,
    pub finite_differences: Vec<FdReport>,
    pub optimizers: Vec<OptimizerReport>,
    /// The training kernels that ran, and those that should have and did not.
    pub kernels: Vec<&'static str>,
    pub kernels_not_run: Vec<&'static str>,
}

#[derive(Serialize, Default)]
pub struct GradientModel {
    pub absolute_roundoffs: f32,
    pub relative_roundoffs: f32,
    pub finite_difference_tolerance: f64,
    pub optimizer_roundoffs: f32,
}

#[derive(Serialize)]
pub struct TrainCaseReport {
    pub stratum: &'static str,
    pub seed: u64,
    pub config: String,
    pub verdict: &'static str,
    pub kernels: Vec<&'static str>,
    /// Each gradient tensor: its bound and the worst |gpu − ref| / bound.
    pub tensors: Vec<TensorReport>,
    /// The worst tensor's ratio (null when the case failed to run).
    pub worst_ratio: Option<f32>,
    pub error: Option<String>,
}

#[derive(Serialize)]
pub struct TensorReport {
    pub name: String,
    pub atol: f32,
    pub rtol: f32,
    pub worst_ratio: f32,
    pub max_abs_error: f32,
    pub worst: Option<String>,
}

#[derive(Serialize)]
pub struct FdReport {
    pub config: String,
    pub verdict: &'static str,
    /// The worst tensor's |analytic − central difference| / its largest gradient.
    pub worst_tensor: String,
    pub worst_error: Option<f64>,
    pub error: Option<String>,
}

#[derive(Serialize)]
pub struct OptimizerReport {
    pub optimizer: &'static str,
    pub verdict: &'static str,
    pub worst_ratio: Option<f32>,
    pub worst: Option<String>,
    pub error: Option<String>,
}

fn verdict(passed: bool) -> &'static str {
    if passed {
        "pass"
    } else {
        "fail"
    }
}

fn worst_text(c: &Comparison) -> Option<String> {
    c.worst
        .as_ref()
        .map(|w| format!("[{}]: got {:e}, expected {:e}", w.index, w.got, w.expected))
}

/// Run the training part, printing one line per check; stops at the first failure when
/// `fail_fast`.
pub fn run(ctx: &GpuContext, seed: u64, fail_fast: bool) -> TrainingReport {
    let mut report = TrainingReport {
        error_model: GradientModel {
            absolute_roundoffs: GRADIENT_ABSOLUTE_ROUNDOFFS,
            relative_roundoffs: GRADIENT_RELATIVE_ROUNDOFFS,
            finite_difference_tolerance: FD_TOLERANCE,
            optimizer_roundoffs: OPTIMIZER_ROUNDOFFS,
        },
        ..TrainingReport::default()
    };
    println!(
        "training: GPU gradients against the float64 CPU backward, per tensor: |gpu - cpu| <= atol + \
         rtol·|cpu|, atol = {GRADIENT_ABSOLUTE_ROUNDOFFS}·u·√(n + G·H·T)·rms, rtol = \
         {GRADIENT_RELATIVE_ROUNDOFFS}·u·√T·L (n the products each element sums, rms the tensor's own)"
    );
    let tally = |report: &mut TrainingReport, ok: bool| {
        if ok {
            report.passed += 1;
        } else {
            report.failed += 1;
        }
        ok || !fail_fast
    };
    let ran = run_training(ctx.pipeline_cache(), &ctx.queue, seed, |check| {
        let ok = check.passed();
        match check {
            TrainingCheck::Stratum { index, case, result } => {
                report.cases.push(stratum_report(index, &case, result));
            }
            TrainingCheck::FiniteDifferences { case, result } => {
                report.finite_differences.push(fd_report(&case, result));
            }
            TrainingCheck::Optimizer { name, result } => {
                report.optimizers.push(optimizer_report(name, result));
            }
        }
        tally(&mut report, ok)
    });
    if fail_fast && report.failed > 0 {
        return report;
    }
    let missing = required_train_kernels().without(ran);
    report.kernels = ran.names();
    report.kernels_not_run = missing.names();
    println!(
        "training kernels run: {} of {}: {ran}",
        ran.names().len(),
        required_train_kernels().names().len()
    );
    if !missing.is_empty() {
        println!("    FAIL training kernels that never ran: {missing}");
        report.failed += 1;
    }
    report
}

/// Print a training stratum's line (and its failing tensors) and make its report.
fn stratum_report(index: usize, case: &TrainCase, result: Result<TrainCheck>) -> TrainCaseReport {
    let name = TRAIN_STRATA[index].0;
    let mut entry = TrainCaseReport {
        stratum: name,
        seed: case.seed,
        config: case.describe(),
        verdict: "fail",
        kernels: Vec::new(),
        tensors: Vec::new(),
        worst_ratio: None,
        error: None,
    };
    let check = match result {
        Ok(check) => check,
        Err(e) => {
            println!("train {index} [{name}] {}\n    FAIL {e}", entry.config);
            entry.error = Some(e.to_string());
            return entry;
        }
    };
    let worst = check.worst();
    let ok = check.passed();
    println!(
        "train {index} [{name}] {}\n    {} {:.3} of the bound at {} ({}); kernels: {}",
        entry.config,
        if ok { "PASS" } else { "FAIL" },
        worst.map_or(0.0, |w| w.comparison.worst_ratio),
        worst.map_or("-", |w| w.name.as_str()),
        worst.and_then(|w| worst_text(&w.comparison)).unwrap_or_default(),
        check.kernels
    );
    for t in check.tensors.iter().filter(|t| !t.comparison.passed()) {
        println!(
            "    FAIL {}: {:.3} of the bound {}, worst {}",
            t.name,
            t.comparison.worst_ratio,
            t.comparison.bound,
            worst_text(&t.comparison).unwrap_or_default()
        );
    }
    entry.verdict = verdict(ok);
    entry.kernels = check.kernels.names();
    entry.worst_ratio = worst.map(|w| w.comparison.worst_ratio);
    entry.tensors = check
        .tensors
        .iter()
        .map(|t| TensorReport {
            name: t.name.clone(),
            atol: t.comparison.bound.atol,
            rtol: t.comparison.bound.rtol,
            worst_ratio: t.comparison.worst_ratio,
            max_abs_error: t.comparison.max_abs_error,
            worst: worst_text(&t.comparison),
        })
        .collect();
    entry
}

/// Print a finite-difference check's line and make its report.
fn fd_report(case: &TrainCase, result: Result<FdCheck>) -> FdReport {
    let mut entry = FdReport {
        config: case.describe(),
        verdict: "fail",
        worst_tensor: String::new(),
        worst_error: None,
        error: None,
    };
    match result {
        Ok(fd) => {
            let (tensor, error) = fd.worst();
            println!(
                "finite differences {}: {} worst {error:.1e} of the tensor's largest gradient at {tensor} \
                 (tolerance {FD_TOLERANCE:e}; {} values at a kink, checked one-sided)",
                entry.config,
                if fd.passed() { "PASS" } else { "FAIL" },
                fd.kinks
            );
            entry.verdict = verdict(fd.passed());
            entry.worst_tensor = tensor.to_string();
            entry.worst_error = Some(error);
        }
        Err(e) => {
            println!("finite differences {}: FAIL {e}", entry.config);
            entry.error = Some(e.to_string());
        }
    }
    entry
}

/// Print an optimizer check's line and make its report.
fn optimizer_report(name: &'static str, result: Result<OptimizerCheck>) -> OptimizerReport {
    let mut entry = OptimizerReport {
        optimizer: name,
        verdict: "fail",
        worst_ratio: None,
        worst: None,
        error: None,
    };
    match result {
        Ok(check) => {
            let c = &check.comparison;
            println!(
                "optimizer {name}: {} {:.3} of the bound ({OPTIMIZER_ROUNDOFFS}·u·(|w0| + lr·Σ|update|), \
                 float64 rule) at weights{}",
                if check.passed() { "PASS" } else { "FAIL" },
                c.worst_ratio,
                worst_text(c).unwrap_or_default()
            );
            entry.verdict = verdict(check.passed());
            entry.worst_ratio = Some(c.worst_ratio);
            entry.worst = worst_text(c);
        }
        Err(e) => {
            println!("optimizer {name}: FAIL {e}");
            entry.error = Some(e.to_string());
        }
    }
    entry
}

//! `adapters()`, `conform()` and `bench()`: the adapters, the conformance run and the bench
//! report from Python.

use super::PyResult;
use crate::convert::*;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use wgpu_lstm::bench::{time_shape, AdapterReport, BenchReport, Machine, Settings, Shape};
use wgpu_lstm::conform::{
    required_train_kernels, run_training, suite, Kernels, TrainingCheck, Verdict, FD_TOLERANCE, TRAIN_STRATA,
};
use wgpu_lstm::gpu::{enumerate_adapters, supports_compute};

/// Every adapter wgpu sees that can run compute shaders, as dicts (name, backend, device_type,
/// driver, driver_info, vendor, device).
#[pyfunction]
#[pyo3(signature = (backend=None))]
pub(crate) fn adapters<'py>(py: Python<'py>, backend: Option<&str>) -> PyResult<Bound<'py, PyList>> {
    let backends = backends_of(backend)?;
    let infos: Vec<wgpu::AdapterInfo> = py.detach(|| {
        let (_instance, adapters) = enumerate_adapters(backends);
        adapters
            .iter()
            .filter(|a| supports_compute(a))
            .map(|a| a.get_info())
            .collect()
    });
    let list = PyList::empty(py);
    for info in &infos {
        list.append(adapter_dict(py, info)?)?;
    }
    Ok(list)
}

/// A conformance run: counts, and one dict per run (case, kernels, verdict, errors).
#[pyclass(frozen, module = "wgpu_lstm", name = "ConformResult")]
pub(crate) struct ConformResult {
    #[pyo3(get)]
    pub(crate) adapter: String,
    #[pyo3(get)]
    pub(crate) passed: usize,
    #[pyo3(get)]
    pub(crate) failed: usize,
    #[pyo3(get)]
    pub(crate) not_applicable: usize,
    /// The largest |gpu − cpu| / (atol + rtol·|cpu|) of any run: at most 1 passes.
    #[pyo3(get)]
    pub(crate) worst_ratio: f32,
    pub(crate) runs: Vec<RunRow>,
}

pub(crate) struct RunRow {
    pub(crate) case: usize,
    pub(crate) seed: u64,
    pub(crate) config: String,
    pub(crate) kernels: Option<String>,
    pub(crate) verdict: &'static str,
    pub(crate) max_abs_error: Option<f32>,
    pub(crate) worst_ratio: Option<f32>,
    pub(crate) error: Option<String>,
}

#[pymethods]
impl ConformResult {
    /// True when no run failed.
    #[getter]
    fn ok(&self) -> bool {
        self.failed == 0
    }

    fn __bool__(&self) -> bool {
        self.ok()
    }

    /// One dict per run: case, seed, config, kernels, verdict ("pass", "fail", "n/a"),
    /// max_abs_error, worst_ratio, error.
    #[getter]
    fn runs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for r in &self.runs {
            let d = PyDict::new(py);
            d.set_item("case", r.case)?;
            d.set_item("seed", r.seed)?;
            d.set_item("config", &r.config)?;
            d.set_item("kernels", &r.kernels)?;
            d.set_item("verdict", r.verdict)?;
            d.set_item("max_abs_error", r.max_abs_error)?;
            d.set_item("worst_ratio", r.worst_ratio)?;
            d.set_item("error", &r.error)?;
            list.append(d)?;
        }
        Ok(list)
    }

    fn __repr__(&self) -> String {
        format!(
            "ConformResult(passed={}, failed={}, not_applicable={}, worst_ratio={:.3}, adapter='{}')",
            self.passed, self.failed, self.not_applicable, self.worst_ratio, self.adapter
        )
    }
}

/// GPU-vs-CPU conformance on an adapter: `cases` cases from `seed` (the named strata first, then
/// random ones), each with every kernel combination the engine could run it with, or only the
/// autotune's pick with `every_variant=False`; then, with `training` (the default), the training
/// part: the strata's gradients tensor by tensor, the CPU backward against finite differences,
/// the optimizers against their float64 rules, and a failing row if a training kernel did not
/// run. The same checks as `wgpu-lstm conform`.
#[pyfunction]
#[pyo3(signature = (cases=50, seed=0, *, every_variant=true, training=true, backend=None, adapter=None))]
pub(crate) fn conform(
    py: Python<'_>,
    cases: usize,
    seed: u64,
    every_variant: bool,
    training: bool,
    backend: Option<&str>,
    adapter: Option<&str>,
) -> PyResult<ConformResult> {
    if cases == 0 {
        return Err(PyValueError::new_err("cases: must be at least 1"));
    }
    let ctx = context(py, backend, adapter)?;
    let kernels = if every_variant {
        Kernels::EveryVariant
    } else {
        Kernels::Autotuned
    };
    py.detach(|| -> wgpu_lstm::Result<ConformResult> {
        let mut result = ConformResult {
            adapter: ctx.describe(),
            passed: 0,
            failed: 0,
            not_applicable: 0,
            worst_ratio: 0.0,
            runs: Vec::new(),
        };
        for (k, (_, case)) in suite(cases, seed, &[])?.into_iter().enumerate() {
            let row = |kernels: Option<String>, verdict: Verdict| RunRow {
                case: k,
                seed: case.seed,
                config: case.describe(),
                kernels,
                verdict: verdict.name(),
                max_abs_error: None,
                worst_ratio: None,
                error: None,
            };
            let prepared = match case.prepare() {
                Ok(p) => p,
                Err(e) => {
                    result.failed += 1;
                    result.runs.push(RunRow {
                        error: Some(format!("the CPU reference could not run: {e}")),
                        ..row(None, Verdict::Fail)
                    });
                    continue;
                }
            };
            for requested in prepared.requests(kernels) {
                let outcome = prepared.run(ctx.pipeline_cache(), &ctx.queue, requested);
                let verdict = Verdict::of(requested, &outcome);
                match verdict {
                    Verdict::Pass => result.passed += 1,
                    Verdict::Fail => result.failed += 1,
                    Verdict::NotApplicable => result.not_applicable += 1,
                }
                result.runs.push(match outcome {
                    Ok(check) => {
                        let c = check.comparison;
                        result.worst_ratio = result.worst_ratio.max(c.worst_ratio);
                        RunRow {
                            max_abs_error: Some(c.max_abs_error),
                            worst_ratio: Some(c.worst_ratio),
                            ..row(Some(check.variants.to_string()), verdict)
                        }
                    }
                    Err(e) => RunRow {
                        error: Some(e.to_string()),
                        ..row(requested.map(|v| v.to_string()), verdict)
                    },
                });
            }
        }
        if training {
            check_training(&ctx, seed, &mut result);
        }
        Ok(result)
    })
    .py()
}

/// The training part of a conformance run (`conform::run_training`, as `wgpu-lstm conform` runs
/// it), one row per check after the forward cases; `worst_ratio` is each check's worst error as a
/// fraction of its bound.
fn check_training(ctx: &wgpu_lstm::GpuContext, seed: u64, result: &mut ConformResult) {
    let ran = run_training(ctx.pipeline_cache(), &ctx.queue, seed, |check| {
        let passed = check.passed();
        let ran = check.kernels();
        let kernels = (!ran.is_empty()).then(|| ran.to_string());
        let (config, outcome) = match check {
            TrainingCheck::Stratum {
                index,
                case,
                result: r,
            } => (
                format!("training [{}] {}", TRAIN_STRATA[index].0, case.describe()),
                r.map(|c| {
                    let worst = c.worst().map(|t| &t.comparison);
                    (
                        worst.map(|c| c.max_abs_error),
                        worst.map_or(0.0, |c| c.worst_ratio),
                    )
                }),
            ),
            TrainingCheck::FiniteDifferences { case, result: r } => (
                format!("finite differences {}", case.describe()),
                r.map(|fd| (None, (fd.worst().1 / FD_TOLERANCE) as f32)),
            ),
            TrainingCheck::Optimizer { name, result: r } => (
                format!("optimizer {name}"),
                r.map(|c| (Some(c.comparison.max_abs_error), c.comparison.worst_ratio)),
            ),
        };
        let verdict = if passed { Verdict::Pass } else { Verdict::Fail };
        match verdict {
            Verdict::Pass => result.passed += 1,
            _ => result.failed += 1,
        }
        let (max_abs_error, worst_ratio, error) = match outcome {
            Ok((max, ratio)) => {
                result.worst_ratio = result.worst_ratio.max(ratio);
                (max, Some(ratio), None)
            }
            Err(e) => (None, None, Some(e.to_string())),
        };
        result.runs.push(RunRow {
            case: result.runs.len(),
            seed,
            config,
            kernels,
            verdict: verdict.name(),
            max_abs_error,
            worst_ratio,
            error,
        });
        true
    });
    let missing = required_train_kernels().without(ran);
    if !missing.is_empty() {
        result.failed += 1;
        result.runs.push(RunRow {
            case: result.runs.len(),
            seed,
            config: "training kernels".into(),
            kernels: Some(ran.to_string()),
            verdict: Verdict::Fail.name(),
            max_abs_error: None,
            worst_ratio: None,
            error: Some(format!("training kernels that never ran: {missing}")),
        });
    }
}

/// Time forwards of each shape, a (B, T, I, H) or (B, T, I, H, L) tuple, on an adapter: `warmup`
/// untimed forwards then `reps` timed ones, next to the CPU reference. Returns the report as a
/// dict (schema wgpu-lstm-bench/2, as `wgpu-lstm bench --json` writes it).
#[pyfunction]
#[pyo3(signature = (shapes, *, warmup=2, reps=10, bidirectional=false, weights_precision="f32",
    backend=None, adapter=None))]
#[pyo3(name = "bench")]
#[allow(clippy::too_many_arguments)]
pub(crate) fn bench_shapes<'py>(
    py: Python<'py>,
    shapes: Vec<Vec<usize>>,
    warmup: usize,
    reps: usize,
    bidirectional: bool,
    weights_precision: &str,
    backend: Option<&str>,
    adapter: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let precision = precision_of(weights_precision)?;
    if reps == 0 {
        return Err(PyValueError::new_err("reps: must be at least 1"));
    }
    let shapes = shapes
        .into_iter()
        .map(|s| match s[..] {
            [batch, seq, input, hidden] | [batch, seq, input, hidden, _] => Ok(Shape {
                batch,
                seq,
                input,
                hidden,
                layers: s.get(4).copied().unwrap_or(1),
                bidirectional,
                weights_precision: precision.name().into(),
                cell: wgpu_lstm::Cell::Lstm.name().into(),
            }),
            _ => Err(PyValueError::new_err(format!(
                "shapes: {s:?} is not (B, T, I, H) or (B, T, I, H, L)"
            ))),
        })
        .collect::<PyResult<Vec<_>>>()?;
    let ctx = context(py, backend, adapter)?;
    let settings = Settings {
        warmup,
        reps,
        variants: None,
    };
    let report = py
        .detach(|| -> wgpu_lstm::Result<BenchReport> {
            let results = shapes
                .iter()
                .map(|shape| time_shape(&ctx, shape, &settings, &|| {}))
                .collect::<wgpu_lstm::Result<Vec<_>>>()?;
            Ok(BenchReport::new(
                Machine::detect(),
                AdapterReport::of(&ctx.adapter_info()),
                warmup,
                reps,
                results,
            ))
        })
        .py()?;
    let json = serde_json::to_string(&report).map_err(|e| PyValueError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (json,))
}

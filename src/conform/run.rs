//! A prepared case run on the GPU and compared with the reference: which kernels, and the
//! verdict.

use super::*;

/// A case with its inputs and the CPU reference's output, ready to run on the GPU many times.
pub struct Prepared {
    pub case: ConformCase,
    pub bound: ErrorBound,
    pub(super) weights: LstmWeights,
    pub(super) input: Tensor,
    pub(super) initial: Option<State>,
    pub(super) lens: Option<Vec<usize>>,
    pub(super) expected: Output,
}

/// One GPU run of a case against the reference.
#[derive(Clone, Debug)]
pub struct Check {
    /// The kernels that ran (as the engine's stats report them).
    pub variants: Variants,
    pub comparison: Comparison,
}

impl Check {
    pub fn passed(&self) -> bool {
        self.comparison.passed()
    }
}

/// Which kernels a conformance run checks for each case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernels {
    /// Every combination the engine could run the case with ([`Prepared::variants`]).
    EveryVariant,
    /// Only the autotune's pick.
    Autotuned,
    /// These (made effective for each case's model).
    Forced(Variants),
}

impl Kernels {
    /// `every-variant`, `autotuned` or the forced kernels.
    pub fn name(self) -> String {
        match self {
            Kernels::EveryVariant => "every-variant".into(),
            Kernels::Autotuned => "autotuned".into(),
            Kernels::Forced(v) => v.to_string(),
        }
    }
}

/// What one run of a case shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// A forced combination that does not fit the device at this shape: not a failure.
    NotApplicable,
}

impl Verdict {
    /// The verdict on `result`, a run that asked for `requested` kernels (`None`: autotuned).
    pub fn of(requested: Option<Variants>, result: &Result<Check>) -> Verdict {
        match result {
            Ok(check) if check.passed() => Verdict::Pass,
            Ok(_) => Verdict::Fail,
            Err(Error::DeviceLimit { .. }) if requested.is_some() => Verdict::NotApplicable,
            Err(_) => Verdict::Fail,
        }
    }

    /// `pass`, `fail` or `n/a`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NotApplicable => "n/a",
        }
    }
}

impl Prepared {
    /// The runs `kernels` asks of this case: each entry the kernels to force (`None`: autotuned).
    pub fn requests(&self, kernels: Kernels) -> Vec<Option<Variants>> {
        match kernels {
            Kernels::EveryVariant => self.variants().into_iter().map(Some).collect(),
            Kernels::Autotuned => vec![None],
            Kernels::Forced(v) => vec![Some(v.effective(&self.case.config))],
        }
    }

    /// Every combination of kernels the engine could run this case with: those of
    /// [`Variants::all`] that apply to the model (a wavefront only where it can run one, a
    /// sequence kernel only where it fits), together running every GEMM and step variant.
    /// Whether each fits the device's limits at this shape shows when it runs.
    pub fn variants(&self) -> Vec<Variants> {
        Variants::all()
            .into_iter()
            .filter(|v| v.effective(&self.case.config) == *v)
            .collect()
    }

    /// Run on the GPU (autotuned kernels, or `variants`) and compare with the reference under
    /// [`Prepared::bound`]. A forced combination that does not fit the device at this shape is
    /// [`Error::DeviceLimit`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run(
        &self,
        cache: &PipelineCache,
        queue: &wgpu::Queue,
        variants: Option<Variants>,
    ) -> Result<Check> {
        let gpu = Lstm::with_variants(cache, queue, &self.case.config, &self.weights, variants)?;
        let (got, ran) = if self.case.pooled {
            self.run_pooled(gpu)?
        } else {
            let got = gpu.forward_with_lens(&self.input, self.initial.as_ref(), self.lens.as_deref())?;
            (got, gpu.last_stats().variants)
        };
        Ok(Check {
            variants: ran_as_forced(variants, ran)?,
            comparison: got.compare(&self.expected, self.bound)?,
        })
    }
}

impl Prepared {
    /// [`Prepared::run`] without blocking, for the web: the engine is built with
    /// [`Lstm::new_async`] (no autotune) and run with [`Lstm::forward_async`] (see there about
    /// polling on native).
    pub async fn run_async(
        &self,
        cache: &PipelineCache,
        queue: &wgpu::Queue,
        variants: Option<Variants>,
    ) -> Result<Check> {
        let gpu = Lstm::new_async(cache, queue, &self.case.config, &self.weights, variants).await?;
        let (got, ran) = if self.case.pooled {
            self.run_pooled_async(gpu).await?
        } else {
            let got = gpu
                .forward_async(&self.input, self.initial.as_ref(), self.lens.as_deref())
                .await?;
            (got, gpu.last_stats().variants)
        };
        Ok(Check {
            variants: ran_as_forced(variants, ran)?,
            comparison: got.compare(&self.expected, self.bound)?,
        })
    }
}

/// `ran`, the kernels a forward's stats report, when they are the `forced` ones (or none were
/// forced); otherwise an error: a run that forced kernels and ran others tested nothing it meant
/// to.
pub fn ran_as_forced(forced: Option<Variants>, ran: Variants) -> Result<Variants> {
    match forced {
        Some(forced) if forced != ran => Err(Error::invalid(
            "forced kernels",
            format!("{forced} were forced but the engine ran {ran}"),
        )),
        _ => Ok(ran),
    }
}

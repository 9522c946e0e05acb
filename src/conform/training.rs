//! The training part of a conformance run, in order: each training stratum's GPU gradients
//! ([`TrainPrepared::run`]), the CPU backward against finite differences
//! ([`finite_differences`]), then the optimizers ([`check_optimizer`]). `wgpu-lstm conform` and
//! Python's `conform` both run it through [`run_training`].

use super::*;
use crate::backend::gpu::TrainKernels;

/// One check of the training part, with its outcome.
pub enum TrainingCheck {
    /// `TRAIN_STRATA[index]`.
    Stratum {
        index: usize,
        case: TrainCase,
        result: Result<TrainCheck>,
    },
    FiniteDifferences {
        case: TrainCase,
        result: Result<FdCheck>,
    },
    Optimizer {
        name: &'static str,
        result: Result<OptimizerCheck>,
    },
}

impl TrainingCheck {
    /// Whether the check ran and passed.
    pub fn passed(&self) -> bool {
        match self {
            TrainingCheck::Stratum { result, .. } => result.as_ref().is_ok_and(TrainCheck::passed),
            TrainingCheck::FiniteDifferences { result, .. } => result.as_ref().is_ok_and(FdCheck::passed),
            TrainingCheck::Optimizer { result, .. } => result.as_ref().is_ok_and(OptimizerCheck::passed),
        }
    }

    /// The training kernels the check dispatched (none on the CPU).
    pub fn kernels(&self) -> TrainKernels {
        match self {
            TrainingCheck::Stratum { result: Ok(c), .. } => c.kernels,
            TrainingCheck::Optimizer { result: Ok(c), .. } => c.kernels,
            _ => TrainKernels::default(),
        }
    }
}

/// Run the training part with seed `seed`, handing each check to `each` as it finishes; `each`
/// returns whether to go on. Returns the training kernels the checks dispatched, which a full
/// run must find to be [`required_train_kernels`].
pub fn run_training(
    cache: &PipelineCache,
    queue: &wgpu::Queue,
    seed: u64,
    mut each: impl FnMut(TrainingCheck) -> bool,
) -> TrainKernels {
    let mut ran = TrainKernels::default();
    let mut hand = |check: TrainingCheck| {
        ran = ran.union(check.kernels());
        each(check)
    };
    let mut go_on = true;
    for index in 0..TRAIN_STRATA.len() {
        if !go_on {
            break;
        }
        let case = TrainCase::stratum(index, seed + index as u64);
        let result = case.prepare().and_then(|p| p.run(cache, queue));
        go_on = hand(TrainingCheck::Stratum { index, case, result });
    }
    for case in finite_difference_cases(seed) {
        if !go_on {
            break;
        }
        let result = finite_differences(&case);
        go_on = hand(TrainingCheck::FiniteDifferences { case, result });
    }
    for (name, optimizer) in optimizer_cases() {
        if !go_on {
            break;
        }
        let result = check_optimizer(cache, queue, optimizer, seed);
        go_on = hand(TrainingCheck::Optimizer { name, result });
    }
    ran
}

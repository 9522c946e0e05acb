//! [`Trainer`]: an optimizer's state on the device, and the step that runs a backward and the
//! update of the resident weights in one submission.

use std::sync::atomic::Ordering;

use super::kernels::{OptimizerParams, Params, TrainKernel, OPT_WORKGROUP};
use super::workspace::TrainBuf;
use super::{counted, storage, PassStats, Tape, TrainLstm};
use crate::backend::gpu::scope::{self, capture};
use crate::error::Result;
#[cfg(not(target_arch = "wasm32"))]
use crate::error::{Error, GpuError};
use crate::tensor::Tensor;
use crate::train::optim::bias_corrections;
use crate::train::{Optimizer, OptimizerKind};

/// SGD-with-momentum or Adam state for one [`TrainLstm`]'s weights.
pub struct Trainer {
    optimizer: Optimizer,
    moments: wgpu::Buffer,
    norm_sq: wgpu::Buffer,
    steps: u32,
}

impl Trainer {
    /// Zeroed optimizer state for `model`'s weights.
    pub fn new(model: &TrainLstm, optimizer: Optimizer) -> Result<Trainer> {
        optimizer.validate()?;
        let device = &model.device;
        let (moments, norm_sq) = capture(device, "allocating the optimizer state", || -> Result<_> {
            Ok((
                storage(
                    device,
                    "optimizer moments",
                    model.layout.len * optimizer.state_per_weight(),
                )?,
                storage(device, "gradient norm", 1)?,
            ))
        })??;
        Ok(Trainer {
            optimizer,
            moments,
            norm_sq,
            steps: 0,
        })
    }

    pub fn optimizer(&self) -> &Optimizer {
        &self.optimizer
    }

    /// Updates made so far.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// Backpropagate from `tape` (as [`TrainLstm::backward`]) and update `model`'s weights, in
    /// one submission and without reading anything back. Blocks until the GPU is done. (On the
    /// web: [`Trainer::step_async`].)
    #[cfg(not(target_arch = "wasm32"))]
    pub fn step(
        &mut self,
        model: &TrainLstm,
        tape: &Tape,
        dy: &Tensor,
        dh_n: Option<&Tensor>,
        dc_n: Option<&Tensor>,
    ) -> Result<()> {
        let submission = self.submit_step(model, tape, dy, dh_n, dc_n)?;
        model
            .device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submission),
                timeout: None,
            })
            .map_err(|e| Error::Gpu {
                during: "a training step",
                source: GpuError::Poll(e),
            })?;
        Ok(())
    }

    /// [`Trainer::step`] without waiting: it returns once the work is submitted (the next
    /// readback, such as [`TrainLstm::forward_train_async`], sees the updated weights).
    pub async fn step_async(
        &mut self,
        model: &TrainLstm,
        tape: &Tape,
        dy: &Tensor,
        dh_n: Option<&Tensor>,
        dc_n: Option<&Tensor>,
    ) -> Result<()> {
        let device = model.device.clone();
        scope::entry(&device, "a training step", async {
            self.submit_step(model, tape, dy, dh_n, dc_n).map(|_| ())
        })
        .await
    }

    fn submit_step(
        &mut self,
        model: &TrainLstm,
        tape: &Tape,
        dy: &Tensor,
        dh_n: Option<&Tensor>,
        dc_n: Option<&Tensor>,
    ) -> Result<wgpu::SubmissionIndex> {
        let device = &model.device;
        let n = model.layout.len;
        let step = self.steps + 1;
        model.check_backward(tape, dy, dh_n, dc_n)?;
        // Held until submitted: the backward's buffers serve one pass at a time.
        let guard = tape.workspace();
        let ws = guard.as_ref().expect("a tape holds its workspace until dropped");
        let (submission, backward, update, uploaded) =
            capture(device, "a training step", || -> Result<_> {
                let o = &self.optimizer;
                let mut params = OptimizerParams {
                    count: n as u32,
                    lr: o.learning_rate,
                    max_norm: o.clip_norm.unwrap_or(0.0),
                    ..OptimizerParams::default()
                };
                match o.kind {
                    OptimizerKind::Sgd { momentum } => {
                        params.kind = 0;
                        params.momentum = momentum;
                    }
                    OptimizerKind::Adam { beta1, beta2, eps } => {
                        let (c1, c2) = bias_corrections(beta1, beta2, step);
                        params.kind = 1;
                        params.momentum = beta1;
                        params.beta2 = beta2;
                        params.eps = eps;
                        params.correct1 = c1;
                        params.correct2 = c2;
                    }
                }
                let block = Params::Optimizer(params);
                let groups = n.div_ceil(OPT_WORKGROUP as usize);
                let grads = ws.buffer(TrainBuf::Grads);
                let e = model.encode_backward(tape, ws, (dy, dh_n, dc_n), |rec| {
                    if o.clip_norm.is_some() {
                        rec.push(TrainKernel::Norm, block, vec![grads, &self.norm_sq], [1, 1])?;
                    }
                    rec.push(
                        TrainKernel::Update,
                        block,
                        vec![&model.params, grads, &self.moments, &self.norm_sq],
                        [groups, 1],
                    )
                })?;
                let submission = model.queue.submit([e.encoder.finish()]);
                Ok((submission, (e.backward, e.kernels), e.added, e.uploaded))
            })??;
        drop(guard);
        self.steps = step;
        model.version.fetch_add(1, Ordering::Relaxed);
        model.record_stats(|s| {
            s.backward = counted(backward.0, uploaded, None);
            s.kernels = s.kernels.union(backward.1);
            s.optimizer = PassStats::planned(update as usize);
        });
        Ok(submission)
    }
}

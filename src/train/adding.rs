//! The adding problem (Hochreiter & Schmidhuber, 1997): each sequence holds T pairs (value,
//! marker) with values uniform in [0, 1] and exactly two markers, one in each half; the target is
//! the sum of the two marked values. Answering 1 always has an MSE of 1/6 ≈ 0.167; solving it
//! means carrying two numbers across the whole sequence.
//!
//! [`train`] fits a one-layer LSTM on the GPU ([`TrainLstm`], [`Trainer`] with Adam) plus a
//! linear head on its last hidden state (on the host: H + 1 weights, same Adam) until the MSE on
//! held-out sequences falls below the target. `wgpu-lstm train-demo`,
//! `examples/adding_problem.rs` and a test run it.

use rand::{rngs::StdRng, Rng, SeedableRng};
use web_time::Instant;

use super::{flatten, unflatten, Optimizer, ParamLayout};
use crate::config::LstmConfig;
use crate::error::Result;
use crate::tensor::Tensor;
use crate::train::gpu::{TrainLstm, Trainer};
use crate::weights::LstmWeights;

/// MSE of always answering the mean target, 1: the variance of a sum of two U(0, 1).
pub const BASELINE_MSE: f32 = 1.0 / 6.0;

/// What to train and when to stop.
#[derive(Clone, Debug)]
pub struct Settings {
    /// T: steps per sequence.
    pub seq_len: usize,
    /// Sequences per training batch.
    pub batch: usize,
    /// H of the LSTM.
    pub hidden: usize,
    pub learning_rate: f32,
    /// Global-norm gradient clipping.
    pub clip_norm: f32,
    /// Stop after this many updates at most.
    pub steps: usize,
    /// Stop once the held-out MSE is below this.
    pub target_mse: f32,
    /// Held-out sequences, and how often (in updates) they are scored.
    pub eval_sequences: usize,
    pub eval_every: usize,
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            seq_len: 100,
            batch: 64,
            hidden: 32,
            learning_rate: 1e-2,
            clip_norm: 1.0,
            steps: 3000,
            target_mse: 0.01,
            eval_sequences: 512,
            eval_every: 25,
            seed: 1,
        }
    }
}

/// Where a run is, for a progress display.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub step: usize,
    /// MSE of this update's batch (before the update).
    pub loss: f32,
    /// Held-out MSE, on the updates where it was scored.
    pub eval: Option<f32>,
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct Report {
    /// Updates made.
    pub steps: usize,
    pub seconds: f64,
    /// The last held-out MSE.
    pub eval_mse: f32,
    /// Whether it fell below the target.
    pub solved: bool,
    /// (update, batch MSE) of every update.
    pub curve: Vec<(usize, f32)>,
    /// (update, held-out MSE) of every scoring, from update 0 (before training).
    pub eval_curve: Vec<(usize, f32)>,
    /// The trained LSTM and head (weights, then bias).
    pub weights: LstmWeights,
    pub head: Vec<f32>,
}

/// `batch` sequences of length `seq_len`, seq-major `[T, B, 2]`, and their targets.
pub fn batch(rng: &mut StdRng, seq_len: usize, batch: usize) -> Result<(Tensor, Vec<f32>)> {
    let mut x = vec![0.0f32; seq_len * batch * 2];
    let mut targets = vec![0.0f32; batch];
    let half = (seq_len / 2).max(1);
    for b in 0..batch {
        for t in 0..seq_len {
            x[(t * batch + b) * 2] = rng.random_range(0.0..1.0);
        }
        let first = rng.random_range(0..half);
        let second = if seq_len > 1 {
            rng.random_range(half.min(seq_len - 1)..seq_len)
        } else {
            first
        };
        for t in [first, second] {
            x[(t * batch + b) * 2 + 1] = 1.0;
        }
        targets[b] = x[(first * batch + b) * 2]
            + if second != first {
                x[(second * batch + b) * 2]
            } else {
                0.0
            };
    }
    Ok((Tensor::new(vec![seq_len, batch, 2], x)?, targets))
}

/// The model's configuration for `settings`.
pub fn config(settings: &Settings) -> LstmConfig {
    LstmConfig {
        input_size: 2,
        hidden_size: settings.hidden,
        ..LstmConfig::default()
    }
}

/// Head prediction for each sequence from the last hidden states `h` `[B, H]`.
fn predict(head: &[f32], h: &[f32], hidden: usize) -> Vec<f32> {
    h.chunks(hidden)
        .map(|row| row.iter().zip(head).map(|(a, w)| a * w).sum::<f32>() + head[hidden])
        .collect()
}

fn mse(pred: &[f32], targets: &[f32]) -> f32 {
    pred.iter()
        .zip(targets)
        .map(|(p, y)| (p - y) * (p - y))
        .sum::<f32>()
        / targets.len() as f32
}

/// Train until the held-out MSE is below `settings.target_mse` or `settings.steps` updates are
/// made, calling `progress` after each update.
#[cfg(not(target_arch = "wasm32"))]
pub fn train(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    settings: &Settings,
    mut progress: impl FnMut(Progress, &Settings),
) -> Result<Report> {
    let cfg = config(settings);
    let h = settings.hidden;
    let mut rng = StdRng::seed_from_u64(settings.seed);
    // nn.LSTM's initialisation, with the forget gate's bias at 1 so that memory starts long.
    let mut flat = flatten(&LstmWeights::random(&cfg, settings.seed)?);
    if let Some(b_ih) = &ParamLayout::new(&cfg)?.slots[0].b_ih {
        flat[b_ih.start + h..b_ih.start + 2 * h]
            .iter_mut()
            .for_each(|b| *b = 1.0);
    }
    let model = TrainLstm::new(device, queue, &cfg, &unflatten(&cfg, &flat)?)?;
    let optimizer = Optimizer::adam(settings.learning_rate).with_clip_norm(settings.clip_norm);
    let mut trainer = Trainer::new(&model, optimizer)?;
    let scale = 1.0 / (h as f32).sqrt();
    let mut head: Vec<f32> = (0..=h).map(|_| rng.random_range(-scale..scale)).collect();
    let mut head_state = vec![0.0; head.len() * 2];
    let mut eval_rng = StdRng::seed_from_u64(settings.seed ^ 0x5eed);
    let (eval_x, eval_y) = batch(&mut eval_rng, settings.seq_len, settings.eval_sequences)?;

    let start = Instant::now();
    let mut report = Report {
        steps: 0,
        seconds: 0.0,
        eval_mse: f32::INFINITY,
        solved: false,
        curve: Vec::new(),
        eval_curve: Vec::new(),
        weights: unflatten(&cfg, &flat)?,
        head: Vec::new(),
    };
    let evaluate = |head: &[f32]| -> Result<f32> {
        let (out, _) = model.forward_train(&eval_x, None, None)?;
        Ok(mse(&predict(head, out.h_n.data(), h), &eval_y))
    };
    report.eval_curve.push((0, evaluate(&head)?));
    for step in 1..=settings.steps {
        let (x, targets) = batch(&mut rng, settings.seq_len, settings.batch)?;
        let (out, tape) = model.forward_train(&x, None, None)?;
        let last = out.h_n.data();
        let pred = predict(&head, last, h);
        let loss = mse(&pred, &targets);
        // dL/dpred = 2(pred − y)/B; the head's gradient on the host, the LSTM's through dh_n.
        let dpred: Vec<f32> = pred
            .iter()
            .zip(&targets)
            .map(|(p, y)| 2.0 * (p - y) / settings.batch as f32)
            .collect();
        let mut dhead = vec![0.0; h + 1];
        let mut dh_n = vec![0.0; settings.batch * h];
        for (b, &g) in dpred.iter().enumerate() {
            for j in 0..h {
                dhead[j] += g * last[b * h + j];
                dh_n[b * h + j] = g * head[j];
            }
            dhead[h] += g;
        }
        let dy = Tensor::zeros(out.y.shape().to_vec())?;
        let dh_n = Tensor::new(out.h_n.shape().to_vec(), dh_n)?;
        trainer.step(&model, &tape, &dy, Some(&dh_n), None)?;
        optimizer.step_host(step as u32, &mut head, &dhead, &mut head_state)?;
        report.steps = step;
        report.curve.push((step, loss));
        let mut eval = None;
        if step % settings.eval_every == 0 || step == settings.steps {
            let e = evaluate(&head)?;
            report.eval_curve.push((step, e));
            report.eval_mse = e;
            eval = Some(e);
        }
        progress(Progress { step, loss, eval }, settings);
        if eval.is_some_and(|e| e < settings.target_mse) {
            report.solved = true;
            break;
        }
    }
    report.seconds = start.elapsed().as_secs_f64();
    report.weights = model.weights()?;
    report.head = head;
    Ok(report)
}

//! `wgpu-lstm bench --streams`: a stream pool's step latency against the number of streams in
//! it, for live audio (one timestep per 32 ms chunk, as Silero VAD runs), and the largest number
//! of streams that stays real time.

use std::process::ExitCode;
use std::time::Instant;

use wgpu_lstm::{Cell, GpuContext, Lstm, LstmConfig, LstmWeights, Result, StreamId, StreamPool, Tensor};

use super::progress;

/// A chunk's real-time budget: one 32 ms chunk per stream per step.
pub const CHUNK_MS: f64 = 32.0;

/// The shapes `bench --streams` runs: Silero VAD's (one layer, I = H = 128) and the bench's
/// default (I = H = 64).
const SHAPES: [(&str, usize, usize); 2] = [("silero-vad", 128, 128), ("default", 64, 64)];

/// p50 and p99 of sorted milliseconds.
fn percentiles(ms: &mut [f64]) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

/// Step `active` of `pool`'s streams `warmup + reps` times, one timestep each: the timed steps'
/// milliseconds (upload, the batched forward and readback included).
fn time_steps(
    pool: &mut StreamPool<Lstm>,
    active: &[StreamId],
    input: usize,
    warmup: usize,
    reps: usize,
) -> Result<Vec<f64>> {
    let chunks: Vec<Tensor> = (0..active.len())
        .map(|k| {
            Tensor::new(
                vec![1, input],
                (0..input).map(|i| ((k * 7 + i) as f32 * 0.37).sin()).collect(),
            )
        })
        .collect::<Result<_>>()?;
    let request: Vec<(StreamId, &Tensor)> = active.iter().copied().zip(&chunks).collect();
    let mut ms = Vec::with_capacity(reps);
    for rep in 0..warmup + reps {
        let start = Instant::now();
        pool.step(&request)?;
        if rep >= warmup {
            ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(ms)
}

/// The pool's latency for each count of streams on each shape, the real-time capacity, and a
/// step over a tenth of a large pool's streams against a pool of that tenth.
pub fn bench_streams(
    ctx: &GpuContext,
    cell: Cell,
    counts: &[usize],
    warmup: usize,
    reps: usize,
) -> Result<ExitCode> {
    let bar = progress::bar((SHAPES.len() * (counts.len() + 2)) as u64, "bench --streams");
    let mut lines = Vec::new();
    for (name, input, hidden) in SHAPES {
        let config = LstmConfig {
            cell,
            input_size: input,
            hidden_size: hidden,
            ..LstmConfig::default()
        };
        let weights = LstmWeights::random(&config, 1)?;
        let model = || Lstm::with_cache(ctx.pipeline_cache(), &ctx.queue, &config, &weights);
        let mut realtime = None;
        for &n in counts {
            bar.set_message(format!("{name} N={n}"));
            let mut pool = StreamPool::with_capacity(model()?, n)?;
            let ids: Vec<StreamId> = (0..n).map(|_| pool.open()).collect::<Result<_>>()?;
            let (p50, p99) = percentiles(&mut time_steps(&mut pool, &ids, input, warmup, reps)?);
            if p99 <= CHUNK_MS {
                realtime = Some(n);
            }
            lines.push(format!(
                "streams {name} {} I={input} H={hidden} N={n}: p50 {p50:.3} ms p99 {p99:.3} ms{}",
                cell.name(),
                if p99 <= CHUNK_MS { "" } else { " (over 32 ms)" }
            ));
            bar.inc(1);
        }
        lines.push(match realtime {
            Some(n) => format!("real time {name}: up to N={n} streams (p99 step <= {CHUNK_MS} ms)"),
            None => format!("real time {name}: none of the counts (p99 step > {CHUNK_MS} ms)"),
        });
        // k of N open streams against a pool of k.
        let n = counts.iter().copied().max().unwrap_or(1);
        let k = (n / 10).max(1);
        let mut big = StreamPool::with_capacity(model()?, n)?;
        let ids: Vec<StreamId> = (0..n).map(|_| big.open()).collect::<Result<_>>()?;
        let (sparse, _) = percentiles(&mut time_steps(&mut big, &ids[..k], input, warmup, reps)?);
        bar.inc(1);
        let mut small = StreamPool::with_capacity(model()?, k)?;
        let ids: Vec<StreamId> = (0..k).map(|_| small.open()).collect::<Result<_>>()?;
        let (dense, _) = percentiles(&mut time_steps(&mut small, &ids, input, warmup, reps)?);
        bar.inc(1);
        lines.push(format!(
            "k of N {name}: {k} of {n} open streams p50 {sparse:.3} ms, a pool of {k} p50 {dense:.3} ms (ratio {:.2})",
            sparse / dense
        ));
    }
    bar.finish_and_clear();
    for line in lines {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

//! `wgpu-lstm bench --streams`: a stream pool's step latency against the number of streams in
//! it, for live audio (one timestep per 32 ms chunk, as Silero VAD runs), and the largest number
//! of streams that stays real time.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use wgpu_lstm::{
    Cell, Error, GpuContext, Lstm, LstmConfig, LstmWeights, PoolGather, Result, StreamId, StreamPool, Tensor,
};

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
    timed(warmup, reps, || pool.step(&request).map(drop))
}

/// Milliseconds of each of `reps` calls of `run` after `warmup` untimed ones.
fn timed(warmup: usize, reps: usize, mut run: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
    let mut ms = Vec::with_capacity(reps);
    for rep in 0..warmup + reps {
        let start = Instant::now();
        run()?;
        if rep >= warmup {
            ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(ms)
}

/// What `bench --streams` runs: the counts of streams, warm-up and timed steps, and where to
/// plot the latencies.
pub struct StreamSettings<'a> {
    pub counts: &'a [usize],
    pub warmup: usize,
    pub reps: usize,
    pub plot: Option<&'a Path>,
    /// A Python with onnxruntime: the peer's times beside the pool's, in the same run.
    pub ort_python: Option<&'a Path>,
}

/// A curve of the plot: its label, (N, p50, p99) per count, and whether to draw p99 too.
type Curve = (String, Vec<(usize, f64, f64)>, bool);

/// The onnxruntime peer (`scripts/peers/ort_streams_time.py`), built in so that
/// `--ort-python` runs it from any directory.
const ORT_STREAMS_SCRIPT: &str = include_str!("../../scripts/peers/ort_streams_time.py");

/// onnxruntime's CPU LSTM for each count: (N, one run per stream per tick p50 and p99, one
/// batched run per tick p50 and p99), ms per tick.
fn ort_times(python: &Path, input: usize, hidden: usize, counts: &[usize]) -> Result<Vec<(usize, [f64; 4])>> {
    let list: Vec<String> = counts.iter().map(|n| n.to_string()).collect();
    let stdout = run_peer(
        python,
        ORT_STREAMS_SCRIPT,
        &[input.to_string(), hidden.to_string(), list.join(",")],
    )?;
    // 'ort_streams N=<n>: per-stream p50 <ms> p99 <ms> batched p50 <ms> p99 <ms>'
    let parsed: Option<Vec<(usize, [f64; 4])>> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ort_streams N="))
        .map(|l| {
            let (n, rest) = l.split_once(':')?;
            let words: Vec<&str> = rest.split_whitespace().collect();
            let at = |i: usize| words.get(i)?.parse::<f64>().ok();
            Some((n.parse().ok()?, [at(2)?, at(4)?, at(7)?, at(9)?]))
        })
        .collect();
    match parsed {
        Some(times) if times.iter().map(|t| t.0).eq(counts.iter().copied()) => Ok(times),
        _ => Err(Error::invalid(
            "--ort-python",
            format!("the onnxruntime peer printed no time per count:\n{stdout}"),
        )),
    }
}

/// The stdout of `python -c script args…`; a peer that cannot start or fails is one
/// `--ort-python` error with its last line of stderr.
pub(super) fn run_peer(python: &Path, script: &str, args: &[String]) -> Result<String> {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .map_err(|e| Error::io(python, e))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().last().unwrap_or("no message");
        return Err(Error::invalid(
            "--ort-python",
            format!("the onnxruntime peer failed ({}): {last}", out.status),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// p50 ms of a streaming forward over a fixed batch of `n` streams of which `k` have a timestep
/// (the others length 0): what a pool without gathering would pay.
fn time_fixed_slots(
    model: &Lstm,
    n: usize,
    k: usize,
    input: usize,
    warmup: usize,
    reps: usize,
) -> Result<f64> {
    let mut state = model.new_state(n)?;
    let x = Tensor::new(vec![1, n, input], vec![0.25; n * input])?;
    let lens: Vec<usize> = (0..n).map(|b| usize::from(b < k)).collect();
    let mut ms = timed(warmup, reps, || {
        model.forward_stream(&x, &mut state, Some(&lens)).map(drop)
    })?;
    Ok(percentiles(&mut ms).0)
}

/// The pool's latency for each count of streams on each shape, the real-time capacity, and a
/// step over a tenth of a large pool's streams against a pool of that tenth.
pub fn bench_streams(ctx: &GpuContext, cell: Cell, settings: &StreamSettings<'_>) -> Result<ExitCode> {
    let StreamSettings {
        counts, warmup, reps, ..
    } = *settings;
    let bar = progress::bar((SHAPES.len() * (counts.len() + 2)) as u64, "bench --streams");
    let mut lines = Vec::new();
    let mut curves: Vec<Curve> = Vec::new();
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
        let mut curve = Vec::new();
        for &n in counts {
            bar.set_message(format!("{name} N={n}"));
            let mut pool = StreamPool::with_capacity(model()?, n)?;
            let ids: Vec<StreamId> = (0..n).map(|_| pool.open()).collect::<Result<_>>()?;
            let (p50, p99) = percentiles(&mut time_steps(&mut pool, &ids, input, warmup, reps)?);
            if p99 <= CHUNK_MS {
                realtime = Some(n);
            }
            curve.push((n, p50, p99));
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
        if let Some(python) = settings.ort_python {
            bar.set_message(format!("{name}: onnxruntime"));
            let ort = ort_times(python, input, hidden, counts)?;
            for (&(n, pool, _), &(_, [one, one99, all, all99])) in curve.iter().zip(&ort) {
                lines.push(format!(
                    "onnxruntime {name} N={n}: one run per stream p50 {one:.3} ms (p99 {one99:.3}), all N batched \
                     p50 {all:.3} ms (p99 {all99:.3}); the pool's p50 is {:.2}x the per-stream time, {:.2}x the batched",
                    pool / one,
                    pool / all
                ));
            }
            let per: Vec<_> = ort.iter().map(|&(n, t)| (n, t[0], t[1])).collect();
            let batched: Vec<_> = ort.iter().map(|&(n, t)| (n, t[2], t[3])).collect();
            curves.push((format!("onnxruntime per stream, {name}"), per, false));
            curves.push((format!("onnxruntime batched, {name}"), batched, false));
        }
        curves.push((format!("pool {name}"), curve, true));
        // k of N open streams against a pool of k.
        let n = counts.iter().copied().max().unwrap_or(1);
        let k = (n / 10).max(1);
        let mut big = StreamPool::with_capacity(model()?, n)?;
        let ids: Vec<StreamId> = (0..n).map(|_| big.open()).collect::<Result<_>>()?;
        let (sparse, _) = percentiles(&mut time_steps(&mut big, &ids[..k], input, warmup, reps)?);
        // The same k spread over the pool (every (N/k)th slot: k runs of one), their rows moved
        // by copies and by the index kernel.
        let spread: Vec<StreamId> = ids.iter().copied().step_by(n / k).take(k).collect();
        let mut by = Vec::new();
        for gather in [PoolGather::Copies, PoolGather::Index] {
            big.engine().set_pool_gather(gather);
            let p50 = percentiles(&mut time_steps(&mut big, &spread, input, warmup, reps)?).0;
            by.push((p50, big.engine().last_stats()));
        }
        big.engine().set_pool_gather(PoolGather::Auto);
        bar.inc(1);
        let mut small = StreamPool::with_capacity(model()?, k)?;
        let ids: Vec<StreamId> = (0..k).map(|_| small.open()).collect::<Result<_>>()?;
        let (dense, _) = percentiles(&mut time_steps(&mut small, &ids, input, warmup, reps)?);
        bar.inc(1);
        // What fixed slots cost (`forward_stream` over all N, lengths 0 for the idle ones).
        let fixed = time_fixed_slots(&model()?, n, k, input, warmup, reps)?;
        lines.push(format!(
            "k of N {name}: {k} of {n} open streams p50 {sparse:.3} ms, a pool of {k} p50 {dense:.3} ms (ratio {:.2}); \
             fixed slots, all {n} stepped with {k} active, p50 {fixed:.3} ms",
            sparse / dense
        ));
        let [(copies, c), (index, i)] = [by[0], by[1]];
        lines.push(format!(
            "gather {name}: {k} of {n} streams in every {}th slot p50: copies {copies:.3} ms ({} copies, {} dispatches, \
             recorded in {:.3} ms), index kernel {index:.3} ms ({} copies, {} dispatches, recorded in {:.3} ms); \
             ratio {:.2}",
            n / k,
            c.copies,
            c.dispatches,
            c.record_ns as f64 / 1e6,
            i.copies,
            i.dispatches,
            i.record_ns as f64 / 1e6,
            index / copies
        ));
    }
    bar.finish_and_clear();
    for line in lines {
        println!("{line}");
    }
    if let Some(path) = settings.plot {
        plot(path, &curves, &ctx.describe())?;
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Latency against N, both axes logarithmic: p50 and p99 per shape, and the 32 ms budget.
fn plot(path: &Path, curves: &[Curve], adapter: &str) -> Result<()> {
    use plotters::prelude::*;
    let draw_err = |e: String| Error::format(path, format!("could not draw the plot: {e}"));
    let points = curves.iter().flat_map(|(_, c, _)| c.iter());
    let most = points.clone().map(|p| p.0).max().unwrap_or(1).max(2) as f64;
    let (low, high) = points.fold((CHUNK_MS, CHUNK_MS), |(lo, hi), p| (lo.min(p.1), hi.max(p.2)));
    let root = SVGBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| draw_err(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("stream pool step latency ({adapter})"),
            ("sans-serif", 18),
        )
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d((1f64..most).log_scale(), ((low * 0.8)..(high * 1.25)).log_scale())
        .map_err(|e| draw_err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("streams in the step (N, one timestep each)")
        .y_desc("ms per step (upload, forward, readback)")
        .draw()
        .map_err(|e| draw_err(e.to_string()))?;
    let budget = vec![(1.0, CHUNK_MS), (most, CHUNK_MS)];
    chart
        .draw_series(LineSeries::new(budget, BLACK.stroke_width(1)))
        .map_err(|e| draw_err(e.to_string()))?
        .label("32 ms: real time")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    let mut colors = 0..;
    for (name, curve, with_p99) in curves {
        let quantiles: &[(&str, usize)] = if *with_p99 {
            &[("p50", 1), ("p99", 2)]
        } else {
            &[("p50", 1)]
        };
        for &(which, pick) in quantiles {
            let color = Palette99::pick(colors.next().unwrap_or(0)).to_rgba();
            let line: Vec<(f64, f64)> = curve
                .iter()
                .map(|p| (p.0 as f64, if pick == 1 { p.1 } else { p.2 }))
                .collect();
            chart
                .draw_series(LineSeries::new(line, color.stroke_width(2)))
                .map_err(|e| draw_err(e.to_string()))?
                .label(format!("{name} {which}"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| draw_err(e.to_string()))?;
    root.present().map_err(|e| draw_err(e.to_string()))
}

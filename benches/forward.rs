//! Criterion benches on the default adapter: the input-projection GEMM, one recurrent step, and
//! whole forwards at batch 1 and 64. Every timed region ends by waiting for the GPU (a forward
//! reads its outputs back; kernel benches submit and wait), and each reports its throughput in
//! flops (2·B·4H·(I+H) per step). `WGPU_LSTM_BENCH_SMALL=1` shrinks the sizes for software
//! adapters.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wgpu_lstm::gpu::KernelPart;
use wgpu_lstm::Dims;
use wgpu_lstm::{GpuContext, Lstm, LstmConfig, LstmWeights, Tensor};

/// (T, I = H) for the full and the small runs.
fn sizes() -> (usize, usize) {
    if std::env::var("WGPU_LSTM_BENCH_SMALL").is_ok_and(|v| v != "0") {
        (20, 64)
    } else {
        (100, 256)
    }
}

fn context() -> Option<GpuContext> {
    GpuContext::new()
        .map_err(|e| eprintln!("no GPU adapter, skipping benches: {e}"))
        .ok()
}

fn engine(ctx: &GpuContext, size: usize) -> Lstm {
    let config = LstmConfig {
        input_size: size,
        hidden_size: size,
        ..LstmConfig::default()
    };
    let weights = LstmWeights::random(&config, 0).expect("weights");
    Lstm::new(&ctx.device, &ctx.queue, &config, &weights).expect("engine")
}

/// Time `repeats` dispatches of one kernel per iteration, including the wait for the GPU.
fn time_kernel(ctx: &GpuContext, lstm: &Lstm, dims: Dims, part: KernelPart, iters: u64) -> Duration {
    const REPEATS: usize = 10;
    let start = Instant::now();
    for _ in 0..iters {
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        lstm.encode_kernel(&mut encoder, dims, part, REPEATS)
            .expect("kernel");
        ctx.queue.submit([encoder.finish()]);
        ctx.device
            .poll(wgpu::PollType::wait_indefinitely())
            .expect("poll");
    }
    start.elapsed() / REPEATS as u32
}

fn kernels(c: &mut Criterion) {
    let Some(ctx) = context() else { return };
    let (t, size) = sizes();
    let lstm = engine(&ctx, size);
    let mut group = c.benchmark_group("kernels");
    group.sample_size(10).measurement_time(Duration::from_secs(3));
    for batch in [1usize, 64] {
        let dims = Dims { seq_len: t, batch };
        let gemm_flops = 2 * t * batch * 4 * size * size;
        group.throughput(Throughput::Elements(gemm_flops as u64));
        group.bench_function(
            BenchmarkId::new(
                format!("input_projection_T{t}_I{size}_H{size}"),
                format!("B{batch}"),
            ),
            |b| {
                b.iter_custom(|iters| {
                    time_kernel(&ctx, &lstm, dims, KernelPart::InputProjection { layer: 0 }, iters)
                })
            },
        );
        let step_flops = 2 * batch * 4 * size * size;
        group.throughput(Throughput::Elements(step_flops as u64));
        group.bench_function(
            BenchmarkId::new(format!("step_H{size}"), format!("B{batch}")),
            |b| b.iter_custom(|iters| time_kernel(&ctx, &lstm, dims, KernelPart::Step { layer: 0 }, iters)),
        );
    }
    group.finish();
}

fn forward(c: &mut Criterion) {
    let Some(ctx) = context() else { return };
    let (t, size) = sizes();
    let lstm = engine(&ctx, size);
    let mut group = c.benchmark_group("forward");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    for batch in [1usize, 64] {
        let input = Tensor::random(vec![t, batch, size], 1.0, 1).unwrap();
        lstm.forward(&input, None).expect("warm-up");
        group.throughput(Throughput::Elements((2 * batch * 4 * size * 2 * size * t) as u64));
        group.bench_function(
            BenchmarkId::new(format!("T{t}_I{size}_H{size}"), format!("B{batch}")),
            |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        lstm.forward(&input, None).expect("forward");
                    }
                    start.elapsed()
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, kernels, forward);
criterion_main!(benches);

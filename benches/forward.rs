//! Criterion benches of whole forwards on the default adapter. The timed region is one
//! `forward` call, which includes the upload, every dispatch, and waiting for the readback.
//! `WGPU_LSTM_BENCH_SMALL=1` shrinks the shapes for software adapters.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wgpu_lstm::{Direction, GpuContext, Layout, Lstm, LstmConfig, LstmWeights, Tensor};

fn forward(c: &mut Criterion) {
    let ctx = match GpuContext::new() {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("no GPU adapter, skipping benches: {e}");
            return;
        }
    };
    let small = std::env::var("WGPU_LSTM_BENCH_SMALL").is_ok_and(|v| v != "0");
    let (t, size) = if small { (20, 64) } else { (100, 256) };
    let mut group = c.benchmark_group(format!("forward/{}", ctx.adapter_info().name));
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    for batch in [1usize, 64] {
        let config = LstmConfig {
            input_size: size,
            hidden_size: size,
            num_layers: 1,
            direction: Direction::Forward,
            bias: true,
            layout: Layout::SeqMajor,
            ..LstmConfig::default()
        };
        let weights = LstmWeights::random(&config, 0).expect("weights");
        let lstm = Lstm::new(&ctx.device, &ctx.queue, &config, &weights).expect("engine");
        let input = Tensor::zeros(vec![t, batch, size]);
        lstm.forward(&input, None).expect("warm-up");
        // 2·B·4H·(I+H) flops per step.
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

criterion_group!(benches, forward);
criterion_main!(benches);

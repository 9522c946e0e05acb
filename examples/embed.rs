//! Embedding wgpu-lstm in a GPU program, in one submit and without host round trips:
//! 1. the application's own compute shader generates an input sequence in its buffer;
//! 2. the LSTM runs from that buffer into the application's output buffer (`Lstm::encode`);
//! 3. another shader of the application's reduces the output to one sum per stream.
//!
//! It then checks the result against the CPU reference.
//!
//! `cargo run --example embed` runs it; `cargo test` runs it too (as the test below).

use wgpu::util::DeviceExt;
use wgpu_lstm::gpu::EncodeTarget;
use wgpu_lstm::{CpuLstm, Direction, GpuContext, Layout, Lstm, LstmConfig, LstmWeights, Tensor};
use wgpu_lstm::{Dims, ErrorBound};

const T: usize = 20;
const B: usize = 3;

/// x[n] = ((37·n) mod 101) / 50 − 1 over the flat index n of X [T, B, I]: exact in f32 on both sides.
const GENERATE: &str = r#"
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x < arrayLength(&x)) {
        x[id.x] = f32((37u * id.x) % 101u) / 50.0 - 1.0;
    }
}
"#;

/// sums[b] = Σ over t and k of y[t, b, k], Y being [T, B, W].
const REDUCE: &str = r#"
struct Dims { t: u32, b: u32, w: u32, pad: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> sums: array<f32>;
@compute @workgroup_size(1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    var s = 0.0;
    for (var t = 0u; t < dims.t; t++) {
        for (var k = 0u; k < dims.w; k++) {
            s += y[(t * dims.b + id.x) * dims.w + k];
        }
    }
    sums[id.x] = s;
}
"#;

fn generated_input(len: usize) -> Vec<f32> {
    (0..len).map(|n| ((37 * n) % 101) as f32 / 50.0 - 1.0).collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The application's device; an application with its own simply uses that.
    let ctx = GpuContext::new()?;
    let (device, queue) = (&ctx.device, &ctx.queue);
    println!("adapter: {}", ctx.describe());

    let config = LstmConfig {
        input_size: 6,
        hidden_size: 16,
        num_layers: 2,
        direction: Direction::Bidirectional,
        layout: Layout::SeqMajor,
        ..LstmConfig::default()
    };
    let weights = LstmWeights::random(&config, 42)?;
    let lstm = Lstm::new(device, queue, &config, &weights)?;
    let mut state = lstm.new_state(B)?;

    let width = config.num_directions() * config.output_size();
    let (x_len, y_len) = (T * B * config.input_size, T * B * width);
    let buffer = |label, len: usize, usage| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (len * 4) as u64,
            usage,
            mapped_at_creation: false,
        })
    };
    use wgpu::BufferUsages as U;
    let x = buffer("x", x_len, U::STORAGE | U::COPY_SRC);
    let y = buffer("y", y_len, U::STORAGE | U::COPY_DST | U::COPY_SRC);
    let sums = buffer("sums", B, U::STORAGE | U::COPY_SRC);
    let readback = buffer("readback", y_len + B, U::MAP_READ | U::COPY_DST);
    let dims = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("dims"),
        contents: bytemuck::cast_slice(&[T as u32, B as u32, width as u32, 0]),
        usage: U::UNIFORM,
    });

    let pipeline = |source: &str| {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: None,
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: None,
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        })
    };
    let (generate, reduce) = (pipeline(GENERATE), pipeline(REDUCE));
    let generate_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &generate.get_bind_group_layout(0),
        entries: &[wgpu::BindGroupEntry {
            binding: 0,
            resource: x.as_entire_binding(),
        }],
    });
    let reduce_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &reduce.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: dims.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: y.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 2,
                resource: sums.as_entire_binding(),
            },
        ],
    });

    // One encoder, one submit: generate, run the LSTM, reduce, copy out.
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&generate);
        pass.set_bind_group(0, &generate_group, &[]);
        pass.dispatch_workgroups((x_len as u32).div_ceil(64), 1, 1);
    }
    lstm.encode(
        &mut encoder,
        &mut state,
        &EncodeTarget {
            input: &x,
            input_offset: 0,
            output: &y,
            output_offset: 0,
            seq_len: T,
            batch: B,
            seq_lens: None,
            export_state: None,
        },
    )?;
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&reduce);
        pass.set_bind_group(0, &reduce_group, &[]);
        pass.dispatch_workgroups(B as u32, 1, 1);
    }
    encoder.copy_buffer_to_buffer(&y, 0, &readback, 0, (y_len * 4) as u64);
    encoder.copy_buffer_to_buffer(&sums, 0, &readback, (y_len * 4) as u64, (B * 4) as u64);
    queue.submit([encoder.finish()]);

    readback
        .slice(..)
        .map_async(wgpu::MapMode::Read, |r| r.expect("map"));
    device.poll(wgpu::PollType::wait_indefinitely())?;
    let data: Vec<f32> = bytemuck::cast_slice(&readback.slice(..).get_mapped_range()?).to_vec();
    let (gpu_y, gpu_sums) = data.split_at(y_len);

    // The CPU reference on the same input.
    let input = Tensor::new(vec![T, B, config.input_size], generated_input(x_len))?;
    let expected = CpuLstm::new(&config, &weights)?.forward(&input, None)?;
    // Each element within the error model's bound for this model and shape.
    let bound = ErrorBound::for_model(&config, Dims { seq_len: T, batch: B });
    let y_ratio = gpu_y
        .iter()
        .zip(expected.y.data())
        .map(|(a, b)| (a - b).abs() / bound.at(*b))
        .fold(0.0, f32::max);
    let mut worst_sum = 0.0f32;
    for (b, gpu_sum) in gpu_sums.iter().enumerate() {
        let cpu_sum: f32 = (0..T)
            .map(|t| {
                expected.y.data()[(t * B + b) * width..][..width]
                    .iter()
                    .sum::<f32>()
            })
            .sum();
        worst_sum = worst_sum.max((gpu_sum - cpu_sum).abs());
        println!("stream {b}: sum of outputs {gpu_sum:.6} (CPU {cpu_sum:.6})");
    }
    // Each summed value is within the bound (|y| ≤ 1 here), so a sum is within that times T·W.
    let sum_tolerance = bound.at(1.0) * (T * width) as f32;
    println!(
        "worst |y gpu - cpu| = {y_ratio:.3} of the bound {bound}, max |sum gpu - cpu| = {worst_sum:.3e}"
    );
    if y_ratio > 1.0 || worst_sum > sum_tolerance {
        return Err(
            format!("GPU and CPU disagree: y {y_ratio:.3} of the bound, sums {worst_sum:.3e}").into(),
        );
    }
    Ok(())
}

#[test]
fn embedded_pipeline_matches_the_cpu() {
    if GpuContext::new().is_err() && std::env::var("CI").as_deref() != Ok("true") {
        eprintln!("SKIPPING: no GPU adapter");
        return;
    }
    main().unwrap();
}

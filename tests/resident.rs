//! The register-resident sequence kernel in each of its sizes (H up to 128, 256 and 512, the
//! last with two units per invocation) against the CPU reference: H not a multiple of the
//! workgroup, every cell, both directions, lengths and initial states, f32 and int8 weights.
//! (tests/engine.rs counts its dispatches: one GEMM and one sequence dispatch per layer.)

mod common;

use wgpu_lstm::conform::ConformCase;
use wgpu_lstm::gpu::{GemmVariant, Schedule, StepVariant, Variants};
use wgpu_lstm::{Cell, Convention, Direction, LstmConfig, Precision};

const RESIDENT: Variants = Variants {
    gemm: GemmVariant::RegisterBlocked,
    step: StepVariant::SequenceResident,
    schedule: Schedule::Layers,
};

fn case(cell: Cell, hidden: usize, direction: Direction, batch: usize, precision: Precision) -> ConformCase {
    ConformCase {
        convention: Some(Convention::Onnx),
        config: LstmConfig {
            cell,
            linear_before_reset: cell == Cell::Gru,
            input_size: 13,
            hidden_size: hidden,
            num_layers: 1,
            direction,
            weights_precision: precision,
            ..LstmConfig::default()
        },
        batch,
        seq_len: 7,
        initial_state: true,
        seq_lens: batch > 1,
        seed: 2800 + hidden as u64,
        pooled: false,
    }
}

#[test]
fn every_size_of_the_resident_kernel_matches_cpu() {
    let Some(ctx) = common::gpu() else { return };
    let cases = [
        // 128 × 1: one unit per invocation, a partial workgroup.
        case(Cell::Lstm, 97, Direction::Bidirectional, 3, Precision::F32),
        // 256 × 1.
        case(Cell::Lstm, 131, Direction::Bidirectional, 3, Precision::F32),
        case(Cell::Gru, 200, Direction::Reverse, 2, Precision::F32),
        case(Cell::Rnn, 256, Direction::Forward, 1, Precision::Int8),
        // 256 × 2: the second unit of only the first 44 invocations (one case: this size takes
        // about 12 s to compile on a CPU adapter; conform's hidden-over-256 stratum runs it too).
        case(Cell::Lstm, 300, Direction::Bidirectional, 2, Precision::Int8),
    ];
    let mut worst = 0.0f32;
    for case in &cases {
        let prepared = case.prepare().unwrap();
        let check = prepared
            .run(ctx.pipeline_cache(), &ctx.queue, Some(RESIDENT))
            .unwrap();
        worst = worst.max(check.comparison.worst_ratio);
        assert!(
            check.passed(),
            "{}: {:.3} of the bound, worst {:?}",
            case.describe(),
            check.comparison.worst_ratio,
            check.comparison.worst
        );
        assert_eq!(check.variants, RESIDENT, "{}", case.describe());
    }
    eprintln!("resident kernel sizes: worst error {worst:.3} of the bound");
}

/// Past the largest size the variant falls back to one batch element per invocation.
#[test]
fn past_the_largest_size_the_step_kernel_runs() {
    let config = LstmConfig {
        hidden_size: 513,
        ..LstmConfig::default()
    };
    assert_eq!(RESIDENT.effective(&config).step, StepVariant::Batch1);
    let config = LstmConfig {
        hidden_size: 512,
        ..LstmConfig::default()
    };
    assert_eq!(RESIDENT.effective(&config), RESIDENT);
}

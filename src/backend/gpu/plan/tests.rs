//! The plan's sizes, dispatch counts, grids and overflow errors, without a GPU.

use super::*;
use crate::backend::gpu::packing;
use crate::config::Direction;
use crate::weights::LstmWeights;

const TARGET: Target = Target {
    uniform_align: 256,
    storage_align: 256,
    timestamps: false,
    max_workgroups: 65_535,
};

fn config(layers: usize, direction: Direction, proj: Option<usize>) -> LstmConfig {
    LstmConfig {
        input_size: 5,
        hidden_size: 7,
        num_layers: layers,
        direction,
        proj_size: proj,
        ..LstmConfig::default()
    }
}

/// The weight sizes the plan lists are those packing produces.
#[test]
fn model_plan_sizes_match_the_packed_weights() {
    for (cfg, stacked) in [
        (config(3, Direction::Forward, None), true),
        (config(3, Direction::Forward, None), false),
        (config(2, Direction::Bidirectional, Some(3)), false),
    ] {
        let w = LstmWeights::random(&cfg, 0).unwrap();
        let model = ModelPlan::new(&cfg, GemmVariant::TILED, stacked, false).unwrap();
        assert_eq!(model.stacked, stacked);
        let floats = |id| model.weights[model.index(id)].bytes / F32;
        for (l, dirs) in w.layers().iter().enumerate() {
            let input = packing::input_weights(dirs, cfg.hidden_size, cfg.cell);
            let bias = packing::summed_biases(dirs, cfg.hidden_size, cfg.cell, cfg.linear_before_reset);
            assert_eq!(floats(WeightId::Input(l)), input.len() as u64);
            assert_eq!(floats(WeightId::Bias(l)), bias.len() as u64);
            if !stacked {
                let r = packing::recurrent_weights(dirs, cfg.hidden_size, cfg.cell);
                assert_eq!(floats(WeightId::Recurrent(l)), r.len() as u64);
            }
            if let Some(p) = packing::projection_weights(dirs, cfg.hidden_size) {
                assert_eq!(floats(WeightId::Projection(l)), p.len() as u64);
            }
        }
        if stacked {
            let (s, first, stride) =
                packing::stacked_weights(w.layers(), cfg.hidden_size, cfg.cell, cfg.linear_before_reset);
            assert_eq!(floats(WeightId::Stacked), s.len() as u64);
            assert_eq!((model.r_first, model.r_stride), (first, stride));
        }
    }
}

/// Layer by layer, L·(1 + T) dispatches (L·(1 + 2T) with a projection); as a wavefront,
/// 1 + T + L − 1, whose z extent counts the layers each runs.
#[test]
fn dispatch_counts_and_wavefront_extents() {
    let dims = Dims { seq_len: 4, batch: 3 };
    let cfg = config(3, Direction::Forward, None);
    let model = ModelPlan::new(&cfg, GemmVariant::RegisterBlocked, true, false).unwrap();
    let res = Resources::new(&cfg, &model, dims, TARGET).unwrap();
    let v = |step, schedule| Variants {
        gemm: GemmVariant::RegisterBlocked,
        step,
        schedule,
    };
    let layers = res.plan(v(StepVariant::Batch2, Schedule::Layers));
    assert_eq!(layers.dispatches.len(), 3 * (1 + 4));
    let wave = res.plan(v(StepVariant::Batch2, Schedule::Wavefront));
    assert_eq!(wave.dispatches.len(), 1 + 4 + 3 - 1);
    let z: Vec<u64> = wave.dispatches[1..].iter().map(|d| d.grid[2]).collect();
    assert_eq!(z, [1, 2, 3, 3, 2, 1]);
    // Split-K has no wavefront kernel.
    let splitk = res.plan(v(StepVariant::ALL[5], Schedule::Wavefront));
    assert_eq!(splitk.variants.schedule, Schedule::Layers);

    let cfg = config(2, Direction::Bidirectional, Some(3));
    let model = ModelPlan::new(&cfg, GemmVariant::TILED, true, false).unwrap();
    assert!(!model.stacked, "a bidirectional stack cannot run as a wavefront");
    let res = Resources::new(&cfg, &model, dims, TARGET).unwrap();
    let plan = res.plan(v(StepVariant::Batch1, Schedule::Wavefront));
    assert_eq!(plan.variants.schedule, Schedule::Layers);
    assert_eq!(plan.dispatches.len(), 2 * (1 + 2 * 4));
}

/// The register-blocked GEMM's grid has one workgroup row per 16 rows of T·B.
#[test]
fn gemm_grids_follow_the_variant() {
    let shape = GemmShape {
        rows: 70_000 * 30,
        n: 4,
        k: 1,
    };
    assert_eq!(shape.grid(GemmVariant::RegisterBlocked)[1], 131_250);
    assert_eq!(shape.grid(GemmVariant::TILED)[1], 32_813);
}

#[test]
fn sizes_that_overflow_are_errors() {
    let cfg = config(1, Direction::Forward, None);
    let model = ModelPlan::new(&cfg, GemmVariant::TILED, false, false).unwrap();
    let dims = Dims {
        seq_len: 1 << 62,
        batch: 4,
    };
    assert!(matches!(
        Resources::new(&cfg, &model, dims, TARGET),
        Err(Error::Overflow { .. })
    ));
    let huge = LstmConfig {
        hidden_size: 1 << 62,
        ..cfg
    };
    assert!(matches!(
        ModelPlan::new(&huge, GemmVariant::TILED, false, false),
        Err(Error::Overflow { .. })
    ));
}

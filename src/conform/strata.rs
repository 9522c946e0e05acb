//! The named combinations every conformance run checks first ([`STRATA`]) and their cases.

use super::*;

/// The combinations every [`suite`] checks before its random cases, each with what it makes
/// sure of. Every batch class the autotune distinguishes (1, 2–3, 4–15, 16–63, 64 and more) is
/// among them.
pub const STRATA: [(&str, &str); 22] = [
    (
        "wavefront-3-layers",
        "a unidirectional stack of 3 or 4 layers without projection, so the layers also run as a wavefront",
    ),
    (
        "peepholes-in-a-stack",
        "peepholes in a 3-layer forward stack (weights used as made), as a wavefront too",
    ),
    (
        "peepholes-bidirectional-stack",
        "peepholes in a 2-layer bidirectional stack",
    ),
    (
        "peepholes-with-clip",
        "ONNX peepholes with a clip small enough to bind",
    ),
    (
        "per-direction-activations",
        "ONNX bidirectional, each direction with its own activations",
    ),
    ("activations-1", "every activation in g or h, first third"),
    ("activations-2", "every activation in g or h, second third"),
    ("activations-3", "every activation in g or h, last third"),
    ("reverse-with-seq-lens", "ONNX reverse with per-sequence lengths"),
    (
        "projection-with-seq-lens",
        "PyTorch proj_size in a bidirectional stack with per-sequence lengths",
    ),
    (
        "batch-1-hidden-64-plus",
        "B = 1, 64 < H < 128, 64 steps or more (where the sequence kernels are tuned)",
    ),
    (
        "hidden-over-128",
        "128 < H ≤ 200: several units per invocation in the sequence kernel, the register-resident kernel's second size",
    ),
    (
        "hidden-over-256",
        "256 < H ≤ 320: the register-resident kernel's largest size, two units per invocation",
    ),
    ("batch-class-2", "B = 2 or 3"),
    ("batch-class-4", "4 ≤ B < 16, f16 weights"),
    ("batch-class-16", "16 ≤ B < 64, input_forget"),
    (
        "batch-class-64",
        "B > 128 at a modest T: the large-batch kernels' partial tiles",
    ),
    (
        "f16-weights-stack",
        "f16 weights in a bidirectional stack with projection",
    ),
    (
        "gru-reset-before-product",
        "an ONNX GRU without linear_before_reset, 40 < H < 128: the reset gate scales h in workgroup memory between the sequence kernel's two products",
    ),
    (
        "int8-weights-stack",
        "int8 weights in a bidirectional stack with projection: the packed R, W (either GEMM layout) and W_hr, dequantized in the kernels",
    ),
    (
        "int8-weights-wavefront",
        "int8 weights in a 3-layer forward stack with peepholes: the stacked layout, whose peepholes and biases are stored exactly",
    ),
    (
        "pool-rows",
        "a 2-layer stack run as scattered streams of a stream pool, rows moved by its index kernel",
    ),
];

impl ConformCase {
    /// The case of `STRATA[index]`, its free choices drawn from `seed`.
    pub fn stratum(index: usize, seed: u64) -> ConformCase {
        let mut rng = StdRng::seed_from_u64(seed);
        let rng = &mut rng;
        let mut case = ConformCase {
            convention: Some(Convention::PyTorch),
            config: LstmConfig {
                input_size: irregular_in(rng, 3, 90),
                hidden_size: irregular_in(rng, 3, 90),
                bias: rng.random_bool(0.8),
                layout: random_layout(rng),
                ..LstmConfig::default()
            },
            batch: irregular_in(rng, 2, 9),
            seq_len: rng.random_range(5..=16),
            initial_state: rng.random_bool(0.7),
            seq_lens: rng.random_bool(0.5),
            seed,
            pooled: false,
        };
        let cfg = &mut case.config;
        let name = STRATA[index].0;
        match name {
            "wavefront-3-layers" => {
                cfg.num_layers = rng.random_range(3..=4);
                cfg.clip = rng.random_bool(0.5).then(|| rng.random_range(0.5f32..3.0));
            }
            "peepholes-in-a-stack" | "peepholes-bidirectional-stack" => {
                case.convention = None;
                cfg.peepholes = true;
                if name == "peepholes-in-a-stack" {
                    cfg.num_layers = 3;
                } else {
                    cfg.num_layers = 2;
                    cfg.direction = Direction::Bidirectional;
                }
            }
            "peepholes-with-clip" => {
                case.convention = Some(Convention::Onnx);
                cfg.peepholes = true;
                cfg.clip = Some(rng.random_range(0.3f32..0.9));
                case.initial_state = true;
                if rng.random_bool(0.5) {
                    cfg.direction = Direction::Bidirectional;
                }
            }
            "per-direction-activations" => {
                case.convention = Some(Convention::Onnx);
                cfg.direction = Direction::Bidirectional;
                // f, g and h each differ between the directions.
                while (0..3).any(|i| cfg.activations_of(0)[i] == cfg.activations_of(1)[i]) {
                    cfg.activations = random_activations(rng, cfg);
                }
            }
            "activations-1" | "activations-2" | "activations-3" => {
                // Four slots (g and h of each direction) per case cover the eleven kinds.
                case.convention = Some(Convention::Onnx);
                cfg.direction = Direction::Bidirectional;
                let part = name.as_bytes()[name.len() - 1] - b'1';
                let kinds: Vec<ActivationKind> = (0..4)
                    .map(|i| ActivationKind::ALL[(part as usize * 4 + i) % ActivationKind::ALL.len()])
                    .collect();
                cfg.activations = (0..2)
                    .flat_map(|d| {
                        let f = random_activation(rng, &GATE_ACTIVATIONS);
                        [
                            f,
                            with_random_parameters(rng, kinds[2 * d]),
                            with_random_parameters(rng, kinds[2 * d + 1]),
                        ]
                    })
                    .collect();
            }
            "reverse-with-seq-lens" => {
                case.convention = Some(Convention::Onnx);
                cfg.direction = Direction::Reverse;
                case.seq_lens = true;
                case.batch = irregular_in(rng, 3, 9);
            }
            "projection-with-seq-lens" => {
                cfg.num_layers = 2;
                cfg.direction = Direction::Bidirectional;
                cfg.hidden_size = cfg.hidden_size.max(4);
                cfg.proj_size = Some(rng.random_range(1..cfg.hidden_size));
                case.seq_lens = true;
                case.batch = irregular_in(rng, 3, 9);
            }
            "batch-1-hidden-64-plus" => {
                case.batch = 1;
                cfg.hidden_size = irregular_in(rng, 65, 127);
                case.seq_len = rng.random_range(64..=80);
                case.seq_lens = false;
                if rng.random_bool(0.5) {
                    cfg.direction = Direction::Bidirectional;
                }
            }
            "hidden-over-128" => {
                cfg.hidden_size = irregular_in(rng, 129, 200);
                case.batch = irregular_in(rng, 2, 5);
                case.seq_len = rng.random_range(5..=10);
            }
            "hidden-over-256" => {
                cfg.hidden_size = irregular_in(rng, 257, 320);
                cfg.input_size = cfg.input_size.min(40);
                cfg.num_layers = 1;
                cfg.proj_size = None;
                case.batch = rng.random_range(1..=2);
                case.seq_len = rng.random_range(3..=6);
            }
            "batch-class-2" => case.batch = rng.random_range(2..=3),
            "batch-class-4" => {
                case.batch = irregular_in(rng, 5, 15);
                cfg.weights_precision = Precision::F16;
            }
            "batch-class-16" => {
                case.batch = irregular_in(rng, 17, 63);
                cfg.input_forget = true;
            }
            "batch-class-64" => {
                case.batch = irregular_in(rng, 129, 140);
                case.seq_len = rng.random_range(2..=4);
                cfg.hidden_size = irregular_in(rng, 20, 70);
            }
            "f16-weights-stack" | "int8-weights-stack" => {
                cfg.weights_precision = if name == "f16-weights-stack" {
                    Precision::F16
                } else {
                    Precision::Int8
                };
                cfg.num_layers = 2;
                cfg.direction = Direction::Bidirectional;
                cfg.hidden_size = cfg.hidden_size.max(4);
                cfg.proj_size = Some(rng.random_range(1..cfg.hidden_size));
            }
            "int8-weights-wavefront" => {
                case.convention = None;
                cfg.weights_precision = Precision::Int8;
                cfg.num_layers = 3;
                cfg.peepholes = true;
                // Small: every variant of three layers reads int8 through the heaviest reader.
                cfg.hidden_size = irregular_in(rng, 5, 40);
                case.seq_len = rng.random_range(3..=6);
            }
            "gru-reset-before-product" => {
                case.convention = Some(Convention::Onnx);
                cfg.cell = Cell::Gru;
                cfg.linear_before_reset = false;
                cfg.hidden_size = irregular_in(rng, 41, 127);
                case.seq_len = rng.random_range(5..=12);
            }
            "pool-rows" => {
                cfg.num_layers = 2;
                case.pooled = true;
                case.initial_state = true;
                case.batch = irregular_in(rng, 3, 9);
                if rng.random_bool(0.5) {
                    cfg.hidden_size = cfg.hidden_size.max(4);
                    cfg.proj_size = Some(rng.random_range(1..cfg.hidden_size));
                }
            }
            other => unreachable!("stratum {other} has no case"),
        }
        case
    }
}

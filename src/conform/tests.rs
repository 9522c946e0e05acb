//! The suite's strata, shapes and random cases, without a GPU.

use super::*;

fn strata(seed: u64) -> Vec<ConformCase> {
    suite(0, seed, &[])
        .unwrap()
        .into_iter()
        .filter(|(o, _)| matches!(o, Origin::Stratum(_)))
        .map(|(_, c)| c)
        .collect()
}

/// Each stratum's case has what the stratum promises, for many seeds.
#[test]
fn every_stratum_makes_its_combination() {
    for seed in [0, 1, 77, 1000, 123_456] {
        let cases = strata(seed);
        assert_eq!(cases.len(), STRATA.len());
        let named = |name: &str| &cases[STRATA.iter().position(|s| s.0 == name).unwrap()];
        let wavefront = |c: &ConformCase| {
            c.config.num_directions() == 1 && c.config.proj_size.is_none() && c.config.num_layers > 1
        };
        let c = named("wavefront-3-layers");
        assert!(wavefront(c) && c.config.num_layers >= 3);
        let c = named("peepholes-in-a-stack");
        assert!(wavefront(c) && c.config.peepholes && c.convention.is_none());
        let c = named("peepholes-bidirectional-stack");
        assert!(c.config.peepholes && c.config.num_layers == 2 && c.config.num_directions() == 2);
        let c = named("peepholes-with-clip");
        assert!(c.config.peepholes && c.config.clip.is_some_and(|v| v < 1.0));
        let c = named("per-direction-activations");
        let [a, b] = [0, 1].map(|d| c.config.activations_of(d));
        assert!((0..3).all(|i| a[i] != b[i]), "{}", c.describe());
        let c = named("reverse-with-seq-lens");
        assert!(c.config.direction == Direction::Reverse && c.seq_lens && c.batch > 1);
        let c = named("projection-with-seq-lens");
        assert!(c.config.proj_size.is_some() && c.seq_lens && c.batch > 1);
        let c = named("batch-1-hidden-64-plus");
        assert!(c.batch == 1 && (65..128).contains(&c.config.hidden_size) && c.seq_len >= 64);
        assert!(named("hidden-over-128").config.hidden_size > 128);
        let over_256 = named("hidden-over-256");
        assert!((257..=320).contains(&over_256.config.hidden_size) && over_256.config.proj_size.is_none());
        assert!(cases.iter().any(|c| c.config.weights_precision == Precision::F16));
        // Every batch class the autotune tells apart.
        for class in [1..=1, 2..=3, 4..=15, 16..=63, 64..=usize::MAX] {
            assert!(
                cases.iter().any(|c| class.contains(&c.batch)),
                "batch class {class:?}"
            );
        }
        let large = named("batch-class-64");
        assert!(large.batch > 128 && large.seq_len <= 4);
        // Every activation in g or h.
        for kind in ActivationKind::ALL {
            assert!(
                cases
                    .iter()
                    .any(|c| c.config.activations.iter().any(|a| a.kind == kind)),
                "{kind:?}"
            );
        }
        for c in &cases {
            c.config.validate().unwrap();
            assert!(c.macs() < 100_000_000, "{}", c.describe());
        }
    }
}

#[test]
fn a_suite_holds_strata_then_shapes_then_random_cases() {
    let shape: CaseShape = "3,7,50,40,2".parse().unwrap();
    let cases = suite(30, 5, &[shape]).unwrap();
    assert_eq!(cases.len(), 30);
    assert!(cases[..STRATA.len()]
        .iter()
        .enumerate()
        .all(|(i, (o, _))| *o == Origin::Stratum(i)));
    let (origin, c) = &cases[STRATA.len()];
    assert_eq!(*origin, Origin::Shape);
    assert_eq!(
        (
            c.batch,
            c.seq_len,
            c.config.input_size,
            c.config.hidden_size,
            c.config.num_layers
        ),
        (3, 7, 50, 40, 2)
    );
    // Then the GRU's and the RNN's cases, each of its cell and without the LSTM's options.
    let cells = &cases[STRATA.len() + 1..][..2 * CELL_CASES];
    for (k, (origin, c)) in cells.iter().enumerate() {
        let cell = if k < CELL_CASES { Cell::Gru } else { Cell::Rnn };
        assert_eq!((*origin, c.config.cell), (Origin::Cell(cell), cell));
        assert!(!c.config.peepholes && c.config.proj_size.is_none() && !c.config.input_forget);
        c.config.validate().unwrap();
    }
    assert!(cases[STRATA.len() + 1 + 2 * CELL_CASES..]
        .iter()
        .all(|(o, _)| *o == Origin::Random));
    for (k, (_, c)) in cases.iter().enumerate() {
        assert_eq!(c.seed, 5 + k as u64);
    }
    // Fewer cases than strata still runs every stratum and the cells' cases.
    assert_eq!(suite(3, 0, &[]).unwrap().len(), STRATA.len() + 2 * CELL_CASES);
}

/// Over many seeds, the GRU's cases draw both linear_before_reset modes, and never the mode
/// nn.GRU's files cannot hold.
#[test]
fn cell_cases_cover_both_gru_modes() {
    let grus: Vec<ConformCase> = (0..40)
        .map(|seed| ConformCase::random_of(Cell::Gru, seed))
        .collect();
    assert!(grus.iter().any(|c| c.config.linear_before_reset));
    assert!(grus.iter().any(|c| !c.config.linear_before_reset));
    assert!(grus
        .iter()
        .all(|c| c.config.linear_before_reset || c.convention != Some(Convention::PyTorch)));
}

#[test]
fn shapes_parse_or_say_why_not() {
    assert_eq!(
        "1,307,128,128".parse::<CaseShape>().unwrap(),
        CaseShape {
            batch: 1,
            seq_len: 307,
            input_size: 128,
            hidden_size: 128,
            num_layers: 1
        }
    );
    for bad in ["", "1,2,3", "1,2,3,4,5,6", "1,0,3,4", "a,b,c,d", "1,2,3,-4"] {
        let e = bad.parse::<CaseShape>().unwrap_err();
        assert!(e.to_string().contains("B,T,I,H"), "{bad}: {e}");
    }
}

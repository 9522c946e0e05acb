//! Loading weights: convention detection, key prefixes, dtypes, gate order, and the errors for
//! every inconsistency (each naming the key and the shapes).

use safetensors::tensor::TensorView;
use safetensors::Dtype;
use wgpu_lstm::{Convention, Direction, Error, Layout, LstmConfig, LstmWeights};

/// A safetensors file from (key, dtype, shape, little-endian bytes).
fn file(tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(k, d, s, b)| (k.to_string(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize(views, None).unwrap()
}

fn f32_bytes(n: usize, seed: f32) -> Vec<u8> {
    (0..n)
        .flat_map(|i| ((i as f32 * 0.37 + seed).sin() * 0.5).to_le_bytes())
        .collect()
}

/// A valid PyTorch-convention file for I=3, H=2, `layers` layers, optional reverse and bias.
fn pytorch(
    prefix: &str,
    layers: usize,
    bidir: bool,
    bias: bool,
) -> Vec<(String, Dtype, Vec<usize>, Vec<u8>)> {
    let (i, h) = (3, 2);
    let d = if bidir { 2 } else { 1 };
    let mut t = Vec::new();
    for l in 0..layers {
        for dir in 0..d {
            let sfx = if dir == 1 { "_reverse" } else { "" };
            let inp = if l == 0 { i } else { d * h };
            let k = |name: &str| format!("{prefix}{name}_l{l}{sfx}");
            t.push((
                k("weight_ih"),
                Dtype::F32,
                vec![4 * h, inp],
                f32_bytes(4 * h * inp, 1.0),
            ));
            t.push((
                k("weight_hh"),
                Dtype::F32,
                vec![4 * h, h],
                f32_bytes(4 * h * h, 2.0),
            ));
            if bias {
                t.push((k("bias_ih"), Dtype::F32, vec![4 * h], f32_bytes(4 * h, 3.0)));
                t.push((k("bias_hh"), Dtype::F32, vec![4 * h], f32_bytes(4 * h, 4.0)));
            }
        }
    }
    t
}

fn load(
    tensors: &[(String, Dtype, Vec<usize>, Vec<u8>)],
    convention: Option<Convention>,
) -> wgpu_lstm::Result<(LstmWeights, Convention)> {
    let refs: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(k, d, s, b)| (k.as_str(), *d, s.clone(), b.clone()))
        .collect();
    LstmWeights::from_safetensors(&file(&refs), convention)
}

fn message(r: wgpu_lstm::Result<(LstmWeights, Convention)>) -> String {
    r.expect_err("expected an error").to_string()
}

#[test]
fn detects_pytorch_with_a_key_prefix_and_sizes_from_shapes() {
    let (w, conv) = load(&pytorch("encoder.lstm.", 2, true, true), None).unwrap();
    assert_eq!(conv, Convention::PyTorch);
    assert_eq!(
        w.config(Layout::SeqMajor),
        LstmConfig {
            input_size: 3,
            hidden_size: 2,
            num_layers: 2,
            direction: Direction::Bidirectional,
            bias: true,
            layout: Layout::SeqMajor,
            ..LstmConfig::default()
        }
    );
}

#[test]
fn keys_outside_the_prefix_are_ignored_but_unknown_keys_inside_are_refused() {
    let mut t = pytorch("lstm.", 1, false, true);
    t.push(("decoder.weight".into(), Dtype::F32, vec![2], f32_bytes(2, 0.0)));
    assert!(load(&t, None).is_ok());
    t.push((
        "lstm.weight_xx_l0".into(),
        Dtype::F32,
        vec![1, 2],
        f32_bytes(2, 0.0),
    ));
    let m = message(load(&t, None));
    assert!(m.contains("lstm.weight_xx_l0") && m.contains("state_dict"), "{m}");
}

#[test]
fn missing_bias_half_and_wrong_shapes_name_the_key() {
    let mut t = pytorch("", 1, false, true);
    t.retain(|(k, ..)| k != "bias_hh_l0");
    let m = message(load(&t, None));
    assert!(m.contains("bias_hh_l0"), "{m}");

    let mut t = pytorch("", 2, false, false);
    let l1 = t.iter_mut().find(|(k, ..)| k == "weight_ih_l1").unwrap();
    l1.2 = vec![8, 3];
    l1.3 = f32_bytes(24, 0.0);
    let m = message(load(&t, None));
    assert!(
        m.contains("weight_ih_l1") && m.contains("[8, 2]") && m.contains("[8, 3]"),
        "{m}"
    );

    let mut t = pytorch("", 1, false, false);
    let hh = t.iter_mut().find(|(k, ..)| k == "weight_hh_l0").unwrap();
    hh.2 = vec![7, 2];
    hh.3 = f32_bytes(14, 0.0);
    let m = message(load(&t, None));
    assert!(m.contains("weight_hh_l0") && m.contains("[7, 2]"), "{m}");
}

#[test]
fn half_bfloat_and_double_are_converted() {
    let values = [0.5f32, -1.25, 3.0, 0.0078125];
    let h = 1;
    let mk = |dtype: Dtype, bytes: Vec<u8>| {
        let t = vec![
            ("weight_ih_l0".to_string(), dtype, vec![4 * h, 1], bytes.clone()),
            ("weight_hh_l0".to_string(), dtype, vec![4 * h, h], bytes),
        ];
        load(&t, None).unwrap().0
    };
    let f32w = mk(Dtype::F32, values.iter().flat_map(|v| v.to_le_bytes()).collect());
    let f16w = mk(
        Dtype::F16,
        values
            .iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect(),
    );
    let bf16w = mk(
        Dtype::BF16,
        values
            .iter()
            .flat_map(|v| half::bf16::from_f32(*v).to_le_bytes())
            .collect(),
    );
    let f64w = mk(
        Dtype::F64,
        values.iter().flat_map(|v| (*v as f64).to_le_bytes()).collect(),
    );
    assert_eq!(f32w.layers()[0][0].w_ih, values);
    assert!(f16w == f32w && bf16w == f32w && f64w == f32w);

    let t = vec![
        ("weight_ih_l0".to_string(), Dtype::I32, vec![4, 1], vec![0u8; 16]),
        ("weight_hh_l0".to_string(), Dtype::I32, vec![4, 1], vec![0u8; 16]),
    ];
    let m = message(load(&t, None));
    assert!(m.contains("weight_ih_l0") && m.contains("I32"), "{m}");
}

#[test]
fn onnx_gate_order_round_trips_and_reorders() {
    let config = LstmConfig {
        input_size: 3,
        hidden_size: 2,
        num_layers: 1,
        direction: Direction::Bidirectional,
        bias: true,
        layout: Layout::SeqMajor,
        ..LstmConfig::default()
    };
    let w = LstmWeights::random(&config, 7).unwrap();
    let bytes = w.to_safetensors(Convention::Onnx).unwrap();
    let (back, conv) = LstmWeights::from_safetensors(&bytes, None).unwrap();
    assert_eq!(conv, Convention::Onnx);
    assert!(back == w);

    // In the file, ONNX block 1 (o) must be the engine's block 3 (o), block 2 (f) its block 1.
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let r = st.tensor("R").unwrap();
    let floats: Vec<f32> = r
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let block = 2 * 2; // H rows of H columns
    let engine = &w.layers()[0][0].w_hh;
    assert_eq!(
        &floats[block..2 * block],
        &engine[3 * block..4 * block],
        "o block"
    );
    assert_eq!(
        &floats[2 * block..3 * block],
        &engine[block..2 * block],
        "f block"
    );
    assert_eq!(
        &floats[3 * block..4 * block],
        &engine[2 * block..3 * block],
        "c block"
    );
}

#[test]
fn onnx_errors_peepholes_shapes_and_multi_layer_export() {
    let h = 2;
    let w = (
        "W".to_string(),
        Dtype::F32,
        vec![1, 4 * h, 3],
        f32_bytes(4 * h * 3, 0.0),
    );
    let r = (
        "R".to_string(),
        Dtype::F32,
        vec![1, 4 * h, h],
        f32_bytes(4 * h * h, 0.0),
    );
    assert!(load(&[w.clone(), r.clone()], None).is_ok());
    let p = ("P".to_string(), Dtype::F32, vec![1, 3 * h], f32_bytes(3 * h, 0.0));
    assert!(load(&[w.clone(), r.clone(), p], None).unwrap().0.has_peepholes());
    let bad_p = ("P".to_string(), Dtype::F32, vec![1, 4 * h], f32_bytes(4 * h, 0.0));
    let m = message(load(&[w.clone(), r.clone(), bad_p], None));
    assert!(
        m.contains("'P'") && m.contains("[1, 6]") && m.contains("[1, 8]"),
        "{m}"
    );
    let q = ("Q".to_string(), Dtype::F32, vec![1], f32_bytes(1, 0.0));
    let m = message(load(&[w.clone(), r.clone(), q], None));
    assert!(m.contains("'Q'"), "{m}");
    let b = ("B".to_string(), Dtype::F32, vec![1, 4 * h], f32_bytes(4 * h, 0.0));
    let m = message(load(&[w.clone(), r.clone(), b], None));
    assert!(
        m.contains("'B'") && m.contains("[1, 16]") && m.contains("[1, 8]"),
        "{m}"
    );
    let r3 = (
        "R".to_string(),
        Dtype::F32,
        vec![3, 4 * h, h],
        f32_bytes(3 * 4 * h * h, 0.0),
    );
    let m = message(load(&[w, r3], None));
    assert!(m.contains("'R'") && m.contains("D = 1 or 2"), "{m}");

    let two = LstmWeights::random(
        &LstmConfig {
            input_size: 2,
            hidden_size: 2,
            num_layers: 2,
            direction: Direction::Forward,
            bias: false,
            layout: Layout::SeqMajor,
            ..LstmConfig::default()
        },
        0,
    )
    .unwrap();
    assert!(matches!(
        two.to_safetensors(Convention::Onnx),
        Err(Error::Invalid { .. })
    ));
}

#[test]
fn detection_and_override_errors() {
    let pt = pytorch("", 1, false, false);
    let m = message(load(&pt, Some(Convention::Onnx)));
    assert!(m.contains("'W'") && m.contains("onnx"), "{m}");

    let mut both = pt.clone();
    both.push(("W".into(), Dtype::F32, vec![1, 8, 3], f32_bytes(24, 0.0)));
    let m = message(load(&both, None));
    assert!(m.contains("--convention"), "{m}");
    assert!(
        load(&both, Some(Convention::PyTorch)).is_err(),
        "W is an unknown key under the empty prefix"
    );

    let m = message(load(
        &[("foo".into(), Dtype::F32, vec![1], f32_bytes(1, 0.0))],
        None,
    ));
    assert!(m.contains("weight_ih_l0") && m.contains("foo"), "{m}");

    let m = LstmWeights::from_safetensors(b"not a safetensors file", None)
        .unwrap_err()
        .to_string();
    assert!(m.contains("safetensors"), "{m}");
    let missing = std::path::Path::new("/nonexistent/w.safetensors");
    let m = LstmWeights::load(missing, None).unwrap_err().to_string();
    assert!(m.contains("/nonexistent/w.safetensors"), "{m}");
}

#[test]
fn pytorch_projection_sizes_come_from_weight_hr() {
    let (i, h, p) = (3, 4, 2);
    let mut t = Vec::new();
    for l in 0..2 {
        let inp = if l == 0 { i } else { p };
        t.push((
            format!("weight_ih_l{l}"),
            Dtype::F32,
            vec![4 * h, inp],
            f32_bytes(4 * h * inp, 1.0),
        ));
        t.push((
            format!("weight_hh_l{l}"),
            Dtype::F32,
            vec![4 * h, p],
            f32_bytes(4 * h * p, 2.0),
        ));
        t.push((
            format!("weight_hr_l{l}"),
            Dtype::F32,
            vec![p, h],
            f32_bytes(p * h, 3.0),
        ));
    }
    let (w, _) = load(&t, None).unwrap();
    assert_eq!((w.hidden_size(), w.proj_size(), w.num_layers()), (h, Some(p), 2));
    let round = LstmWeights::from_safetensors(&w.to_safetensors(Convention::PyTorch).unwrap(), None)
        .unwrap()
        .0;
    assert!(round == w);
    assert!(
        w.to_safetensors(Convention::Onnx).is_err(),
        "ONNX has no projection"
    );

    let mut bad = t.clone();
    bad[2].2 = vec![p, h + 1];
    bad[2].3 = f32_bytes(p * (h + 1), 0.0);
    let m = message(load(&bad, None));
    assert!(
        m.contains("weight_hr_l0") && m.contains("[2, 4]") && m.contains("[2, 5]"),
        "{m}"
    );
    let mut missing = t.clone();
    missing.retain(|(k, ..)| k != "weight_hr_l1");
    let m = message(load(&missing, None));
    assert!(m.contains("weight_hr_l1") || m.contains("weight_hh_l1"), "{m}");
}

#[test]
fn direction_override_must_keep_the_direction_count() {
    let (w, _) = load(&pytorch("", 1, false, false), None).unwrap();
    let rev = w.clone().with_direction(Direction::Reverse).unwrap();
    assert_eq!(rev.direction(), Direction::Reverse);
    assert!(w.with_direction(Direction::Bidirectional).is_err());
}

/// Named tensors (a state_dict, as the Python package passes it) read exactly as the same
/// tensors in a .safetensors file; their errors are the file's, naming the key.
#[test]
fn named_tensors_read_like_a_file() {
    use wgpu_lstm::Tensor;
    for (layers, bidir, bias) in [(1, false, true), (2, true, false)] {
        let tensors = pytorch("lstm.", layers, bidir, bias);
        let (from_file, convention) = LstmWeights::from_safetensors(
            &file(
                &tensors
                    .iter()
                    .map(|(k, d, s, b)| (k.as_str(), *d, s.clone(), b.clone()))
                    .collect::<Vec<_>>(),
            ),
            None,
        )
        .unwrap();
        let named: Vec<(String, Tensor)> = tensors
            .iter()
            .map(|(k, _, s, b)| {
                let data = b
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                    .collect();
                (k.clone(), Tensor::new(s.clone(), data).unwrap())
            })
            .collect();
        let (from_named, named_convention) = LstmWeights::from_tensors(&named, None).unwrap();
        assert_eq!(from_named, from_file);
        assert_eq!(
            (named_convention, convention),
            (Convention::PyTorch, Convention::PyTorch)
        );
        let missing: Vec<_> = named
            .iter()
            .filter(|(k, _)| !k.ends_with("weight_hh_l0"))
            .cloned()
            .collect();
        let err = LstmWeights::from_tensors(&missing, None).unwrap_err();
        assert!(err.to_string().contains("weight_hh_l0"), "{err}");
    }
}

//! Each folded op in both forms, and the typed errors, without a model file.

use super::*;
use crate::onnx::proto::{tensor_proto::DataType, AttributeProto, GraphProto, NodeProto, TensorProto};

pub(super) fn ctx() -> Ctx {
    Ctx {
        path: "<test>".into(),
        dir: None,
        limits: crate::files::ReadLimits::DEFAULT,
        bound: Default::default(),
    }
}

pub(super) fn tensor(name: &str, dims: &[i64], data: Vec<f32>) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(DataType::Float as i32),
        float_data: data,
        ..Default::default()
    }
}

pub(super) fn ints_tensor(name: &str, data: Vec<i64>) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: vec![data.len() as i64],
        data_type: Some(DataType::Int64 as i32),
        int64_data: data,
        ..Default::default()
    }
}

pub(super) fn ints_attr(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Ints as i32),
        ints: v.to_vec(),
        ..Default::default()
    }
}

pub(super) fn int_attr(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(v),
        ..Default::default()
    }
}

pub(super) fn node(op: &str, inputs: &[&str], outputs: &[&str], attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute,
        ..Default::default()
    }
}

/// `x` is [[0, 1, 2], [3, 4, 5]] (2×3).
pub(super) fn eval(nodes: Vec<NodeProto>, inits: Vec<TensorProto>, name: &str) -> Result<Value> {
    let mut initializer = vec![tensor("x", &[2, 3], (0..6).map(|v| v as f32).collect())];
    initializer.extend(inits);
    let graph = GraphProto {
        node: nodes,
        initializer,
        ..Default::default()
    };
    let ctx = ctx();
    let mut state = FoldState::default();
    let mut f = Folder::new(&ctx, &mut state, "test".into());
    f.eval(&[&graph], name).map(|v| (*v).clone())
}

pub(super) fn floats(v: &Value) -> Vec<f64> {
    match &v.data {
        Data::Float(x) => x.clone(),
        Data::Int(x) => x.iter().map(|&i| i as f64).collect(),
    }
}

#[test]
fn transpose_reshape_squeeze_in_both_forms() {
    let v = eval(vec![node("Transpose", &["x"], &["t"], vec![])], vec![], "t").unwrap();
    assert_eq!(
        (v.shape.clone(), floats(&v)),
        (vec![3, 2], vec![0., 3., 1., 4., 2., 5.])
    );
    // Reshape with 0 (copy) and -1 (infer).
    let v = eval(
        vec![node("Reshape", &["x", "s"], &["r"], vec![])],
        vec![ints_tensor("s", vec![0, -1, 1])],
        "r",
    )
    .unwrap();
    assert_eq!(v.shape, [2, 3, 1]);
    // Unsqueeze by attribute (opset < 13) and by input; Squeeze without axes drops every 1.
    let v = eval(
        vec![
            node("Unsqueeze", &["x"], &["u"], vec![ints_attr("axes", &[0, -1])]),
            node("Squeeze", &["u"], &["q"], vec![]),
        ],
        vec![],
        "u",
    )
    .unwrap();
    assert_eq!(v.shape, [1, 2, 3, 1]);
    let v = eval(
        vec![
            node("Unsqueeze", &["x", "a"], &["u"], vec![]),
            node("Squeeze", &["u"], &["q"], vec![]),
        ],
        vec![ints_tensor("a", vec![1])],
        "q",
    )
    .unwrap();
    assert_eq!(v.shape, [2, 3]);
    // Squeezing a dimension that is not 1 is an error.
    let e = eval(
        vec![node("Squeeze", &["x"], &["q"], vec![ints_attr("axes", &[0])])],
        vec![],
        "q",
    )
    .unwrap_err();
    assert!(e.to_string().contains("is not 1"), "{e}");
}

#[test]
fn slice_split_gather_concat_cast() {
    // Slice with a negative step over axis 1, inputs form: columns 2 and 1.
    let v = eval(
        vec![node("Slice", &["x", "s", "e", "a", "st"], &["y"], vec![])],
        vec![
            ints_tensor("s", vec![-1]),
            ints_tensor("e", vec![0]),
            ints_tensor("a", vec![1]),
            ints_tensor("st", vec![-1]),
        ],
        "y",
    )
    .unwrap();
    assert_eq!((v.shape.clone(), floats(&v)), (vec![2, 2], vec![2., 1., 5., 4.]));
    // Attribute form (opset < 10), ends past the edge clamp.
    let v = eval(
        vec![node(
            "Slice",
            &["x"],
            &["y"],
            vec![
                ints_attr("starts", &[1]),
                ints_attr("ends", &[i64::MAX]),
                ints_attr("axes", &[1]),
            ],
        )],
        vec![],
        "y",
    )
    .unwrap();
    assert_eq!(floats(&v), [1., 2., 4., 5.]);
    // Split into equal parts (no sizes), second output.
    let v = eval(
        vec![node("Split", &["x"], &["p0", "p1"], vec![int_attr("axis", 0)])],
        vec![],
        "p1",
    )
    .unwrap();
    assert_eq!((v.shape.clone(), floats(&v)), (vec![1, 3], vec![3., 4., 5.]));
    // Gather with a negative index and 2-D indices.
    let v = eval(
        vec![node("Gather", &["x", "i"], &["g"], vec![int_attr("axis", 1)])],
        vec![TensorProto {
            name: Some("i".into()),
            dims: vec![1, 2],
            data_type: Some(DataType::Int64 as i32),
            int64_data: vec![-1, 0],
            ..Default::default()
        }],
        "g",
    )
    .unwrap();
    assert_eq!(
        (v.shape.clone(), floats(&v)),
        (vec![2, 1, 2], vec![2., 0., 5., 3.])
    );
    let e = eval(
        vec![node("Gather", &["x", "i"], &["g"], vec![])],
        vec![ints_tensor("i", vec![2])],
        "g",
    )
    .unwrap_err();
    assert!(e.to_string().contains("outside 0..2"), "{e}");
    // Concat along axis -1, then a cast to f16 rounds.
    let v = eval(
        vec![
            node("Concat", &["x", "x"], &["c"], vec![int_attr("axis", -1)]),
            node(
                "Cast",
                &["c"],
                &["h"],
                vec![int_attr("to", DataType::Float16 as i64)],
            ),
        ],
        vec![tensor("z", &[1], vec![0.1])],
        "h",
    )
    .unwrap();
    assert_eq!(v.shape, [2, 6]);
    let v = eval(
        vec![node(
            "Cast",
            &["z"],
            &["h"],
            vec![int_attr("to", DataType::Float16 as i64)],
        )],
        vec![tensor("z", &[1], vec![0.1])],
        "h",
    )
    .unwrap();
    assert_eq!(floats(&v), [half::f16::from_f32(0.1).to_f64()]);
}

#[test]
fn typed_errors_name_the_node() {
    let e = eval(vec![node("Mul", &["x", "x"], &["m"], vec![])], vec![], "m").unwrap_err();
    assert!(
        matches!(
            e,
            crate::error::Error::Onnx {
                problem: OnnxProblem::NotFoldable,
                ..
            }
        ),
        "{e}"
    );
    let e = eval(
        vec![
            node("Identity", &["b"], &["a"], vec![]),
            node("Identity", &["a"], &["b"], vec![]),
        ],
        vec![],
        "a",
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            crate::error::Error::Onnx {
                problem: OnnxProblem::Cycle,
                ..
            }
        ),
        "{e}"
    );
    let e = eval(vec![], vec![], "nowhere").unwrap_err();
    assert!(
        matches!(
            e,
            crate::error::Error::Onnx {
                problem: OnnxProblem::Missing,
                ..
            }
        ),
        "{e}"
    );
    // Data that does not match its dims.
    let e = eval(vec![], vec![tensor("short", &[4], vec![1.0])], "short").unwrap_err();
    assert!(
        matches!(
            e,
            crate::error::Error::Onnx {
                problem: OnnxProblem::Size,
                ..
            }
        ),
        "{e}"
    );
}

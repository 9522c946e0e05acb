//! Graphs built to break folding (from the hostile-file audit of #29): each gives a typed error
//! or the right value, without panicking, aborting, recursing per node or allocating beyond the
//! folding budget.

use super::tests::{ctx, ints_attr, ints_tensor, node, tensor};
use super::*;
use crate::error::Error;
use crate::files::ReadLimits;
use crate::onnx::proto::{tensor_proto::DataType, GraphProto, NodeProto, TensorProto};

/// A float tensor of `dims` holding no elements (one dimension is 0), however large the others.
fn empty(name: &str, dims: &[i64]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(DataType::Float as i32),
        ..Default::default()
    }
}

/// Evaluate `name` in a graph of `nodes` and `inits` under `limits`; the result and the bytes
/// folding counted.
fn fold(
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    name: &str,
    limits: ReadLimits,
) -> (Result<Value>, u64) {
    let graph = GraphProto {
        node: nodes,
        initializer: inits,
        ..Default::default()
    };
    let mut ctx = ctx();
    ctx.limits = limits;
    let mut state = FoldState::default();
    let result = Folder::new(&ctx, &mut state, "hostile".into())
        .eval(&[&graph], name)
        .map(|v| (*v).clone());
    (result, state.bytes)
}

fn refused(result: Result<Value>, needle: &str) {
    match result {
        Err(Error::Onnx { message, .. }) => {
            assert!(message.contains(needle), "{needle:?} not in {message:?}")
        }
        other => panic!("expected an error with {needle:?}, got {other:?}"),
    }
}

const DEFAULT: ReadLimits = ReadLimits::DEFAULT;

#[test]
fn empty_and_huge_zero_element_tensors_slice_split_gather_and_concat_to_empty() {
    // A Slice with step −1 of an empty tensor.
    let steps = || {
        vec![
            ints_tensor("s", vec![-1]),
            ints_tensor("e", vec![-10]),
            ints_tensor("a", vec![0]),
            ints_tensor("k", vec![-1]),
        ]
    };
    let mut inits = steps();
    inits.push(empty("z", &[0]));
    let (v, _) = fold(
        vec![node("Slice", &["z", "s", "e", "a", "k"], &["y"], vec![])],
        inits,
        "y",
        DEFAULT,
    );
    assert_eq!(v.unwrap().shape, [0]);
    // [2^62, 0] through Slice, Split, Gather and Concat: nothing is walked or allocated per index.
    let huge = || empty("h", &[1 << 62, 0]);
    let mut inits = steps();
    inits.push(huge());
    let (v, bytes) = fold(
        vec![node("Slice", &["h", "s", "e", "a", "k"], &["y"], vec![])],
        inits,
        "y",
        DEFAULT,
    );
    // Indices 2^62 − 1 down to 2^62 − 9.
    assert_eq!(v.unwrap().shape, [9, 0]);
    assert_eq!(bytes, 0, "nothing computed for the empty input or output");
    let (v, _) = fold(
        vec![node("Split", &["h"], &["p", "q"], vec![])],
        vec![huge()],
        "q",
        DEFAULT,
    );
    assert_eq!(v.unwrap().shape, [1 << 61, 0]);
    let (v, _) = fold(
        vec![node("Gather", &["h", "i"], &["g"], vec![])],
        vec![huge(), ints_tensor("i", vec![5, -1])],
        "g",
        DEFAULT,
    );
    assert_eq!(v.unwrap().shape, [2, 0]);
    let (v, _) = fold(
        vec![node(
            "Concat",
            &["h", "h"],
            &["c"],
            vec![super::tests::int_attr("axis", 1)],
        )],
        vec![huge()],
        "c",
        DEFAULT,
    );
    assert_eq!(v.unwrap().shape, [1 << 62, 0]);
}

#[test]
fn split_sizes_that_wrap_or_outnumber_the_outputs_are_refused() {
    let x = || tensor("x", &[4], vec![0.0; 4]);
    let (v, _) = fold(
        vec![node("Split", &["x", "s"], &["p", "q", "r"], vec![])],
        vec![x(), ints_tensor("s", vec![i64::MAX, i64::MAX, 6])],
        "p",
        DEFAULT,
    );
    refused(v, "parts");
    let (v, _) = fold(
        vec![node(
            "Split",
            &["x"],
            &["p", "q"],
            vec![super::tests::int_attr("num_outputs", 1 << 61)],
        )],
        vec![x()],
        "p",
        DEFAULT,
    );
    refused(v, "num_outputs");
}

#[test]
fn ranks_past_the_limit_are_refused_before_any_work() {
    let x = || tensor("x", &[1], vec![1.0]);
    let axes: Vec<i64> = vec![0; 1_000_000];
    let (v, _) = fold(
        vec![node("Unsqueeze", &["x"], &["u"], vec![ints_attr("axes", &axes)])],
        vec![x()],
        "u",
        DEFAULT,
    );
    refused(v, "rank 1000001");
    let perm: Vec<i64> = (0..1_000_000).collect();
    let (v, _) = fold(
        vec![node("Transpose", &["x"], &["t"], vec![ints_attr("perm", &perm)])],
        vec![x()],
        "t",
        DEFAULT,
    );
    refused(v, "rank 1000000");
    // Duplicate axes are an error, not a silent reinterpretation.
    let (v, _) = fold(
        vec![node(
            "Unsqueeze",
            &["x"],
            &["u"],
            vec![ints_attr("axes", &[0, 0])],
        )],
        vec![x()],
        "u",
        DEFAULT,
    );
    refused(v, "twice");
}

#[test]
fn a_long_identity_chain_folds_without_recursion_or_copies() {
    // 20,000 nodes: one stack frame per node would overflow a test thread's stack. The value
    // (2^16 elements, made by a Cast, the one result counted) is held once, however long the
    // chain: every name of it refers to the same allocation.
    let n = 20_000;
    let mut nodes = vec![node(
        "Cast",
        &["x"],
        &["v0"],
        vec![super::tests::int_attr("to", 1)],
    )];
    for i in 1..n {
        nodes.push(node(
            "Identity",
            &[&format!("v{}", i - 1)],
            &[&format!("v{i}")],
            vec![],
        ));
    }
    let graph = GraphProto {
        node: nodes,
        initializer: vec![tensor("x", &[1 << 16], vec![0.5; 1 << 16])],
        ..Default::default()
    };
    let ctx = ctx();
    let mut state = FoldState::default();
    let last = Folder::new(&ctx, &mut state, "chain".into())
        .eval(&[&graph], &format!("v{}", n - 1))
        .unwrap();
    assert_eq!(last.shape, [1 << 16]);
    assert_eq!(state.bytes, 8 << 16, "the Cast's result, once");
    let key = |name: String| (&graph as *const GraphProto as usize, name);
    let first = &state.memo[&key("v0".into())];
    assert!((1..n).all(|i| Arc::ptr_eq(&state.memo[&key(format!("v{i}"))], first)));
}

#[test]
fn folding_past_its_budget_is_refused_before_allocating() {
    // Concat of a tensor with itself 4,096 times: 4 KiB of input, 32 MiB of f64 output.
    let names: Vec<String> = vec!["x".to_string(); 4096];
    let inputs: Vec<&str> = names.iter().map(String::as_str).collect();
    let x = || tensor("x", &[1024], vec![1.0; 1024]);
    let tight = ReadLimits {
        max_folded_bytes: 16 << 20,
        ..DEFAULT
    };
    let (v, bytes) = fold(
        vec![node("Concat", &inputs, &["c"], vec![])],
        vec![x()],
        "c",
        tight,
    );
    refused(v, "--max-folded-bytes");
    assert!(bytes <= 16 << 20, "{bytes}");
    let (v, _) = fold(
        vec![node("Concat", &inputs, &["c"], vec![])],
        vec![x()],
        "c",
        DEFAULT,
    );
    assert_eq!(v.unwrap().shape, [4096 * 1024]);
}

#[test]
fn a_cycle_through_many_nodes_is_found() {
    let nodes = vec![
        node("Identity", &["c"], &["a"], vec![]),
        node("Identity", &["a"], &["b"], vec![]),
        node("Identity", &["b"], &["c"], vec![]),
    ];
    let (v, _) = fold(nodes, vec![], "a", DEFAULT);
    refused(v, "depends on itself");
}

#[test]
fn a_region_of_external_data_named_many_times_counts_against_the_budget() {
    // 300 initializers all reading the same 4 KiB of w.bin: the first read is the file's
    // own size; the others multiply it, and count.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("w.bin"), [0u8; 4096]).unwrap();
    let external = |name: &str| TensorProto {
        name: Some(name.into()),
        dims: vec![1024],
        data_type: Some(DataType::Float as i32),
        data_location: Some(crate::onnx::proto::tensor_proto::DataLocation::External as i32),
        external_data: vec![crate::onnx::proto::StringStringEntryProto {
            key: Some("location".into()),
            value: Some("w.bin".into()),
        }],
        ..Default::default()
    };
    let graph = GraphProto {
        initializer: (0..300).map(|i| external(&format!("w{i}"))).collect(),
        ..Default::default()
    };
    let mut ctx = ctx();
    ctx.dir = Some(dir.path().to_path_buf());
    ctx.limits = ReadLimits {
        max_folded_bytes: 1 << 20,
        ..DEFAULT
    };
    let mut state = FoldState::default();
    let mut folder = Folder::new(&ctx, &mut state, "regions".into());
    let first = folder.eval(&[&graph], "w0").unwrap();
    assert_eq!(first.shape, [1024]);
    let refused = (1..300)
        .map(|i| folder.eval(&[&graph], &format!("w{i}")))
        .find_map(|r| r.err())
        .expect("the budget stops the copies");
    assert!(refused.to_string().contains("--max-folded-bytes"), "{refused}");
}

//! Property tests of what reads user input: arbitrary `.npy` files, arbitrary `.safetensors`
//! bytes, damaged `.onnx` models and arbitrary requests never panic, and never make a single allocation larger than a
//! bound set by the input's own size (a counting allocator watches every allocation of the test's
//! thread).

mod common;

use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::cell::Cell;

use proptest::prelude::*;
use wgpu_lstm::{CpuLstm, Direction, Layout, LstmConfig, LstmWeights, State, Tensor};

struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|l| {
        if size > l.get() {
            l.set(size)
        }
    });
}

// SAFETY: every call is passed on to the system allocator unchanged; only sizes are noted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: AllocLayout) -> *mut u8 {
        note(layout.size());
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: AllocLayout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The largest single allocation `f` makes on this thread.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    let value = f();
    (value, LARGEST.with(|l| l.get()))
}

/// Allocations beyond this plus a multiple of the input's size are a bug.
const SLACK: usize = 1 << 20;

/// Small, or anything up to u64::MAX.
fn dimension() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0u64..6, 1 => any::<u64>(), 1 => Just(1u64 << 62)]
}

/// An `.npy` file: its header dictionary (perhaps with a lying shape or a strange dtype) and data.
fn npy_file() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(vec![
            "<f4", "<f8", ">f4", "<i4", "<i8", "|u1", "<U3", "<c8", "xyz",
        ]),
        any::<bool>(),
        prop::collection::vec(dimension(), 0..4),
        prop::collection::vec(any::<u8>(), 0..256),
        any::<bool>(),
        prop::option::of((0usize..128, any::<u8>())),
    )
        .prop_map(|(descr, fortran, shape, mut data, exact, corrupt)| {
            // Half the files hold exactly the data their header promises (where that is small).
            let item = if descr.ends_with('8') { 8 } else { 4 };
            let needed = shape.iter().try_fold(item, |acc: u64, &d| acc.checked_mul(d));
            if let (true, Some(n)) = (exact, needed.filter(|&n| n <= 4096)) {
                data.resize(n as usize, 0x3f);
            }
            let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
            let tuple = match dims.len() {
                1 => format!("({},)", dims[0]),
                _ => format!("({})", dims.join(", ")),
            };
            let fortran = if fortran { "True" } else { "False" };
            let dict = format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {tuple}, }}");
            let mut bytes = common::npy(&dict, &data);
            if let Some((at, value)) = corrupt {
                let at = at % bytes.len();
                bytes[at] = value;
            }
            bytes
        })
}

/// A `.safetensors` file whose header names LSTM tensors with arbitrary dtypes, shapes and
/// offsets, over arbitrary data.
fn safetensors_file() -> impl Strategy<Value = Vec<u8>> {
    let name = prop::sample::select(vec![
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "weight_hr_l0",
        "weight_ih_l0_reverse",
        "weight_ih_l1",
        "W",
        "R",
        "B",
        "P",
        "other",
    ]);
    let dtype = prop::sample::select(vec!["F32", "F16", "BF16", "F64", "I32", "U8", "Q4"]);
    let shape = prop::collection::vec(prop_oneof![4 => 0usize..9, 1 => any::<usize>()], 0..4);
    let tensor = (name, dtype, shape, any::<bool>(), 0usize..64, 0usize..64);
    (
        prop::collection::vec(tensor, 0..6),
        prop::collection::vec(any::<u8>(), 0..512),
    )
        .prop_map(|(tensors, data)| {
            let mut at = 0usize;
            let entries: Vec<String> = tensors
                .iter()
                .map(|(name, dtype, shape, consistent, a, b)| {
                    // Offsets that follow the shape, or arbitrary ones.
                    let size = |d: &str| match d {
                        "F64" => 8,
                        "F32" | "I32" => 4,
                        "F16" | "BF16" => 2,
                        _ => 1,
                    };
                    let (start, end) = if *consistent {
                        let n = shape
                            .iter()
                            .try_fold(size(dtype), |acc: usize, &d| acc.checked_mul(d))
                            .unwrap_or(usize::MAX);
                        let span = (at, at.saturating_add(n));
                        at = span.1;
                        span
                    } else {
                        (*a, *b)
                    };
                    format!(
                        "\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape:?},\"data_offsets\":[{start},{end}]}}"
                    )
                })
                .collect();
            let header = format!("{{{}}}", entries.join(","));
            let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
            bytes.extend(header.as_bytes());
            bytes.extend(data);
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn npy_files_never_panic_or_over_allocate(bytes in npy_file()) {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.npy");
        std::fs::write(&path, &bytes).unwrap();
        let (_, largest) = largest_allocation(|| {
            let _ = Tensor::read_npy(&path);
            let _ = wgpu_lstm::read_lengths_npy(&path);
        });
        prop_assert!(largest <= SLACK + 8 * bytes.len(), "{largest} bytes for a file of {}", bytes.len());
    }

    #[test]
    fn safetensors_bytes_never_panic_or_over_allocate(bytes in safetensors_file()) {
        let (_, largest) = largest_allocation(|| {
            for convention in [None, Some(wgpu_lstm::Convention::PyTorch), Some(wgpu_lstm::Convention::Onnx)] {
                let _ = LstmWeights::from_safetensors(&bytes, convention);
            }
        });
        prop_assert!(largest <= SLACK + 8 * bytes.len(), "{largest} bytes for {} bytes", bytes.len());
    }

    /// `.onnx` models with bytes flipped or cut short never panic: each is a typed error or a
    /// model (whose nodes may then fail to load, also with a typed error).
    #[test]
    fn damaged_onnx_models_never_panic(
        model in 0usize..3,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/onnx");
        let path = [root.join("torch_dynamo/model.onnx"), root.join("torch_legacy/model.onnx"), root.join("bad/two_lstms.onnx")][model].clone();
        let mut bytes = std::fs::read(path).unwrap();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        if let Ok(model) = wgpu_lstm::onnx::OnnxModel::from_bytes(&bytes, None) {
            let nodes = model.lstm_nodes();
            let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
            let _ = model.load(&[]);
            let _ = model.load(&names);
        }
    }

    /// Arbitrary inputs, initial states and lengths against a small model.
    #[test]
    fn requests_never_panic_or_over_allocate(
        input in (1usize..4, 1usize..5, 1usize..3, 0usize..3),
        x_shape in prop::collection::vec(prop_oneof![4 => 0usize..5, 1 => any::<usize>()], 0..5),
        state_shape in prop::option::of(prop::collection::vec(0usize..5, 0..4)),
        lens in prop::option::of(prop::collection::vec(prop_oneof![4 => 0usize..6, 1 => any::<usize>()], 0..5)),
    ) {
        let (i, h, layers, direction) = input;
        let config = LstmConfig {
            input_size: i,
            hidden_size: h,
            num_layers: layers,
            direction: [Direction::Forward, Direction::Reverse, Direction::Bidirectional][direction],
            layout: if x_shape.len() % 2 == 0 { Layout::SeqMajor } else { Layout::BatchMajor },
            ..LstmConfig::default()
        };
        let cpu = CpuLstm::new(&config, &LstmWeights::random(&config, 0).unwrap()).unwrap();
        // Only shapes whose data fits a test: any dimension may be huge when another is 0.
        let Ok(x) = Tensor::zeros(x_shape.clone()) else { return Ok(()) };
        prop_assume!(x.data().len() <= 4096);
        let state = state_shape.map(|s| State {
            h: Tensor::zeros(s.clone()).unwrap(),
            c: Tensor::zeros(s).unwrap(),
        });
        let (_, largest) = largest_allocation(|| {
            let _ = cpu.forward_with_lens(&x, state.as_ref(), lens.as_deref());
            let _ = wgpu_lstm::LstmForward::forward_chunked(&cpu, &x, state.as_ref(), lens.as_deref(), 2);
        });
        // Y is at most D·H/I times X, plus the state.
        prop_assert!(largest <= SLACK + 64 * 4 * x.data().len(), "{largest} bytes for X {x_shape:?}");
    }

    /// Model sizes anywhere in usize are refused or built, never a panic.
    #[test]
    fn configurations_validate_without_panicking(
        sizes in (dimension(), dimension(), 1u64..5, prop::option::of(dimension())),
    ) {
        let (i, h, layers, proj) = sizes;
        let config = LstmConfig {
            input_size: i as usize,
            hidden_size: h as usize,
            num_layers: layers as usize,
            proj_size: proj.map(|p| p as usize),
            direction: Direction::Bidirectional,
            ..LstmConfig::default()
        };
        let (result, largest) = largest_allocation(|| config.validate());
        prop_assert!(largest <= SLACK);
        if result.is_ok() && i * h < 4096 && proj.is_none_or(|p| p < 64) {
            prop_assert!(LstmWeights::random(&config, 0).is_ok());
        }
    }
}

//! The stream pool: random schedules of opens, closes and steps over ragged chunks (streams that
//! skip steps, slots reused, the pool growing), on the GPU and on the CPU reference, each
//! stream's outputs and state against its whole history run alone in one forward; bad ids and
//! chunks leave every other stream bit for bit as it was. Property tests, shrunk on failure.

mod common;

use proptest::prelude::*;
use wgpu_lstm::{
    Cell, CpuLstm, Direction, Lstm, LstmConfig, LstmForward, LstmWeights, PoolEngine, PoolGather, State,
    StreamId, StreamPool, Tensor,
};

/// Largest difference between a pooled stream and its solo run (absolute; outputs are O(1)):
/// the pool's batch runs other kernels than a batch of one, and a chunked run rounds the state
/// to f32 between chunks.
const POOL_TOLERANCE: f32 = 2e-5;

/// One operation of a schedule: indices pick among the streams open at that moment.
#[derive(Clone, Debug)]
enum Op {
    Open {
        initial: bool,
    },
    Close(usize),
    /// (which open stream, chunk length) pairs, distinct streams.
    Step(Vec<(usize, usize)>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => any::<bool>().prop_map(|initial| Op::Open { initial }),
        1 => (0usize..64).prop_map(Op::Close),
        4 => prop::collection::vec((0usize..64, 0usize..4), 1..6).prop_map(Op::Step),
    ]
}

fn config(cell: Cell, layers: usize) -> LstmConfig {
    LstmConfig {
        cell,
        input_size: 3,
        hidden_size: 5,
        num_layers: layers,
        direction: Direction::Forward,
        ..LstmConfig::default()
    }
}

/// What a stream has seen: its initial state and every row of input, and its outputs.
struct History {
    id: StreamId,
    initial: State,
    x: Vec<f32>,
    y: Vec<f32>,
}

fn random(shape: Vec<usize>, seed: u64) -> Tensor {
    common::random_tensor(shape, 1.0, seed)
}

/// Run `ops` on a pool of `engine` (capacity 2, so it grows), then check every stream still open
/// against its history run alone by `engine`.
fn run_schedule<E: PoolEngine + LstmForward>(
    engine: E,
    ops: &[Op],
) -> std::result::Result<(), TestCaseError> {
    let config = engine.config().clone();
    let (i, p) = (config.input_size, config.output_size());
    let mut pool = StreamPool::with_capacity(engine, 2).unwrap();
    let mut open: Vec<History> = Vec::new();
    let mut closed = 0;
    for (n, op) in ops.iter().enumerate() {
        let seed = n as u64 * 31;
        match op {
            Op::Open { initial } => {
                let state = if *initial {
                    State {
                        h: random(vec![config.num_layers, 1, p], seed),
                        c: random(vec![config.num_layers, 1, config.cell_state_size()], seed + 1),
                    }
                } else {
                    State::zeros(&config, 1).unwrap()
                };
                let id = pool.open_with(&state).unwrap();
                open.push(History {
                    id,
                    initial: state,
                    x: Vec::new(),
                    y: Vec::new(),
                });
            }
            Op::Close(k) if !open.is_empty() => {
                let h = open.remove(k % open.len());
                pool.close(h.id).unwrap();
                // The id is dead from now on, whoever reuses its slot.
                prop_assert!(pool.state(h.id).is_err());
                closed += 1;
            }
            Op::Step(picks) if !open.is_empty() => {
                let mut chosen: Vec<(usize, usize)> = Vec::new();
                for &(k, len) in picks {
                    let k = k % open.len();
                    if chosen.iter().all(|&(c, _)| c != k) {
                        chosen.push((k, len));
                    }
                }
                let chunks: Vec<(StreamId, Tensor)> = chosen
                    .iter()
                    .enumerate()
                    .map(|(j, &(k, len))| (open[k].id, random(vec![len, i], seed + j as u64)))
                    .collect();
                let refs: Vec<(StreamId, &Tensor)> = chunks.iter().map(|(id, t)| (*id, t)).collect();
                let ys = pool.step(&refs).unwrap();
                for ((&(k, len), (_, x)), y) in chosen.iter().zip(&chunks).zip(&ys) {
                    prop_assert_eq!(y.shape(), &[len, p][..]);
                    open[k].x.extend_from_slice(x.data());
                    open[k].y.extend_from_slice(y.data());
                }
            }
            _ => {}
        }
    }
    prop_assert_eq!(pool.len(), open.len(), "{} closed", closed);
    for h in &open {
        let t = h.x.len() / i;
        let state = pool.state(h.id).unwrap();
        if t == 0 {
            prop_assert_eq!(&state, &h.initial);
            continue;
        }
        let solo = pool
            .engine()
            .forward(
                &Tensor::new(vec![t, 1, i], h.x.clone()).unwrap(),
                Some(&h.initial),
            )
            .unwrap();
        let worst = |a: &[f32], b: &[f32]| a.iter().zip(b).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
        let (dy, dh, dc) = (
            worst(&h.y, solo.y.data()),
            worst(state.h.data(), solo.h_n.data()),
            worst(state.c.data(), solo.c_n.data()),
        );
        prop_assert!(
            dy.max(dh).max(dc) <= POOL_TOLERANCE,
            "{}: y off by {dy:e}, h by {dh:e}, c by {dc:e} after {t} steps",
            h.id
        );
    }
    Ok(())
}

fn cells() -> [(Cell, usize); 3] {
    [(Cell::Lstm, 2), (Cell::Gru, 1), (Cell::Rnn, 2)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn pooled_streams_equal_their_solo_runs_on_the_cpu(ops in prop::collection::vec(op(), 1..30), which in 0usize..3) {
        let (cell, layers) = cells()[which];
        let cfg = config(cell, layers);
        let cpu = CpuLstm::new(&cfg, &LstmWeights::random(&cfg, 5).unwrap()).unwrap();
        run_schedule(cpu, &ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 18, ..ProptestConfig::default() })]

    /// Under each way of moving the rows (copies, the index kernel, the automatic choice).
    #[test]
    fn pooled_streams_equal_their_solo_runs_on_the_gpu(
        ops in prop::collection::vec(op(), 1..30),
        which in 0usize..3,
        gather in prop::sample::select(vec![PoolGather::Auto, PoolGather::Copies, PoolGather::Index]),
    ) {
        let Some(ctx) = common::gpu() else { return Ok(()) };
        let (cell, layers) = cells()[which];
        let cfg = config(cell, layers);
        let gpu = Lstm::new(&ctx.device, &ctx.queue, &cfg, &LstmWeights::random(&cfg, 5).unwrap()).unwrap();
        gpu.set_pool_gather(gather);
        run_schedule(gpu, &ops)?;
    }
}

/// Bad ids and chunks are errors that change no stream: the neighbours' states bit for bit.
fn bad_requests_leave_the_others<E: PoolEngine + LstmForward>(engine: E) {
    let cfg = engine.config().clone();
    let mut pool = StreamPool::with_capacity(engine, 4).unwrap();
    let ids: Vec<StreamId> = (0..3).map(|_| pool.open().unwrap()).collect();
    let chunk = random(vec![2, cfg.input_size], 1);
    pool.step(&ids.iter().map(|&id| (id, &chunk)).collect::<Vec<_>>())
        .unwrap();
    let before: Vec<State> = ids.iter().map(|&id| pool.state(id).unwrap()).collect();
    let closed = pool.open().unwrap();
    pool.close(closed).unwrap();
    let wide = random(vec![2, cfg.input_size + 1], 2);
    let flat = random(vec![cfg.input_size], 3);
    for (what, request, needle) in [
        (
            "a closed id",
            vec![(ids[0], &chunk), (closed, &chunk)],
            "not an open stream",
        ),
        ("an id twice", vec![(ids[1], &chunk), (ids[1], &chunk)], "twice"),
        (
            "a chunk too wide",
            vec![(ids[0], &chunk), (ids[2], &wide)],
            "chunk",
        ),
        ("a chunk of one axis", vec![(ids[0], &flat)], "chunk"),
    ] {
        let err = pool.step(&request).expect_err(what).to_string();
        assert!(err.contains(needle), "{what}: {err}");
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
        for (id, state) in ids.iter().zip(&before) {
            assert_eq!(&pool.state(*id).unwrap(), state, "{what} changed {id}");
        }
    }
    assert!(pool.close(closed).is_err() && pool.set_state(closed, &before[0]).is_err());
    // A slot reused after a close starts from its own state.
    let reused = pool.open().unwrap();
    assert_eq!(pool.state(reused).unwrap(), State::zeros(&cfg, 1).unwrap());
}

#[test]
fn bad_ids_and_chunks_change_no_stream() {
    let cfg = config(Cell::Lstm, 2);
    let weights = LstmWeights::random(&cfg, 2).unwrap();
    bad_requests_leave_the_others(CpuLstm::new(&cfg, &weights).unwrap());
    let Some(ctx) = common::gpu() else { return };
    bad_requests_leave_the_others(Lstm::new(&ctx.device, &ctx.queue, &cfg, &weights).unwrap());
}

#[test]
fn a_bidirectional_model_cannot_be_pooled() {
    let cfg = LstmConfig {
        direction: Direction::Bidirectional,
        ..config(Cell::Lstm, 1)
    };
    let cpu = CpuLstm::new(&cfg, &LstmWeights::random(&cfg, 1).unwrap()).unwrap();
    let err = StreamPool::new(cpu).err().expect("refused").to_string();
    assert!(err.contains("bidirectional"), "{err}");
}

#[test]
fn a_gpu_step_over_scattered_streams_is_one_submission_either_way() {
    let Some(ctx) = common::gpu() else { return };
    let cfg = config(Cell::Lstm, 2);
    let gpu = Lstm::new(
        &ctx.device,
        &ctx.queue,
        &cfg,
        &LstmWeights::random(&cfg, 3).unwrap(),
    )
    .unwrap();
    let mut pool = StreamPool::with_capacity(gpu, 8).unwrap();
    let ids: Vec<StreamId> = (0..6).map(|_| pool.open().unwrap()).collect();
    pool.close(ids[1]).unwrap();
    pool.close(ids[3]).unwrap();
    let chunk = random(vec![3, cfg.input_size], 4);
    let active = [ids[0], ids[2], ids[4], ids[5]];
    pool.engine().set_pool_gather(PoolGather::Copies);
    pool.step(&active.map(|id| (id, &chunk))).unwrap();
    let pooled = pool.engine().last_stats();
    pool.engine().set_pool_gather(PoolGather::Index);
    pool.step(&active.map(|id| (id, &chunk))).unwrap();
    let indexed = pool.engine().last_stats();
    // The same forward over a state of its own: the pool adds copies, no dispatch or submission.
    let mut alone = pool.engine().new_state(active.len()).unwrap();
    let x = random(vec![3, active.len(), cfg.input_size], 5);
    pool.engine().forward_stream(&x, &mut alone, None).unwrap();
    let plain = pool.engine().last_stats();
    assert_eq!((pooled.submits, pooled.readbacks), (1, 1), "{pooled:?}");
    assert_eq!(
        pooled.dispatches, plain.dispatches,
        "{pooled:?} against {plain:?}"
    );
    // Y out, and h and c of both layers in and out: one copy each for a whole state, one per run
    // of consecutive slots (0; 2; 4 and 5) for the pool.
    assert_eq!(plain.copies, 1 + 2 * 2, "{plain:?}");
    assert_eq!(pooled.copies, 1 + 2 * 2 * 2 * 3, "{pooled:?}");
    // The index kernel: Y out, and one dispatch for h and one for c each way.
    assert_eq!(
        (indexed.submits, indexed.readbacks, indexed.copies),
        (1, 1, 1),
        "{indexed:?}"
    );
    assert_eq!(
        indexed.dispatches,
        plain.dispatches + 4,
        "{indexed:?} against {plain:?}"
    );
}

//! The pool's bookkeeping on the CPU reference: ids, slot reuse, growth.

use super::*;
use crate::backend::cpu::CpuLstm;
use crate::config::LstmConfig;
use crate::weights::LstmWeights;

fn pool(capacity: usize) -> StreamPool<CpuLstm> {
    let cfg = LstmConfig {
        input_size: 2,
        hidden_size: 3,
        ..LstmConfig::default()
    };
    let cpu = CpuLstm::new(&cfg, &LstmWeights::random(&cfg, 1).unwrap()).unwrap();
    StreamPool::with_capacity(cpu, capacity).unwrap()
}

#[test]
fn ids_round_trip_and_die_with_their_stream() {
    let mut pool = pool(1);
    let a = pool.open().unwrap();
    assert_eq!(StreamId::from_u64(a.to_u64()), a);
    pool.close(a).unwrap();
    let b = pool.open().unwrap();
    // The same slot, another generation: the old id reaches nothing.
    assert_eq!(a.slot, b.slot);
    assert_ne!(a, b);
    assert!(pool.state(a).is_err() && pool.state(b).is_ok());
}

#[test]
fn growing_keeps_every_state_and_reuses_the_lowest_slot_first() {
    let mut pool = pool(2);
    let x = Tensor::new(vec![3, 2], vec![0.5, -1.0, 0.25, 0.75, -0.5, 1.0]).unwrap();
    let ids: Vec<StreamId> = (0..2).map(|_| pool.open().unwrap()).collect();
    pool.step(&[(ids[1], &x)]).unwrap();
    let before = pool.state(ids[1]).unwrap();
    let more: Vec<StreamId> = (0..5).map(|_| pool.open().unwrap()).collect();
    assert_eq!(pool.capacity(), 8);
    assert_eq!(pool.state(ids[1]).unwrap(), before);
    pool.close(more[3]).unwrap();
    pool.close(more[0]).unwrap();
    assert_eq!(pool.open().unwrap().slot, more[0].slot);
    assert_eq!(pool.len(), 6);
}

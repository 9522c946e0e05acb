//! The two engines behind [`LstmForward`](crate::LstmForward): the CPU reference (`cpu`) and the
//! GPU path (`gpu`), both on the model layer (config, weights, conventions) and below training.

pub(crate) mod cpu;
pub(crate) mod gpu;

// Composed in front of the training sequence kernels for groups of eight sequences per
// workgroup, each weight read serving the group. A constant, not an override: it sizes function
// arrays (the group's accumulators, which stay in registers).
const SEQ_GROUP: u32 = 8u;

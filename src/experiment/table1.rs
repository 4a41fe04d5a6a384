//! Table I: the V1–V5 ablation (work in progress on this branch).

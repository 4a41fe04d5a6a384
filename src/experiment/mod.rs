//! The paper's experiments, each reproducible by one command (`vitrine experiment …`):
//! * [`table1`]: the V1–V5 ablation of Table I (backbone, shallow branch, augmentation),
//!   each system trained and evaluated on this library;
//! * [`fig5`]: Fig. 5's comparison of feature extractors by the Recall@K of the cart-based
//!   recommender, beside the collaborative-filtering baselines.

pub mod fig5;
pub mod table1;

//! Fig. 5: feature extractors compared by Recall@K (work in progress on this branch).

//! # Vitrine: visual fashion recommendation and its human evaluation
//!
//! A merchandiser drops a photo and sees the most similar catalogue items; a trainer
//! fine-tunes the feature extractor; scorers fill evaluation sheets; analysts compare systems
//! by an objective-guided human score. This library does all of that work; the binary's CLI
//! (`cli`) and GUI (`gui`, feature `gui`) are thin shells over it.
//!
//! ## Data flow
//! ```text
//!  demo generator ─┐
//!  importers ──────┼─> Library (store/ + images/ + thumbs/): items, labels, users, ratings
//!                  │
//!  model/ (a *system*: backbone ‖ shallow → embedding) ──> index/ (one matrix per system)
//!      ^                                                      │
//!  train/ (the paper's loss, background augmentation:         ├─> search.rs: photo → top 10
//!          a fine-tuned system)                               ├─> personalize/: carts,
//!                                                             │   K-Splits, Recall@K
//!                                                             └─> ohs/: frozen sheets, human
//!                                                                 scores, OHS tables
//! ```
//! Every result names its system, so indexes, studies and personalisers never mix models.
//!
//! ## Threads
//! The GUI thread only draws and applies commands. Anything slow (demo generation, imports,
//! thumbnail decoding) runs as a [`jobs::Job`] on a worker thread that reports
//! [`jobs::Progress`] over a bounded channel and checks a cancel flag between batches.
//! Training, indexing, study creation and the personalisation evaluation are jobs too.
//! Parallel loops inside a job use rayon's global pool, sized once by [`init_threads`].
//!
//! ## On disk
//! See [`library`] for the folder layout and [`store`] for the schema and its migrations.

pub mod atomic_file;
pub mod catalog;
pub mod cli;
pub mod csv_header;
pub mod device;
pub mod error;
pub mod eval;
pub mod experiment;
pub mod explain;
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "gui")]
pub mod gui;
pub mod index;
pub mod jobs;
pub mod library;
pub mod model;
pub mod ohs;
pub mod personalize;
pub mod search;
pub mod simd;
pub mod sources;
pub mod store;
pub mod study;
pub mod train;
pub mod vision;

pub use error::{Error, Result};
pub use library::Library;

/// Sizes the worker pools once, before any parallel work: rayon's global pool and
/// `RAYON_NUM_THREADS` (which Candle reads on every matmul when unset; see ARCHITECTURE.md §13).
pub fn init_threads() {
    // A thread count the user set wins; otherwise every core the process may use.
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        });
    // SAFETY: called at start-up from `main` (or first thing in a test/bench) before other
    // threads read the environment.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };
    // Candle 0.11 runs its large elementwise ops on a pool of its own whose workers spin
    // between ops, as rayon's do: two pools spinning on the same cores slow both. The heavy
    // work is in our kernels (on rayon) and Candle's matrix products (also rayon), so
    // Candle's remaining elementwise ops run on the calling thread. Measured on 2 cores:
    // training 1.1–1.7× faster by mode, Lite0 inference 1.1–1.2× (`vitrine bench`).
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: as above.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global();
}

/// While alive, memory the process frees stays with it for the next allocation instead of
/// going back to the system (glibc on Linux; elsewhere a no-op). A training step allocates and
/// frees the same large activations every step; returned to the system, each one's pages are
/// faulted in and zeroed again at the next step, which in these VMs costs about three times a
/// pass over the memory (ARCHITECTURE.md §13, finding 6). Indexing gains the same way: a
/// batch of 32 images has activations of ~50 MB, above glibc's largest heap allocation, so
/// each layer's output was fresh, zeroed pages (ONNX Runtime keeps its own arena for this).
/// Guards nest (training indexes its catalogue at the end): the last one dropped sets glibc
/// back to ordinary thresholds and hands the retained memory back.
pub struct RetainFreedMemory(());

/// Live [`RetainFreedMemory`] guards.
static RETAINING: std::sync::Mutex<usize> = std::sync::Mutex::new(0);

impl RetainFreedMemory {
    pub fn new() -> Self {
        let mut live = RETAINING.lock().unwrap_or_else(|e| e.into_inner());
        if *live == 0 {
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            // SAFETY: mallopt only changes allocator parameters; it is thread-safe in glibc.
            unsafe {
                libc::mallopt(libc::M_MMAP_MAX, 0);
                libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
            }
        }
        *live += 1;
        Self(())
    }
}

impl Default for RetainFreedMemory {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for RetainFreedMemory {
    fn drop(&mut self) {
        let mut live = RETAINING.lock().unwrap_or_else(|e| e.into_inner());
        *live = live.saturating_sub(1);
        if *live > 0 {
            return;
        }
        // Not glibc's defaults: any mallopt turns off glibc's sliding mmap threshold for good,
        // and its 128 KiB starting value then sends every activation of a forward pass to
        // fresh, zeroed pages (measured: indexing at half speed in a process that had trained).
        // These are where the sliding threshold settles after large frees on 64-bit glibc:
        // 32 MiB, and twice that for trimming.
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: as above.
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, 65536);
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
            libc::malloc_trim(0);
        }
    }
}

//! Thumbnails and item images, loaded off the UI thread, kept in a bounded texture cache.
//!
//! The grid asks for the images of the rows it shows. [`ThumbCache::texture_or_request`]
//! answers from the cache, or queues a request for the [`Loader`]: a couple of worker threads
//! that read the cached thumbnail JPEG (`thumbs/<hash>.jpg`), or, when it is missing or
//! unreadable, decode the original with [`vision::decode`] and write the thumbnail back. The
//! request queue is a stack: what the user looks at *now* is loaded first, and requests for
//! rows scrolled past long ago fall off its bottom. Finished images come back over a channel;
//! [`ThumbCache::receive`] turns them into textures each frame within a small time budget.
//! A missing or corrupt file becomes a [`Thumb::Failed`] entry with the reason (the grid shows
//! a warning sign), never a crash. The cache evicts the least recently shown textures.

use crate::{library, vision};
use eframe::egui;
use egui::{ColorImage, TextureHandle, TextureOptions};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How many textures the cache keeps (a 160 px thumbnail is ~100 kB of texture memory).
pub const CACHE_CAPACITY: usize = 1500;
/// Requests waiting beyond this many are dropped, oldest first (they are asked again when
/// their rows scroll back into view).
const QUEUE_LIMIT: usize = 400;
/// The longest side of a full image decoded for the detail view.
const FULL_IMAGE_MAX_SIDE_PX: u32 = 1024;
/// Time per frame spent turning loaded images into textures.
const UPLOAD_BUDGET: Duration = Duration::from_millis(6);

/// What to load: an item's thumbnail, or its whole image (detail view). Both are named by the
/// image path as stored in the database.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ImageKey {
    Thumb(String),
    Full(String),
}

/// One request for the loader: the key, the original image and the thumbnail cache file.
#[derive(Debug, Clone)]
pub struct ImageRequest {
    pub key: ImageKey,
    pub original: PathBuf,
    pub thumb: PathBuf,
}

impl ImageRequest {
    /// The thumbnail of `image` in the library at `root`, whether `image` is named as stored
    /// (relative to the library) or resolved: one key and one thumbnail file under
    /// `root/thumbs/` either way, so a tile in any tab reuses the catalogue's thumbnail. Every
    /// tab asks for thumbnails here (a thumbnail path built by hand once pointed at `/thumbs`).
    pub fn thumb(root: &Path, image: impl AsRef<Path>) -> ImageRequest {
        let stored = library::stored_path(root, image.as_ref());
        ImageRequest {
            original: library::resolve(root, &stored),
            thumb: library::thumb_path(root, &stored),
            key: ImageKey::Thumb(stored),
        }
    }

    /// The whole image (a detail view, a query), named as [`ImageRequest::thumb`] names it:
    /// the same key for the same picture in every tab, and the same thumbnail file to fall
    /// back on. A photo from outside the library (a dropped query) keeps its own path.
    pub fn full(root: &Path, image: impl AsRef<Path>) -> ImageRequest {
        let thumb = ImageRequest::thumb(root, image);
        let ImageKey::Thumb(stored) = thumb.key else {
            unreachable!("a thumbnail request has a thumbnail key")
        };
        ImageRequest {
            key: ImageKey::Full(stored),
            ..thumb
        }
    }
}

/// A finished load.
struct Loaded {
    key: ImageKey,
    /// The cache generation the request was made in (see [`ThumbCache::clear`]).
    generation: u64,
    image: Result<ColorImage, String>,
}

/// The state of one image in the cache.
#[derive(Clone)]
pub enum Thumb {
    /// Queued or being decoded.
    Loading,
    Ready(TextureHandle),
    /// The reason it cannot be shown (names the file).
    Failed(String),
}

struct Entry {
    thumb: Thumb,
    last_used_frame: u64,
}

/// The request stack shared with the workers.
struct Queue {
    stack: Mutex<QueueState>,
    wake: Condvar,
}

struct QueueState {
    /// Newest first, each with its cache generation.
    requests: VecDeque<(ImageRequest, u64)>,
    shutdown: bool,
}

/// Worker threads that decode images and send them back.
struct Loader {
    queue: Arc<Queue>,
}

impl Loader {
    fn start(ctx: &egui::Context, workers: usize) -> (Loader, Receiver<Loaded>) {
        let queue = Arc::new(Queue {
            stack: Mutex::new(QueueState {
                requests: VecDeque::new(),
                shutdown: false,
            }),
            wake: Condvar::new(),
        });
        let (tx, rx) = channel();
        for n in 0..workers.max(1) {
            let queue = Arc::clone(&queue);
            let tx: Sender<Loaded> = tx.clone();
            let ctx = ctx.clone();
            // A loader that cannot start a thread just leaves its images loading; the rest of
            // the app keeps working.
            let _ = std::thread::Builder::new()
                .name(format!("thumbnails {n}"))
                .spawn(move || worker(&queue, &tx, &ctx));
        }
        (Loader { queue }, rx)
    }

    /// Puts `batch` on top of the stack, first element on top. Returns the requests that fell
    /// off the bottom.
    fn push_batch(&self, batch: Vec<ImageRequest>, generation: u64) -> Vec<ImageKey> {
        let mut state = self
            .queue
            .stack
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for request in batch.into_iter().rev() {
            state.requests.push_front((request, generation));
        }
        let mut dropped = Vec::new();
        while state.requests.len() > QUEUE_LIMIT {
            if let Some((r, _)) = state.requests.pop_back() {
                dropped.push(r.key);
            }
        }
        drop(state);
        self.queue.wake.notify_all();
        dropped
    }

    /// Forgets every queued request (a new library was opened).
    fn clear(&self) {
        let mut state = self
            .queue
            .stack
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.requests.clear();
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        let mut state = self
            .queue
            .stack
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.shutdown = true;
        state.requests.clear();
        drop(state);
        self.queue.wake.notify_all();
    }
}

fn worker(queue: &Queue, tx: &Sender<Loaded>, ctx: &egui::Context) {
    loop {
        let (request, generation) = {
            let mut state = queue.stack.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if state.shutdown {
                    return;
                }
                if let Some(r) = state.requests.pop_front() {
                    break r;
                }
                state = queue
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        let image = load(&request);
        if tx
            .send(Loaded {
                key: request.key,
                generation,
                image,
            })
            .is_err()
        {
            return;
        }
        ctx.request_repaint();
    }
}

/// Reads one image: the cached thumbnail, else the original (writing the thumbnail back).
fn load(request: &ImageRequest) -> Result<ColorImage, String> {
    let rgb = match &request.key {
        ImageKey::Thumb(_) => match image::open(&request.thumb) {
            Ok(img) => img.into_rgb8(),
            Err(_) => {
                let img = vision::decode(&request.original).map_err(|e| e.to_string())?;
                // The thumbnail cache is only a cache: a read-only library still shows images.
                let _ = vision::write_thumbnail(&img, &request.thumb);
                vision::thumbnail(&img)
            }
        },
        ImageKey::Full(_) => {
            let img = vision::decode(&request.original).map_err(|e| e.to_string())?;
            let (w, h) = img.dimensions();
            if w.max(h) > FULL_IMAGE_MAX_SIDE_PX {
                let scale = FULL_IMAGE_MAX_SIDE_PX as f32 / w.max(h) as f32;
                image::imageops::resize(
                    &img,
                    ((w as f32 * scale).round() as u32).max(1),
                    ((h as f32 * scale).round() as u32).max(1),
                    image::imageops::FilterType::Triangle,
                )
            } else {
                img
            }
        }
    };
    let size = [rgb.width() as usize, rgb.height() as usize];
    Ok(ColorImage::from_rgb(size, rgb.as_raw()))
}

/// The texture cache in front of the loader; lives on the UI thread.
pub struct ThumbCache {
    loader: Loader,
    loaded: Receiver<Loaded>,
    entries: HashMap<ImageKey, Entry>,
    /// Requests collected while drawing this frame, sent in one batch by [`Self::flush`].
    wanted: Vec<ImageRequest>,
    frame: u64,
    /// Bumped by [`Self::clear`]; loads from an older generation are dropped on arrival.
    generation: u64,
    capacity: usize,
    /// The thumbnail file of every request, for tests that check where thumbnails go.
    #[cfg(test)]
    files: HashMap<ImageKey, PathBuf>,
}

impl ThumbCache {
    /// A cache with its loader threads (two at most: they share the machine with the app).
    pub fn new(ctx: &egui::Context) -> ThumbCache {
        let workers = std::thread::available_parallelism()
            .map(|n| n.get().clamp(1, 2))
            .unwrap_or(1);
        let (loader, loaded) = Loader::start(ctx, workers);
        ThumbCache {
            loader,
            loaded,
            entries: HashMap::new(),
            wanted: Vec::new(),
            frame: 0,
            generation: 0,
            capacity: CACHE_CAPACITY,
            #[cfg(test)]
            files: HashMap::new(),
        }
    }

    /// The image for `request.key` if known (marking it used this frame); otherwise queues it
    /// and answers [`Thumb::Loading`].
    pub fn texture_or_request(&mut self, request: ImageRequest) -> Thumb {
        #[cfg(test)]
        self.files
            .insert(request.key.clone(), request.thumb.clone());
        if let Some(entry) = self.entries.get_mut(&request.key) {
            entry.last_used_frame = self.frame;
            return entry.thumb.clone();
        }
        self.entries.insert(
            request.key.clone(),
            Entry {
                thumb: Thumb::Loading,
                last_used_frame: self.frame,
            },
        );
        self.wanted.push(request);
        Thumb::Loading
    }

    /// The catalogue's thumbnail of `image` in the library at `root` (see
    /// [`ImageRequest::thumb`]): what every tile in every tab shows.
    pub fn thumb(&mut self, root: &Path, image: impl AsRef<Path>) -> Thumb {
        self.texture_or_request(ImageRequest::thumb(root, image))
    }

    /// Asks for an image ahead of need (the rows just below the visible ones); lower priority
    /// than this frame's [`Self::texture_or_request`] calls.
    pub fn prefetch(&mut self, request: ImageRequest) {
        if !self.entries.contains_key(&request.key) {
            let _ = self.texture_or_request(request);
        }
    }

    /// Whether every image asked for so far is loaded or failed.
    #[cfg(test)]
    pub fn is_idle(&self) -> bool {
        self.wanted.is_empty()
            && !self
                .entries
                .values()
                .any(|e| matches!(e.thumb, Thumb::Loading))
    }

    /// Sends this frame's requests to the loader (call once at the end of the frame).
    pub fn flush(&mut self) {
        self.frame += 1;
        if self.wanted.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.wanted);
        for key in self.loader.push_batch(batch, self.generation) {
            // Fell off the queue: forget it, so it is asked again when it is shown again.
            if self
                .entries
                .get(&key)
                .is_some_and(|e| matches!(e.thumb, Thumb::Loading))
            {
                self.entries.remove(&key);
            }
        }
    }

    /// Turns finished loads into textures, within a small time budget; asks for another frame
    /// if some are left.
    pub fn receive(&mut self, ctx: &egui::Context) {
        let start = Instant::now();
        while let Ok(loaded) = self.loaded.try_recv() {
            if loaded.generation != self.generation {
                continue;
            }
            // A load for an entry evicted meanwhile is still worth keeping.
            let thumb = match loaded.image {
                Ok(image) => Thumb::Ready(ctx.load_texture(
                    texture_name(&loaded.key),
                    image,
                    TextureOptions::LINEAR,
                )),
                Err(reason) => Thumb::Failed(reason),
            };
            self.entries.insert(
                loaded.key,
                Entry {
                    thumb,
                    last_used_frame: self.frame,
                },
            );
            if start.elapsed() > UPLOAD_BUDGET {
                ctx.request_repaint();
                break;
            }
        }
        self.evict();
    }

    /// Forgets everything (another library is open: same stored paths, other pictures).
    pub fn clear(&mut self) {
        self.loader.clear();
        self.entries.clear();
        self.wanted.clear();
        // Loads still in flight belong to the old library: `receive` drops them.
        self.generation += 1;
    }

    /// Drops the least recently used textures beyond the capacity, never those used in the
    /// current or the previous frame.
    fn evict(&mut self) {
        if self.entries.len() <= self.capacity {
            return;
        }
        let target = self.capacity * 9 / 10;
        let mut by_age: Vec<(u64, ImageKey)> = self
            .entries
            .iter()
            .filter(|(_, e)| !matches!(e.thumb, Thumb::Loading))
            .map(|(k, e)| (e.last_used_frame, k.clone()))
            .collect();
        by_age.sort_by_key(|(frame, _)| *frame);
        let recent = self.frame.saturating_sub(1);
        for (frame, key) in by_age {
            if self.entries.len() <= target || frame >= recent {
                break;
            }
            self.entries.remove(&key);
        }
    }

    /// The thumbnail file asked for with `key`, if it was asked for.
    #[cfg(test)]
    pub fn thumb_file(&self, key: &ImageKey) -> Option<&Path> {
        self.files.get(key).map(PathBuf::as_path)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the image is loaded and has a texture.
    #[cfg(test)]
    pub fn is_ready(&self, key: &ImageKey) -> bool {
        self.entries
            .get(key)
            .is_some_and(|e| matches!(e.thumb, Thumb::Ready(_)))
    }
}

fn texture_name(key: &ImageKey) -> String {
    match key {
        ImageKey::Thumb(path) => format!("thumb:{path}"),
        ImageKey::Full(path) => format!("image:{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_idle(cache: &mut ThumbCache, ctx: &egui::Context) {
        let start = Instant::now();
        while !cache.is_idle() && start.elapsed() < Duration::from_secs(20) {
            cache.receive(ctx);
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn loads_thumbnails_regenerates_missing_ones_and_reports_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let original = dir.path().join("a.png");
        image::RgbImage::from_pixel(400, 200, image::Rgb([200, 10, 10]))
            .save(&original)
            .unwrap();
        let thumb = dir.path().join("a.jpg");
        let bad = dir.path().join("bad.png");
        std::fs::write(&bad, b"not an image").unwrap();

        let ctx = egui::Context::default();
        let mut cache = ThumbCache::new(&ctx);
        let good = ImageRequest {
            key: ImageKey::Thumb("a.png".into()),
            original: original.clone(),
            thumb: thumb.clone(),
        };
        let broken = ImageRequest {
            key: ImageKey::Thumb("bad.png".into()),
            original: bad,
            thumb: dir.path().join("bad.jpg"),
        };
        assert!(matches!(
            cache.texture_or_request(good.clone()),
            Thumb::Loading
        ));
        assert!(matches!(
            cache.texture_or_request(broken.clone()),
            Thumb::Loading
        ));
        cache.flush();
        wait_idle(&mut cache, &ctx);
        match cache.texture_or_request(good) {
            Thumb::Ready(t) => assert_eq!(t.size(), [160, 80]),
            _ => panic!("the thumbnail should have loaded"),
        }
        assert!(thumb.is_file(), "the missing thumbnail is written back");
        match cache.texture_or_request(broken) {
            Thumb::Failed(reason) => assert!(reason.contains("bad.png"), "{reason}"),
            _ => panic!("a corrupt file should fail with a reason"),
        }
    }

    #[test]
    fn thumbnails_are_always_asked_for_inside_the_librarys_cache() {
        let root = Path::new("/libraries/mine");
        let stored = ImageRequest::thumb(root, "images/catalog/a.png");
        let resolved = ImageRequest::thumb(root, root.join("images/catalog/a.png"));
        assert_eq!(stored.key, ImageKey::Thumb("images/catalog/a.png".into()));
        assert_eq!(resolved.key, stored.key);
        assert_eq!(resolved.thumb, stored.thumb);
        assert!(
            stored.thumb.starts_with(root.join("thumbs")),
            "{:?}",
            stored.thumb
        );
        assert_eq!(stored.original, root.join("images/catalog/a.png"));
        let full = ImageRequest::full(root, root.join("images/catalog/a.png"));
        assert_eq!(full.key, ImageKey::Full("images/catalog/a.png".into()));
        assert_eq!(full.thumb, stored.thumb);
        // A dropped photo from elsewhere keeps its path; its thumbnail is still cached here.
        let outside = ImageRequest::full(root, "/home/me/photo.jpg");
        assert_eq!(outside.original, Path::new("/home/me/photo.jpg"));
        assert!(outside.thumb.starts_with(root.join("thumbs")));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let ctx = egui::Context::default();
        let mut cache = ThumbCache::new(&ctx);
        cache.capacity = 10;
        for i in 0..30 {
            cache.entries.insert(
                ImageKey::Thumb(format!("{i}")),
                Entry {
                    thumb: Thumb::Failed("x".into()),
                    last_used_frame: i,
                },
            );
        }
        cache.frame = 100;
        cache.evict();
        assert!(cache.len() <= 10, "{}", cache.len());
        assert!(cache.entries.contains_key(&ImageKey::Thumb("29".into())));
    }
}

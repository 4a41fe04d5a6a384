//! Model input: images to normalised NCHW f32 tensors, and a batch loader that prepares the
//! next batch while the model runs on the current one.
//!
//! Every image reaches a backbone the same way (ARCHITECTURE.md §4): [`decode`] (limits, EXIF
//! orientation, alpha on white), then [`letterbox`] (resize keeping the aspect ratio, pad to a
//! square, centred, so a long dress is not squashed and nothing is cropped away), then the
//! [`Normalization`] the backbone was trained with. [`Preprocess`] names one such recipe.
//!
//! Indexing a catalogue is decode-bound on one side and forward-bound on the other, so
//! [`BatchLoader`] decodes and letterboxes batch *k + 1* in parallel (rayon's global pool) on a
//! background thread while the consumer runs the model on batch *k*. A bad image becomes a
//! failure of its batch, named by index and path, never the end of the run; the loader stops
//! promptly when dropped or when its [`JobContext`] is cancelled.
//!
//! Do not iterate a [`BatchLoader`] from inside a rayon task: the producer needs the pool.

use super::decode;
use crate::error::{Error, Result};
use crate::jobs::JobContext;
use candle_core::{Device, Tensor};
use image::{Rgb, RgbImage};
use rayon::prelude::*;
use std::borrow::Cow;
use std::mem::MaybeUninit;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// White: the padding for shop photos (catalogue backgrounds are light).
pub const WHITE: [u8; 3] = [255, 255, 255];

/// How a backbone expects its 8-bit RGB input scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalization {
    /// `(rgb − 127) / 128`, as EfficientNet-Lite was trained (about −1…1).
    Lite0,
    /// `(rgb / 255 − mean) / std` with ImageNet's mean and std, per channel, for ResNet and
    /// EfficientNet-B* weights from timm.
    ImageNet,
}

impl Normalization {
    /// ImageNet's per-channel mean (RGB, on 0…1).
    pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
    /// ImageNet's per-channel standard deviation (RGB, on 0…1).
    pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

    /// The normalised value of an 8-bit sample of channel `c` (0 = R, 1 = G, 2 = B).
    pub fn apply(self, c: usize, value: u8) -> f32 {
        let v = f32::from(value);
        match self {
            Normalization::Lite0 => (v - 127.0) / 128.0,
            Normalization::ImageNet => (v / 255.0 - Self::IMAGENET_MEAN[c]) / Self::IMAGENET_STD[c],
        }
    }

    /// [`Normalization::apply`] for every channel and 8-bit value.
    fn table(self) -> [[f32; 256]; 3] {
        let mut table = [[0.0; 256]; 3];
        for (c, row) in table.iter_mut().enumerate() {
            for (v, out) in (0..=u8::MAX).zip(row.iter_mut()) {
                *out = self.apply(c, v);
            }
        }
        table
    }
}

/// A backbone's input recipe: square side, normalisation, and the padding colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preprocess {
    /// Side of the square input, in pixels.
    pub side_px: u32,
    pub normalization: Normalization,
    /// The letterbox padding colour (RGB).
    pub fill: [u8; 3],
}

impl Preprocess {
    /// EfficientNet-Lite0: 224 px, `(rgb − 127) / 128`, white padding.
    pub const LITE0: Preprocess = Preprocess {
        side_px: 224,
        normalization: Normalization::Lite0,
        fill: WHITE,
    };

    /// An EfficientNet-Lite backbone at `side_px`: [`Preprocess::LITE0`]'s normalisation and
    /// padding (Lite1 trained at 240 px, Lite2 at 260).
    pub const fn lite(side_px: u32) -> Preprocess {
        Preprocess {
            side_px,
            ..Preprocess::LITE0
        }
    }

    /// A timm backbone (ResNet, EfficientNet-B*) at its own input side: ImageNet
    /// mean/std, white padding.
    pub const fn imagenet(side_px: u32) -> Preprocess {
        Preprocess {
            side_px,
            normalization: Normalization::ImageNet,
            fill: WHITE,
        }
    }

    /// The number of f32 values of one image: 3 × side × side.
    pub fn values_per_image(&self) -> usize {
        3 * self.side_px as usize * self.side_px as usize
    }

    /// Decodes `path` ([`decode`]) and letterboxes it to the input square.
    pub fn load(&self, path: &Path) -> Result<RgbImage> {
        let img = decode(path)?;
        Ok(letterbox_cow(&img, self.side_px, self.fill).into_owned())
    }

    /// A contiguous N×3×side×side f32 tensor (NCHW) of `images`, each letterboxed first
    /// unless it is already side × side.
    pub fn to_tensor(&self, images: &[RgbImage], device: &Device) -> candle_core::Result<Tensor> {
        let per_image = self.values_per_image();
        let len = images.len() * per_image;
        let mut values = Vec::with_capacity(len);
        let table = self.normalization.table();
        values.spare_capacity_mut()[..len]
            .par_chunks_mut(per_image.max(1))
            .zip(images.par_iter())
            .for_each(|(out, img)| {
                let square = letterbox_cow(img, self.side_px, self.fill);
                write_planes(&square, &table, out);
            });
        // SAFETY: `write_planes` wrote each image's `per_image` values.
        unsafe { values.set_len(len) };
        let side = self.side_px as usize;
        Tensor::from_vec(values, (images.len(), 3, side, side), device)
    }

    /// Decodes, letterboxes and normalises `paths` in parallel, keeping the good images' rows
    /// contiguous and in order. `first_index` is the position of `paths[0]` in the whole
    /// list; `stop` is polled before each image.
    fn load_batch(
        &self,
        paths: &[PathBuf],
        first_index: usize,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Batch {
        let per_image = self.values_per_image();
        let len = paths.len() * per_image;
        // Not zeroed first (19 MB a batch of 32, on this thread while the pool decodes): each
        // image's rows are written by `write_planes` or, where it did not finish, with zeros.
        let mut values = Vec::with_capacity(len);
        let table = self.normalization.table();
        let results: Vec<Result<()>> = values.spare_capacity_mut()[..len]
            .par_chunks_mut(per_image.max(1))
            .zip(paths.par_iter())
            .map(|(out, path)| {
                if stop() {
                    // The batch is discarded; skip the work.
                    out.fill(MaybeUninit::new(0.0));
                    return Ok(());
                }
                // A decoder bug on one hostile file costs that file, not the run.
                let result = catch_unwind(AssertUnwindSafe(|| {
                    let img = decode(path)?;
                    let square = letterbox_cow(&img, self.side_px, self.fill);
                    write_planes(&square, &table, out);
                    Ok(())
                }))
                .unwrap_or_else(|_| Err(Error::image(path, "the image decoder crashed on it")));
                if result.is_err() {
                    out.fill(MaybeUninit::new(0.0));
                }
                result
            })
            .collect();
        // SAFETY: every image's `per_image` values were written, by `write_planes` (which
        // writes them all) or by the fill above.
        unsafe { values.set_len(len) };

        let mut indices = Vec::with_capacity(paths.len());
        let mut failures = Vec::new();
        for (i, result) in results.into_iter().enumerate() {
            match result {
                Ok(()) => {
                    let row = indices.len();
                    if row != i {
                        values.copy_within(i * per_image..(i + 1) * per_image, row * per_image);
                    }
                    indices.push(first_index + i);
                }
                Err(e) => failures.push((first_index + i, e)),
            }
        }
        values.truncate(indices.len() * per_image);
        Batch {
            indices,
            tensor_input: values,
            side_px: self.side_px,
            failures,
        }
    }
}

/// `img` resized to fit a `side_px` square keeping its aspect ratio, centred on `fill`. The
/// filter is bicubic (Catmull-Rom, a = −0.5, [`super::resize`]), as the EfficientNet and timm
/// evaluation pipelines resize; it is antialiased when shrinking. An image already `side_px` square is returned unchanged.
pub fn letterbox(img: &RgbImage, side_px: u32, fill: [u8; 3]) -> RgbImage {
    letterbox_cow(img, side_px, fill).into_owned()
}

/// [`letterbox`], borrowing `img` when it is already the right size.
fn letterbox_cow(img: &RgbImage, side_px: u32, fill: [u8; 3]) -> Cow<'_, RgbImage> {
    let (w, h) = img.dimensions();
    if (w, h) == (side_px, side_px) {
        return Cow::Borrowed(img);
    }
    if w == 0 || h == 0 {
        return Cow::Owned(RgbImage::from_pixel(side_px, side_px, Rgb(fill)));
    }
    let scale = f64::from(side_px) / f64::from(w.max(h));
    let fit = |n: u32| ((f64::from(n) * scale).round() as u32).clamp(1, side_px.max(1));
    let (fit_w, fit_h) = (fit(w), fit(h));
    let resized = if (fit_w, fit_h) == (w, h) {
        Cow::Borrowed(img)
    } else {
        Cow::Owned(super::resize::resize(img, fit_w, fit_h))
    };
    if (fit_w, fit_h) == (side_px, side_px) {
        return resized;
    }
    let mut square = RgbImage::from_pixel(side_px, side_px, Rgb(fill));
    let (x, y) = ((side_px - fit_w) / 2, (side_px - fit_h) / 2);
    image::imageops::replace(&mut square, resized.as_ref(), i64::from(x), i64::from(y));
    Cow::Owned(square)
}

/// Writes a square image as three normalised planes (R, G, B) into `out` (3 × w × h values).
fn write_planes(square: &RgbImage, table: &[[f32; 256]; 3], out: &mut [MaybeUninit<f32>]) {
    let plane = out.len() / 3;
    assert_eq!(
        square.as_raw().len(),
        out.len(),
        "write_planes: a square of the planes' size"
    );
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    let pixels = square.as_raw().chunks_exact(3);
    for (((px, r), g), b) in pixels.zip(r).zip(g).zip(b) {
        r.write(table[0][usize::from(px[0])]);
        g.write(table[1][usize::from(px[1])]);
        b.write(table[2][usize::from(px[2])]);
    }
}

/// One batch of model input from a [`BatchLoader`].
#[derive(Debug)]
pub struct Batch {
    /// Positions in the loader's path list of the images in `tensor_input`, in order.
    pub indices: Vec<usize>,
    /// `indices.len()` × 3 × `side_px` × `side_px` normalised values, NCHW, contiguous.
    pub tensor_input: Vec<f32>,
    /// Side of each image, in pixels.
    pub side_px: u32,
    /// The images of this batch that could not be loaded, by position; each error names the
    /// file.
    pub failures: Vec<(usize, Error)>,
}

impl Batch {
    /// `tensor_input` as an N×3×side×side tensor on `device`, taken out of the batch (left
    /// empty): on the CPU the buffer becomes the tensor's. Copying it (19 MB a batch of 32)
    /// held indexing the demo on 2 Zen 5 cores to 418 images/s against 429 without.
    pub fn take_tensor(&mut self, device: &Device) -> candle_core::Result<Tensor> {
        let side = self.side_px as usize;
        let shape = (self.indices.len(), 3, side, side);
        Tensor::from_vec(std::mem::take(&mut self.tensor_input), shape, device)
    }
}

/// Loads `paths` as model input, batch by batch, one batch ahead of the consumer: an
/// iterator of `Result<Batch>` in path order.
///
/// The iterator yields `Err(Error::Cancelled)` (then ends) when the job is cancelled. Dropping
/// it stops the background thread after at most one image per worker.
pub struct BatchLoader {
    /// `None` once the producer has finished (or failed) and been collected.
    batches: Option<Receiver<Result<Batch>>>,
    stop: Arc<AtomicBool>,
    producer: Option<JoinHandle<()>>,
    batch_count: usize,
    delivered: usize,
}

impl BatchLoader {
    /// Starts loading `paths` in batches of `batch_size` on a background thread. Per-image
    /// work runs on rayon's global pool.
    pub fn new(
        paths: Vec<PathBuf>,
        batch_size: usize,
        preprocess: Preprocess,
        ctx: &JobContext,
    ) -> Result<BatchLoader> {
        if batch_size == 0 {
            return Err(Error::Invalid("the batch size must be at least 1".into()));
        }
        let batch_count = paths.len().div_ceil(batch_size);
        // A rendezvous channel: the producer prepares exactly one batch beyond the one the
        // consumer holds, then waits for the consumer to take it.
        let (batch_tx, batch_rx) = sync_channel(0);
        let stop = Arc::new(AtomicBool::new(false));
        let producer = Producer {
            paths,
            batch_size,
            preprocess,
            ctx: ctx.clone(),
            stop: stop.clone(),
            batches: batch_tx,
        };
        let handle = std::thread::Builder::new()
            .name("batch loader".into())
            .spawn(move || producer.run())
            .map_err(|e| Error::Invalid(format!("cannot start the image loader thread: {e}")))?;
        Ok(BatchLoader {
            batches: Some(batch_rx),
            stop,
            producer: Some(handle),
            batch_count,
            delivered: 0,
        })
    }

    /// How many batches the whole list makes.
    pub fn batch_count(&self) -> usize {
        self.batch_count
    }

    /// Stops the producer and waits for it.
    fn finish(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Dropping the receiver wakes a producer blocked on sending.
        self.batches = None;
        if let Some(handle) = self.producer.take() {
            let _ = handle.join();
        }
    }
}

impl Iterator for BatchLoader {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        let received = self.batches.as_ref()?.recv();
        match received {
            Ok(Ok(batch)) => {
                self.delivered += 1;
                Some(Ok(batch))
            }
            Ok(Err(e)) => {
                self.finish();
                Some(Err(e))
            }
            // The producer has ended: after the last batch, or (a panic) early.
            Err(_) => {
                self.finish();
                (self.delivered < self.batch_count).then(|| {
                    Err(Error::Invalid(
                        "the image loader stopped early (a bug: please report it)".into(),
                    ))
                })
            }
        }
    }
}

impl Drop for BatchLoader {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The background side of a [`BatchLoader`].
struct Producer {
    paths: Vec<PathBuf>,
    batch_size: usize,
    preprocess: Preprocess,
    ctx: JobContext,
    stop: Arc<AtomicBool>,
    batches: SyncSender<Result<Batch>>,
}

impl Producer {
    fn run(self) {
        let should_stop = || self.stop.load(Ordering::Relaxed) || self.ctx.is_cancelled();
        let mut chunks = self.paths.chunks(self.batch_size).enumerate();
        let stopped_early = loop {
            let Some((b, chunk)) = chunks.next() else {
                break false;
            };
            if should_stop() {
                break true;
            }
            let first_index = b * self.batch_size;
            let batch = self.preprocess.load_batch(chunk, first_index, &should_stop);
            // A batch cut short by a stop is incomplete: never send it.
            if should_stop() || self.batches.send(Ok(batch)).is_err() {
                break true;
            }
        };
        if stopped_early && self.ctx.is_cancelled() {
            let _ = self.batches.send(Err(Error::Cancelled));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::Job;

    fn save(img: &RgbImage, path: &Path) {
        img.save_with_format(path, image::ImageFormat::Png).unwrap();
    }

    /// `n` small PNGs in `dir`, image `i` filled with grey level `10 × i`.
    fn grey_images(dir: &Path, n: usize) -> Vec<PathBuf> {
        (0..n)
            .map(|i| {
                let path = dir.join(format!("item-{i:02}.png"));
                save(&RgbImage::from_pixel(30, 20, Rgb([10 * i as u8; 3])), &path);
                path
            })
            .collect()
    }

    #[test]
    fn letterbox_keeps_the_aspect_ratio_and_centres_on_the_fill() {
        let img = RgbImage::from_pixel(200, 100, Rgb([0, 0, 0]));
        let square = letterbox(&img, 224, [9, 8, 7]);
        assert_eq!(square.dimensions(), (224, 224));
        // 200×100 → 224×112, padded by 56 rows above and below.
        assert_eq!(square.get_pixel(112, 55).0, [9, 8, 7]);
        assert_eq!(square.get_pixel(112, 56).0, [0, 0, 0]);
        assert_eq!(square.get_pixel(112, 167).0, [0, 0, 0]);
        assert_eq!(square.get_pixel(112, 168).0, [9, 8, 7]);
        assert_eq!(square.get_pixel(0, 112).0, [0, 0, 0]);
        // Tall, small images are enlarged; square ones of the right size are untouched.
        let tall = letterbox(&RgbImage::from_pixel(10, 40, Rgb([50; 3])), 8, WHITE);
        assert_eq!(tall.get_pixel(0, 4).0, WHITE);
        assert_eq!(tall.get_pixel(3, 4).0, [50; 3]);
        let exact = RgbImage::from_fn(8, 8, |x, y| Rgb([x as u8, y as u8, 0]));
        assert_eq!(letterbox(&exact, 8, WHITE), exact);
    }

    #[test]
    fn normalisation_matches_each_backbones_training() {
        let lite = Normalization::Lite0;
        assert_eq!(lite.apply(0, 0), -127.0 / 128.0);
        assert_eq!(lite.apply(1, 127), 0.0);
        assert_eq!(lite.apply(2, 255), 1.0);
        let imagenet = Normalization::ImageNet;
        assert!((imagenet.apply(0, 0) - (-0.485 / 0.229)).abs() < 1e-6);
        assert!((imagenet.apply(2, 255) - (1.0 - 0.406) / 0.225).abs() < 1e-6);
    }

    #[test]
    fn to_tensor_writes_nchw_planes() {
        let pre = Preprocess {
            side_px: 2,
            normalization: Normalization::Lite0,
            fill: WHITE,
        };
        let a = RgbImage::from_fn(2, 2, |x, y| Rgb([(x + 2 * y) as u8, 100, 255]));
        let b = RgbImage::from_pixel(2, 2, Rgb([127, 127, 127]));
        let t = pre.to_tensor(&[a, b], &Device::Cpu).unwrap();
        assert_eq!(t.dims(), &[2, 3, 2, 2]);
        assert!(t.is_contiguous());
        let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let n = |x: f32| (x - 127.0) / 128.0;
        assert_eq!(&v[0..4], &[n(0.0), n(1.0), n(2.0), n(3.0)]); // image 0, R plane
        assert_eq!(&v[4..8], &[n(100.0); 4]); // G
        assert_eq!(&v[8..12], &[n(255.0); 4]); // B
        assert_eq!(&v[12..24], &[0.0; 12]); // image 1, grey 127
        let empty = Preprocess::LITE0.to_tensor(&[], &Device::Cpu).unwrap();
        assert_eq!(empty.dims(), &[0, 3, 224, 224]);
    }

    #[test]
    fn the_loader_reports_a_corrupt_file_and_keeps_the_rest_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = grey_images(dir.path(), 10);
        paths[6] = dir.path().join("corrupt.png");
        std::fs::write(&paths[6], b"\x89PNG\r\n\x1a\n but not really").unwrap();
        let pre = Preprocess {
            side_px: 4,
            normalization: Normalization::Lite0,
            fill: WHITE,
        };

        let loader = BatchLoader::new(paths, 4, pre, &JobContext::silent()).unwrap();
        assert_eq!(loader.batch_count(), 3);
        let (mut indices, mut values, mut failures) = (Vec::new(), Vec::new(), Vec::new());
        for batch in loader {
            let mut batch = batch.unwrap();
            let x = batch.take_tensor(&Device::Cpu).unwrap();
            assert_eq!(x.dims(), [batch.indices.len(), 3, 4, 4]);
            indices.extend(batch.indices);
            values.extend(x.flatten_all().unwrap().to_vec1::<f32>().unwrap());
            failures.extend(batch.failures);
        }
        assert_eq!(indices, [0, 1, 2, 3, 4, 5, 7, 8, 9]);
        assert_eq!(values.len(), 9 * 3 * 16);
        // Each row holds its own image: the middle pixel of image i is grey 10 × i.
        for (row, &i) in indices.iter().enumerate() {
            let middle = values[row * 48 + 5];
            assert_eq!(middle, ((10 * i) as f32 - 127.0) / 128.0, "row {row}");
        }
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].0, 6);
        let message = failures[0].1.to_string();
        assert!(message.contains("corrupt.png"), "{message}");
    }

    #[test]
    fn dropping_the_loader_early_does_not_hang() {
        let dir = tempfile::tempdir().unwrap();
        let paths = grey_images(dir.path(), 10);
        let mut loader =
            BatchLoader::new(paths, 2, Preprocess::LITE0, &JobContext::silent()).unwrap();
        let first = loader.next().unwrap().unwrap();
        assert_eq!(first.indices, [0, 1]);
        drop(first);
        drop(loader);
        // Never iterated at all.
        let paths = grey_images(dir.path(), 10);
        drop(BatchLoader::new(paths, 2, Preprocess::LITE0, &JobContext::silent()).unwrap());
    }

    #[test]
    fn a_cancelled_job_stops_the_loader() {
        let dir = tempfile::tempdir().unwrap();
        let paths = grey_images(dir.path(), 10);
        let (took_tx, took_rx) = std::sync::mpsc::channel::<()>();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let job = Job::spawn("load", None, move |ctx| {
            let mut loader = BatchLoader::new(paths, 2, Preprocess::LITE0, ctx)?;
            let mut delivered = vec![loader.next().unwrap()?.indices];
            took_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            for batch in loader {
                delivered.push(batch?.indices);
            }
            Ok(delivered)
        });
        took_rx.recv().unwrap();
        job.cancel();
        go_tx.send(()).unwrap();
        // The batch prepared before the cancel may still arrive; then `Cancelled`.
        assert!(matches!(job.wait(), Err(Error::Cancelled)));
    }
}

//! The desktop app (eframe, glow renderer): a thin shell over the library.
//!
//! Shape, after rerun's app split:
//! - [`App`] (in `app/`) holds the state. `App::logic` (eframe's state step) updates state
//!   and never paints: it collects finished background work, the file dialogs' answers and
//!   loaded thumbnails, and applies every `Command` queued since the last frame, in one place
//!   (`app::commands`). Keyboard shortcuts are read at the end of `App::ui`, once the frame's
//!   clicks have placed the keyboard focus (see `app::shortcuts`).
//! - `App::ui` paints: the top bar (`top_bar`), error banners, the tab row, and the current
//!   tab (`tabs::search`, `tabs::catalog`, `tabs::train`, `tabs::personalize`,
//!   `tabs::evaluate`, `tabs::analyze`). Each tab owns its state, its commands and their
//!   handling (`handle`); its drawing is a function of that state that pushes commands.
//!   Drawing code never touches the store or starts work; it pushes commands. A tab never
//!   sees the `App`: it works through the shared `app::Runtime` (the open library, the job
//!   slot, the banner, the thumbnail cache, the device).
//! - Persisted UI state ([`UiState`]: tab, filters, thumbnail size; saved through eframe's
//!   storage) is kept apart from runtime state (`Runtime` and the tabs' state: the open
//!   library, the running job, textures), which is rebuilt at every start.
//!
//! Slow work never runs on the UI thread: the demo catalogue is a job on a worker thread
//! that reports progress and can be cancelled (`job_slot`); thumbnails load on worker
//! threads (`thumbs`); queries, exports, merges and the file dialogs each run on a thread of
//! their own; every such result is a `pending::Pending`. Errors are shown once, as a
//! dismissible banner, and the app keeps working. Colours and spacing live in `theme` only.

mod app;
mod command;
mod explain_overlay;
mod image_widget;
mod job_slot;
mod menu;
mod pending;
mod progress;
mod runtime;
mod tabs;
#[cfg(test)]
mod tests;
mod theme;
mod thumbs;
mod top_bar;
mod ui_state;
mod widgets;

pub use app::{App, Startup};
pub use command::Tab;
pub use tabs::catalog::CatalogFilter;
pub use ui_state::UiState;

use crate::error::{Error, Result};
use eframe::egui;
use std::path::PathBuf;

/// The window title (our screenshot tool finds the window by `^Vitrine`).
pub const WINDOW_TITLE: &str = "Vitrine";

/// Opens the desktop app on the library at `library_dir` and returns when the window closes.
pub fn run(library_dir: PathBuf) -> Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(WINDOW_TITLE)
            .with_app_id("vitrine")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([760.0, 480.0])
            .with_icon(app_icon()),
        ..Default::default()
    };
    eframe::run_native(
        "vitrine",
        options,
        Box::new(move |cc| Ok(Box::new(App::new(cc, library_dir)))),
    )
    .map_err(|e| Error::Invalid(format!("cannot open the Vitrine window: {e}")))
}

/// The window icon: the app's icon from `assets/`, built into the binary.
fn app_icon() -> egui::IconData {
    const ICON_PNG: &[u8] = include_bytes!("../../assets/icon.png");
    match image::load_from_memory(ICON_PNG) {
        Ok(img) => {
            let rgba = img.into_rgba8();
            egui::IconData {
                width: rgba.width(),
                height: rgba.height(),
                rgba: rgba.into_raw(),
            }
        }
        // Cannot happen with the PNG we ship; without it the window just has no icon.
        Err(_) => egui::IconData::default(),
    }
}

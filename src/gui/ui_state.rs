//! [`UiState`]: what the window remembers between runs (eframe storage): the tab, the
//! catalogue filter, thumbnail size, system, the study being scored, theme and zoom. It sits
//! below the panels that read it (menu, top bar) and the app that saves it.

use crate::gui::command::Tab;
use crate::gui::tabs::catalog::CatalogFilter;
use crate::gui::tabs::evaluate::OhsUiState;
use crate::gui::theme;
use crate::model::system;
use serde::{Deserialize, Serialize};

/// UI state saved between runs (eframe storage). Every field has a default, so a state
/// saved by an older version still loads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UiState {
    pub tab: Tab,
    pub filter: CatalogFilter,
    /// The side of a thumbnail in the catalogue grid, in points.
    pub thumb_size: f32,
    /// The system searches and indexing use (a name from `vitrine systems`).
    pub system: String,
    /// The study being scored or analysed, to resume after a restart.
    pub ohs: OhsUiState,
    /// Light, dark, or as the desktop is (View > Theme).
    pub theme: theme::ThemeChoice,
    /// The zoom factor (View > Zoom; Ctrl+Plus, Ctrl+Minus, Ctrl+0).
    pub zoom: f32,
}

impl Default for UiState {
    fn default() -> Self {
        UiState {
            tab: Tab::default(),
            filter: CatalogFilter::default(),
            thumb_size: theme::THUMB_SIZE_DEFAULT,
            system: system::IMAGENET_LITE0.to_owned(),
            ohs: OhsUiState::default(),
            theme: theme::ThemeChoice::default(),
            zoom: 1.0,
        }
    }
}

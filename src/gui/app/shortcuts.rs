//! The keyboard: shortcuts become commands, read once per frame after every widget (see
//! [`App::read_shortcuts`] for why then).

use super::App;

use crate::gui::command::CatalogCommand;
use crate::gui::command::SearchCommand;
use crate::gui::command::{Command, Tab};
use crate::gui::tabs::evaluate;
use eframe::egui;

impl App {
    /// Keyboard shortcuts become commands: Ctrl+1…6 switch tabs; in the Catalog tab with an
    /// item open, Escape closes it and the arrow keys move the selection; in scorer mode the
    /// digits, letters and arrows of [`evaluate::read_scoring_keys`].
    ///
    /// Runs at the end of the frame, after every widget: egui moves the keyboard focus to a
    /// text field when the field is *clicked*, which happens while the field is drawn. Keys
    /// read before the widgets (in `logic`) were judged by the focus of the previous frame,
    /// so a click on a field and a digit that arrived in the same frame (a busy window
    /// batches them) made the digit a shortcut: it marked a result tile and saved a wrong
    /// answer while the field, now focused, stayed empty. Plain keys are shortcuts only when
    /// no text field had the keyboard as the frame began ([`super::Runtime::typing_at_start`])
    /// and none took it during the frame.
    pub(in crate::gui) fn read_shortcuts(&mut self, ctx: &egui::Context) {
        // A dialog over the window takes the keys too (Escape closes it).
        let dialog_open = self.rt.dialog.is_some() || self.rt.jobs.confirm_cancel;
        let plain_keys_free = !self.rt.typing_at_start && !ctx.text_edit_focused() && !dialog_open;
        let commands = &mut self.rt.commands;
        if self.state.tab == Tab::Evaluate && plain_keys_free {
            evaluate::read_scoring_keys(ctx, &self.tabs.evaluate, commands);
        }
        ctx.input_mut(|input| {
            use egui::{Key, KeyboardShortcut, Modifiers};
            // The shortcut sheet: F1 always, `?` where it is not text.
            let question = plain_keys_free && input.consume_key(Modifiers::NONE, Key::Questionmark);
            if input.consume_key(Modifiers::NONE, Key::F1) || question {
                commands.push(Command::ShowDialog(Some(
                    crate::gui::command::Dialog::Shortcuts,
                )));
            }
            if dialog_open {
                return;
            }
            for tab in Tab::ALL {
                if input.consume_shortcut(&tab.shortcut()) {
                    commands.push(Command::SelectTab(tab));
                }
            }
            if input.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::O)) {
                commands.push(SearchCommand::PickFile.into());
            }
            if input.consume_shortcut(&KeyboardShortcut::new(Modifiers::ALT, Key::ArrowLeft)) {
                commands.push(SearchCommand::History(-1).into());
            }
            if input.consume_shortcut(&KeyboardShortcut::new(Modifiers::ALT, Key::ArrowRight)) {
                commands.push(SearchCommand::History(1).into());
            }
        });
        if !plain_keys_free {
            return;
        }
        let selected = self.tabs.catalog.selected;
        if self.state.tab == Tab::Search && selected.is_some() {
            ctx.input_mut(|input| {
                if input.consume_key(egui::Modifiers::NONE, egui::Key::Escape) {
                    commands.push(CatalogCommand::Select(None).into());
                }
            });
            return;
        }
        if self.state.tab != Tab::Catalog || selected.is_none() {
            return;
        }
        let columns = self.tabs.catalog.grid.columns.max(1) as isize;
        ctx.input_mut(|input| {
            use egui::{Key, Modifiers};
            if input.consume_key(Modifiers::NONE, Key::Escape) {
                commands.push(CatalogCommand::Select(None).into());
            }
            for (key, delta) in [
                (Key::ArrowLeft, -1),
                (Key::ArrowRight, 1),
                (Key::ArrowUp, -columns),
                (Key::ArrowDown, columns),
            ] {
                if input.consume_key(Modifiers::NONE, key) {
                    commands.push(CatalogCommand::MoveSelection(delta).into());
                }
            }
        });
    }
}

//! The Train tab's cut-out check: on how many catalogue photos background augmentation can
//! trust its cut-out, and a few of them as training would use them (the cut-out on a real
//! scene) or skip them (the would-be mask in red). Runs
//! [`crate::train::background::survey_cut_outs`] on a thread over a sample spread across the
//! catalogue, the same check `vitrine eval cutouts` runs on all of it.

use crate::gui::command::Command;
use crate::gui::command::TrainCommand;
use crate::gui::pending::Pending;
use crate::gui::runtime::Runtime;
use crate::gui::theme;
use crate::jobs::JobContext;
use crate::library::Library;
use crate::train::background::{self, CutoutSurvey, CutoutVerdict};
use eframe::egui::{self, RichText, Ui};
use image::RgbImage;

/// Photos checked (spread over the catalogue).
const SAMPLE: usize = 200;
/// Photos shown.
const SHOWN: usize = 8;
/// The side of a shown tile, in pixels and points.
const TILE_SIDE: u32 = 96;

type Checked = (CutoutSurvey, Vec<(CutoutVerdict, RgbImage)>);

/// The check's state.
#[derive(Default)]
pub(crate) struct CutoutView {
    check: Pending<Checked>,
    /// The last check: its survey and the shown photos.
    pub shown: Option<(CutoutSurvey, Vec<(CutoutVerdict, egui::TextureHandle)>)>,
}

impl CutoutView {
    /// Checks the cut-out on a sample of the catalogue, on a thread; [`CutoutView::poll`]
    /// shows it.
    pub fn start(&mut self, rt: &mut Runtime) {
        if self.check.is_running() {
            return;
        }
        let dir = rt.library_dir.clone();
        self.check = rt.spawn("cut-out check", move || -> crate::Result<Checked> {
            let lib = Library::open(&dir)?;
            let photos = background::library_photos(&lib, Some(SAMPLE))?;
            let survey = background::survey_cut_outs(&photos, &JobContext::silent())?;
            let shown = &photos[..photos.len().min(SHOWN)];
            let mut tiles = Vec::with_capacity(shown.len());
            for (i, photo) in shown.iter().enumerate() {
                let img = crate::vision::decode(&photo.image)?;
                let (check, tile) = background::cut_out_preview(&img, TILE_SIDE, i as u64)?;
                tiles.push((check.verdict, tile));
            }
            Ok((survey, tiles))
        });
    }

    /// Collects a finished check.
    pub fn poll(&mut self, rt: &mut Runtime) {
        match self.check.take_finished() {
            Some(Ok((survey, tiles))) => {
                let textures = tiles
                    .iter()
                    .enumerate()
                    .map(|(i, (verdict, img))| {
                        let color = egui::ColorImage::from_rgb(
                            [img.width() as usize, img.height() as usize],
                            img.as_raw(),
                        );
                        (
                            *verdict,
                            rt.ctx
                                .load_texture(format!("cut-out {i}"), color, Default::default()),
                        )
                    })
                    .collect();
                self.shown = Some((survey, textures));
            }
            Some(Err(e)) => rt.report(format!("Cannot check the cut-outs: {e}")),
            None => {}
        }
    }

    /// The heading, the button, the share found and the tiles.
    pub fn ui(&self, ui: &mut Ui, commands: &mut Vec<Command>) {
        let view = self;
        ui.horizontal(|ui| {
            ui.heading("Cut-out check");
            if ui
            .add_enabled(!view.check.is_running(), egui::Button::new("Check cut-outs"))
            .on_hover_text(format!(
                "On up to {SAMPLE} catalogue photos: can the item be cut out of its background? \
                 Photos without a plain background are not pasted on new scenes."
            ))
            .clicked()
        {
            commands.push(TrainCommand::CheckCutouts.into());
        }
        });
        if view.check.is_running() {
            ui.spinner();
            return;
        }
        let Some((survey, tiles)) = &view.shown else {
            ui.label(
                RichText::new(
                    "Real photos on a floor or a bed have no plain background to cut out.",
                )
                .weak(),
            );
            return;
        };
        ui.label(format!(
            "Background augmentation uses {} of {} photos checked ({:.0} %).",
            survey.overall.reliable,
            survey.overall.checked,
            100.0 * survey.overall.reliable_fraction
        ));
        ui.horizontal_wrapped(|ui| {
            for (i, (verdict, texture)) in tiles.iter().enumerate() {
                ui.vertical(|ui| {
                    ui.add(
                        egui::Image::new(texture)
                            .fit_to_exact_size(egui::vec2(TILE_SIDE as f32, TILE_SIDE as f32))
                            .alt_text(format!("cut-out {}: {}", i + 1, verdict.describe())),
                    );
                    let text = RichText::new(verdict.describe()).small();
                    let text = match verdict {
                        CutoutVerdict::Reliable => text.weak(),
                        _ => text.color(theme::colours(ui).error_text),
                    };
                    ui.label(text);
                });
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::gui::tests::{demo_library, harness, has_label, run_until, settle};
    use crate::gui::*;
    use egui::Role;
    use egui_kittest::kittest::Queryable;

    #[test]
    fn the_cut_out_check_reports_the_share_used_and_shows_tiles() {
        let dir = demo_library(10);
        let mut h = harness(dir.path(), Startup::AsIs);
        settle(&mut h);
        h.get_by_role_and_label(Role::Button, "Train").click();
        settle(&mut h);
        h.get_by_role_and_label(Role::Button, "Check cut-outs")
            .click();
        run_until(&mut h, "the cut-out check", |h| {
            h.state().tabs.train.cutouts.shown.is_some()
        });
        h.step();
        let (survey, tiles) = h.state().tabs.train.cutouts.shown.as_ref().unwrap();
        assert_eq!(survey.overall.checked, 10);
        // Demo shop photos have plain backgrounds: every cut-out is used.
        assert_eq!(survey.overall.reliable, 10);
        assert_eq!(tiles.len(), 8);
        assert!(has_label(
            &h,
            "Background augmentation uses 10 of 10 photos checked (100 %)."
        ));
        assert!(h.query_by_label("cut-out 8: reliable").is_some());
    }
}

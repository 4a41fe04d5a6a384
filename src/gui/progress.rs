//! One progress model for every job: a job is a list of *phases* (caching features, epochs,
//! embedding images …), each with its own bar, count and time left, shown in the order they
//! started. A bar never goes backwards: a phase only moves forward, and a new phase gets a
//! bar of its own instead of resetting the previous one (a training run used to show 59 %
//! while caching, then 52 % at epoch 4).
//!
//! Times left are computed here, from when each phase started and how far it has come
//! (`now_secs` is the caller's clock: the window's input time, or any number in tests), so
//! every job gets an estimate, caching included, without the worker having to send one.

use crate::jobs::Progress;
use crate::train::TrainEvent;

/// A phase's count and timing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Phase {
    /// What the phase does, as shown ("Caching features", "Training", "embedding images").
    pub name: String,
    pub done: u64,
    pub total: u64,
    /// The shown fraction: the largest seen so far (never goes backwards).
    pub fraction: f32,
    /// When the phase started and how much was done then (a resumed run starts part-way).
    started_secs: f64,
    done_at_start: u64,
    /// The clock at the last update.
    updated_secs: f64,
    /// What the phase adds to the count line, e.g. "epoch 3 of 6".
    pub detail: Option<String>,
}

impl Phase {
    /// Seconds left at the pace since the phase started (`None` until there is a pace).
    pub fn eta_secs(&self) -> Option<f64> {
        let moved = self.done.saturating_sub(self.done_at_start);
        let elapsed = self.updated_secs - self.started_secs;
        if moved == 0 || elapsed <= 0.0 || self.total == 0 {
            return None;
        }
        let per_unit = elapsed / moved as f64;
        Some(self.total.saturating_sub(self.done) as f64 * per_unit)
    }

    /// Whether the phase has reached its total.
    pub fn is_finished(&self) -> bool {
        self.total > 0 && self.done >= self.total
    }

    /// "352 of 8400", with the detail and the time left when known.
    pub fn count_text(&self) -> String {
        let mut text = if self.total > 0 {
            format!("{} of {}", self.done, self.total)
        } else {
            "starting".to_owned()
        };
        if let Some(detail) = &self.detail {
            text = format!("{detail}: {text}");
        }
        if self.is_finished() {
            return text;
        }
        if let Some(eta) = self.eta_secs() {
            text += &format!(", {} left", format_duration(eta));
        }
        text
    }
}

/// The phases of one job, in the order they started.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PhaseProgress {
    pub phases: Vec<Phase>,
}

impl PhaseProgress {
    /// The phase now running (the last one started).
    pub fn current(&self) -> Option<&Phase> {
        self.phases.last()
    }

    /// Records that phase `name` is at `done` of `total` at time `now_secs`. A phase seen
    /// before moves forward (never back); a new name starts a new phase.
    pub fn update(&mut self, name: &str, done: u64, total: u64, detail: Option<String>, now: f64) {
        let fraction = if total == 0 {
            0.0
        } else {
            (done as f32 / total as f32).clamp(0.0, 1.0)
        };
        if let Some(phase) = self.phases.iter_mut().find(|p| p.name == name) {
            if total != phase.total {
                // A new total (more epochs asked for): the pace restarts from here.
                phase.total = total;
                phase.started_secs = now;
                phase.done_at_start = done;
            }
            phase.done = phase.done.max(done);
            phase.fraction = phase.fraction.max(fraction);
            phase.updated_secs = now;
            if detail.is_some() {
                phase.detail = detail;
            }
            return;
        }
        // The phases before this one are over; one that never had a count ("listing the
        // catalogue") was only a word while starting, and goes.
        self.phases.retain(|p| p.total > 0);
        for earlier in &mut self.phases {
            earlier.done = earlier.total;
            earlier.fraction = 1.0;
        }
        self.phases.push(Phase {
            name: name.to_owned(),
            done,
            total,
            fraction,
            started_secs: now,
            done_at_start: done,
            updated_secs: now,
            detail,
        });
    }

    /// A job's generic progress event: its stage is the phase.
    pub fn update_from_progress(&mut self, p: &Progress, now: f64) {
        // Training's epoch stage carries the loss ("epoch 3/6: loss 0.1234"); its phases come
        // from its own events (`update_from_train`).
        self.update(&p.stage, p.done, p.total, None, now);
    }

    /// A training event: caching features, then the epochs' steps, each its own phase.
    pub fn update_from_train(&mut self, event: &TrainEvent, now: f64) {
        match event {
            TrainEvent::Caching { done, total } => {
                self.update(CACHING, *done as u64, *total as u64, None, now);
            }
            TrainEvent::Step {
                epoch,
                epochs,
                step,
                steps,
                ..
            } => {
                let done = (epoch.saturating_sub(1) * steps + step) as u64;
                let total = (epochs * steps) as u64;
                let detail = format!("epoch {epoch} of {epochs}");
                self.update(TRAINING, done, total, Some(detail), now);
            }
            TrainEvent::Epoch(_) | TrainEvent::Plan(_) => {}
        }
    }
}

/// The phase names of a training run.
pub(crate) const CACHING: &str = "Caching features";
pub(crate) const TRAINING: &str = "Training";

/// "45 s", "3 min", "1 h 05 min".
pub(crate) fn format_duration(secs: f64) -> String {
    let secs = secs.max(0.0).round() as u64;
    if secs < 60 {
        format!("{secs} s")
    } else if secs < 3600 {
        format!("{} min", secs.div_ceil(60))
    } else {
        format!("{} h {:02} min", secs / 3600, (secs % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(epoch: usize, step: usize) -> TrainEvent {
        TrainEvent::Step {
            epoch,
            epochs: 6,
            step,
            steps: 10,
            loss: 0.5,
            images_per_s: 100.0,
            eta_secs: 1.0,
        }
    }

    #[test]
    fn caching_then_epochs_are_two_bars_that_never_go_back() {
        let mut p = PhaseProgress::default();
        p.update_from_train(
            &TrainEvent::Caching {
                done: 0,
                total: 100,
            },
            0.0,
        );
        p.update_from_train(
            &TrainEvent::Caching {
                done: 59,
                total: 100,
            },
            59.0,
        );
        let caching = p.current().unwrap();
        assert_eq!(caching.name, CACHING);
        assert!((caching.fraction - 0.59).abs() < 1e-6);
        // 59 images in 59 s: 41 left.
        assert_eq!(caching.eta_secs(), Some(41.0));
        assert!(caching.count_text().contains("41 s left"), "{caching:?}");

        // The epochs start: a second bar; the caching bar is full, not reset.
        p.update_from_train(&step(1, 1), 100.0);
        assert_eq!(p.phases.len(), 2);
        assert_eq!(p.phases[0].fraction, 1.0);
        let training = p.current().unwrap();
        assert_eq!(training.name, TRAINING);
        assert_eq!((training.done, training.total), (1, 60));
        assert_eq!(training.eta_secs(), None, "no pace yet");
        p.update_from_train(&step(4, 1), 130.0);
        let training = p.current().unwrap();
        assert_eq!(training.done, 31);
        assert_eq!(training.detail.as_deref(), Some("epoch 4 of 6"));
        // 30 steps in 30 s: 29 left.
        assert_eq!(training.eta_secs(), Some(29.0));
        // An older event arriving late never moves the bar back.
        p.update_from_train(&step(3, 5), 131.0);
        assert_eq!(p.current().unwrap().done, 31);
        assert!((p.current().unwrap().fraction - 31.0 / 60.0).abs() < 1e-6);
    }

    #[test]
    fn a_resumed_run_paces_from_where_it_started() {
        let mut p = PhaseProgress::default();
        p.update_from_train(&step(4, 1), 10.0);
        p.update_from_train(&step(5, 1), 20.0);
        // 10 steps in 10 s, 19 to go (not 41 steps in 10 s).
        assert_eq!(p.current().unwrap().eta_secs(), Some(19.0));
    }

    #[test]
    fn generic_stages_become_phases() {
        let mut p = PhaseProgress::default();
        let progress = |done, total, stage: &str| Progress {
            done,
            total,
            stage: stage.into(),
        };
        p.update_from_progress(&progress(0, 0, "listing the catalogue"), 0.0);
        assert_eq!(p.current().unwrap().count_text(), "starting");
        p.update_from_progress(&progress(10, 40, "embedding images"), 2.0);
        p.update_from_progress(&progress(20, 40, "embedding images"), 4.0);
        // The count-less start is not a phase of its own once counting begins.
        assert_eq!(p.phases.len(), 1);
        assert_eq!(p.current().unwrap().eta_secs(), Some(4.0));
        assert_eq!(p.current().unwrap().count_text(), "20 of 40, 4 s left");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(42.4), "42 s");
        assert_eq!(format_duration(125.0), "3 min");
        assert_eq!(format_duration(3900.0), "1 h 05 min");
    }
}

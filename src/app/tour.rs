//! The screenshot tour (`WICK_TOUR_DIR=folder wick`): the real window visits each panel in
//! use, waits until its background work is done, saves what it painted as a PNG, and closes.
//! `scripts/screenshots.sh` runs it under Xvfb.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::WickApp;

/// One stop: `enter` puts the app in the state to show; `ready` says when it shows it (and
/// may take the next step of a multi-step stop, e.g. select a result once it arrives).
pub struct Stop {
    pub name: &'static str,
    pub enter: fn(&mut WickApp),
    pub ready: fn(&mut WickApp) -> bool,
    pub max_wait: Duration,
    /// The window's inner size from this stop on (points), when it changes here.
    pub resize_to: Option<egui::Vec2>,
}

#[derive(Default)]
enum Step {
    #[default]
    Enter,
    Waiting {
        since: Instant,
        ready_at: Option<Instant>,
    },
    Shooting,
}

pub struct Tour {
    out_dir: PathBuf,
    stops: Vec<Stop>,
    index: usize,
    step: Step,
    /// Set by the screenshot callback: the saved file, or why it failed.
    saved: Arc<Mutex<Option<Result<PathBuf, String>>>>,
}

impl Tour {
    pub fn new(out_dir: &Path, stops: Vec<Stop>) -> Self {
        Self {
            out_dir: out_dir.to_path_buf(),
            stops,
            index: 0,
            step: Step::Enter,
            saved: Arc::default(),
        }
    }

    /// Advances the tour by one frame; returns false when it is over.
    pub fn frame(&mut self, app: &mut WickApp, ctx: &egui::Context) -> bool {
        ctx.request_repaint_after(Duration::from_millis(50));
        let Some(stop) = self.stops.get(self.index) else {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            return false;
        };
        match &mut self.step {
            Step::Enter => {
                eprintln!("tour: {}", stop.name);
                if let Some(size) = stop.resize_to {
                    ctx.send_viewport_cmd(egui::ViewportCommand::InnerSize(size));
                }
                // The pointer rests on the navigation's empty part, where it shows no
                // tooltip or hover over what the stop is about.
                ctx.send_viewport_cmd(egui::ViewportCommand::CursorPosition(egui::pos2(
                    75.0, 450.0,
                )));
                (stop.enter)(app);
                self.step = Step::Waiting {
                    since: Instant::now(),
                    ready_at: None,
                };
            }
            Step::Waiting { since, ready_at } => {
                if ready_at.is_none() && (stop.ready)(app) {
                    *ready_at = Some(Instant::now());
                }
                let timed_out = since.elapsed() > stop.max_wait;
                // A moment after ready, so animations and late repaints settle.
                let settled = ready_at.is_some_and(|at| at.elapsed() > Duration::from_millis(800));
                if settled || timed_out {
                    if timed_out && ready_at.is_none() {
                        eprintln!(
                            "tour: {} was not ready after {:?}; shooting anyway",
                            stop.name, stop.max_wait
                        );
                    }
                    let path =
                        self.out_dir
                            .join(format!("{:02}-{}.png", self.index + 1, stop.name));
                    let saved = self.saved.clone();
                    ctx.request_screenshot(move |image| {
                        let result = save_png(&image, &path).map(|()| path);
                        if let Ok(mut slot) = saved.lock() {
                            *slot = Some(result);
                        }
                    });
                    self.step = Step::Shooting;
                }
            }
            Step::Shooting => {
                let done = self.saved.lock().ok().and_then(|mut slot| slot.take());
                if let Some(result) = done {
                    match result {
                        Ok(path) => eprintln!("tour: saved {}", path.display()),
                        Err(err) => eprintln!("tour: {err}"),
                    }
                    self.index += 1;
                    self.step = Step::Enter;
                }
            }
        }
        true
    }
}

/// Writes an egui image as PNG.
pub fn save_png(image: &egui::ColorImage, path: &Path) -> Result<(), String> {
    let [width, height] = image.size;
    let bytes: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    let buffer = image::RgbaImage::from_raw(width as u32, height as u32, bytes)
        .ok_or_else(|| format!("{}: the screenshot has the wrong size", path.display()))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    buffer
        .save(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_a_color_image_as_png() {
        let dir = tempfile::tempdir().unwrap();
        let mut image = egui::ColorImage::filled([3, 2], egui::Color32::from_rgb(10, 20, 30));
        image.pixels[0] = egui::Color32::RED;
        let path = dir.path().join("shots/one.png");
        save_png(&image, &path).unwrap();
        let read = image::open(&path).unwrap().to_rgba8();
        assert_eq!(read.dimensions(), (3, 2));
        assert_eq!(read.get_pixel(0, 0).0, [255, 0, 0, 255]);
        assert_eq!(read.get_pixel(2, 1).0, [10, 20, 30, 255]);
    }
}

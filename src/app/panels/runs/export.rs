//! Exports: the compare grid as PNG, the ticked runs' metrics as CSV.

use crossbeam_channel::{Receiver, TryRecvError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Export, LoadedRun, RunsPanel};
use crate::app::Cx;
use crate::app::jobs::{self, Task, TaskError};
use crate::app::widgets::Alert;
use crate::runs::LogRecord;
use crate::runs::compare;

/// Why the chart or the metrics could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the chart is not on screen (rect {rect:?} in a {width}x{height} image)")]
    OffScreen {
        rect: egui::Rect,
        width: usize,
        height: usize,
    },
    #[error("the screenshot has the wrong size")]
    WrongSize,
    #[error("{}: {source}", path.display())]
    Image {
        path: PathBuf,
        source: image::ImageError,
    },
    #[error("{}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The PNG's path while the window's screenshot is on its way.
pub(super) struct PendingPng {
    path: PathBuf,
    screenshot: Receiver<Arc<egui::ColorImage>>,
}

/// Crops a screenshot to `rect` (in points) and writes it as PNG. The rectangle is
/// clamped to the image; an empty crop is an error.
pub fn save_png_crop(
    image: &egui::ColorImage,
    rect: egui::Rect,
    pixels_per_point: f32,
    path: &Path,
) -> Result<(), ExportError> {
    let [width, height] = image.size;
    let to_px = |v: f32, max: usize| ((v * pixels_per_point).round().max(0.0) as usize).min(max);
    let (x0, x1) = (to_px(rect.min.x, width), to_px(rect.max.x, width));
    let (y0, y1) = (to_px(rect.min.y, height), to_px(rect.max.y, height));
    if x1 <= x0 || y1 <= y0 {
        return Err(ExportError::OffScreen {
            rect,
            width,
            height,
        });
    }
    let cropped = image.region_by_pixels([x0, y0], [x1 - x0, y1 - y0]);
    let bytes: Vec<u8> = cropped.pixels.iter().flat_map(|c| c.to_array()).collect();
    let buffer = image::RgbaImage::from_raw((x1 - x0) as u32, (y1 - y0) as u32, bytes)
        .ok_or(ExportError::WrongSize)?;
    buffer
        .save_with_format(path, image::ImageFormat::Png)
        .map_err(|source| ExportError::Image {
            path: path.to_path_buf(),
            source,
        })
}

impl RunsPanel {
    pub(super) fn export_row(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        // The path fields give way first, so the buttons stay in a narrow window.
        let field_width = (ui.available_width() - 340.0).clamp(140.0, 360.0);
        egui::Grid::new("runs-export").num_columns(3).show(ui, |ui| {
            let label = ui.label("PNG file");
            ui.add_sized(
                [field_width, 20.0],
                egui::TextEdit::singleline(&mut self.png_path).hint_text("/path/to/chart.png"),
            )
            .labelled_by(label.id);
            ui.horizontal(|ui| {
                if ui.button("Browse PNG…").clicked() {
                    self.rt.picking = Some(pick_path(cx, Export::Png));
                }
                let busy = self.rt.pending_png.is_some();
                if ui
                    .add_enabled(!busy, egui::Button::new("Save chart as PNG"))
                    .on_hover_text("Saves the chart as drawn on screen")
                    .clicked()
                {
                    self.request_png(ui.ctx());
                }
            });
            ui.end_row();
            let label = ui.label("CSV file");
            ui.add_sized(
                [field_width, 20.0],
                egui::TextEdit::singleline(&mut self.csv_path).hint_text("/path/to/metrics.csv"),
            )
            .labelled_by(label.id);
            ui.horizontal(|ui| {
                if ui.button("Browse CSV…").clicked() {
                    self.rt.picking = Some(pick_path(cx, Export::Csv));
                }
                if ui
                    .button("Export metrics CSV")
                    .on_hover_text("Every logged record of the ticked runs: run, step, epoch, elapsed_s, then every key")
                    .clicked()
                {
                    self.export_csv(cx);
                }
            });
            ui.end_row();
        });
    }

    fn request_png(&mut self, ctx: &egui::Context) {
        let path = self.png_path.trim();
        if path.is_empty() {
            self.rt.alert = Some(Alert::warning(
                "Choose where to save the chart",
                "Type a path in PNG file or use Browse PNG…",
            ));
            return;
        }
        let (tx, screenshot) = crossbeam_channel::bounded(1);
        self.rt.pending_png = Some(PendingPng {
            path: PathBuf::from(path),
            screenshot,
        });
        let repaint = ctx.clone();
        ctx.request_screenshot(move |image| {
            // The panel may be gone (the app closing); nothing is left to save then.
            let _ = tx.send(image);
            repaint.request_repaint();
        });
    }

    /// Takes the screenshot for a pending PNG (and starts saving it), the saves' and the
    /// file dialog's results.
    pub(super) fn poll_exports(&mut self, cx: &mut Cx) {
        self.poll_screenshot(cx);
        if let Some(result) = jobs::poll_slot(&mut self.rt.saving_png) {
            self.saved(cx, "chart", result);
        }
        if let Some(result) = jobs::poll_slot(&mut self.rt.saving_csv) {
            self.saved(cx, "metrics", result);
        }
        match jobs::poll_slot(&mut self.rt.picking) {
            Some(Ok((what, Some(path)))) => {
                let text = path.display().to_string();
                match what {
                    Export::Png => self.png_path = text,
                    Export::Csv => self.csv_path = text,
                }
            }
            Some(Err(err)) => cx.toasts.error("The file dialog failed", err.to_string()),
            Some(Ok((_, None))) | None => {}
        }
    }

    fn poll_screenshot(&mut self, cx: &mut Cx) {
        let Some(pending) = &self.rt.pending_png else {
            return;
        };
        let image = match pending.screenshot.try_recv() {
            Ok(image) => image,
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => {
                // The integration dropped the request without taking a screenshot.
                self.rt.pending_png = None;
                self.rt.alert = Some(Alert::error(
                    "Could not save the chart",
                    "the window could not be captured",
                ));
                return;
            }
        };
        let Some(PendingPng { path, .. }) = self.rt.pending_png.take() else {
            return;
        };
        let Some(rect) = self.rt.plot_rect else {
            self.rt.alert = Some(Alert::error(
                "Could not save the chart",
                "no chart was on screen to crop; show the curves and try again",
            ));
            return;
        };
        let ppp = self.rt.pixels_per_point.max(0.1);
        self.rt.saving_png = Some(cx.jobs.task("runs-png", "saving the chart", move |_| {
            save_png_crop(&image, rect, ppp, &path).map(|()| path)
        }));
    }

    fn saved(
        &mut self,
        cx: &mut Cx,
        kind: &str,
        result: Result<Result<PathBuf, ExportError>, TaskError>,
    ) {
        let detail = match result {
            Ok(Ok(path)) => {
                cx.toasts
                    .success(format!("Saved the {kind} to {}", path.display()));
                return;
            }
            Ok(Err(err)) => err.to_string(),
            Err(err) => err.to_string(),
        };
        cx.toasts
            .error(format!("Could not save the {kind}"), detail.clone());
        self.rt.alert = Some(Alert::error(format!("Could not save the {kind}"), detail));
    }

    fn export_csv(&mut self, cx: &mut Cx) {
        let path = self.csv_path.trim();
        if path.is_empty() {
            self.rt.alert = Some(Alert::warning(
                "Choose where to save the metrics",
                "Type a path in CSV file or use Browse CSV…",
            ));
            return;
        }
        let mut runs: Vec<(String, Arc<LoadedRun>)> = Vec::new();
        for p in &self.rt.selected {
            let Some(loaded) = self.loaded(p) else {
                self.rt.alert = Some(Alert::warning(
                    "Some ticked runs are still being read",
                    "Try again in a moment.",
                ));
                return;
            };
            let name = self
                .row(p)
                .map(|r| r.display_name().to_string())
                .unwrap_or_default();
            runs.push((name, loaded.clone()));
        }
        let path = PathBuf::from(path);
        self.rt.saving_csv = Some(cx.jobs.task("runs-csv", "exporting metrics", move |_| {
            let tables: Vec<(String, &[LogRecord])> = runs
                .iter()
                .map(|(n, l)| (n.clone(), &l.records[..]))
                .collect();
            let csv = compare::metrics_csv(&tables);
            match std::fs::write(&path, csv) {
                Ok(()) => Ok(path),
                Err(source) => Err(ExportError::Write { path, source }),
            }
        }));
    }
}

/// A save dialog on a task (it blocks its thread until the user answers); `None` when the
/// user cancelled.
fn pick_path(cx: &mut Cx, what: Export) -> Task<(Export, Option<PathBuf>)> {
    let (name, extension, file) = match what {
        Export::Png => ("PNG image", "png", "runs-overlay.png"),
        Export::Csv => ("CSV", "csv", "runs-metrics.csv"),
    };
    cx.jobs.task("runs-pick", "choosing a file", move |_| {
        let path = rfd::FileDialog::new()
            .add_filter(name, &[extension])
            .set_file_name(file)
            .save_file();
        (what, path)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_crop_takes_the_plot_rect_in_pixels() {
        // 20x10 image: left half red, right half blue; crop the right half at 2x scale.
        let mut image = egui::ColorImage::filled([20, 10], egui::Color32::RED);
        for y in 0..10 {
            for x in 10..20 {
                image.pixels[y * 20 + x] = egui::Color32::BLUE;
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chart.png");
        let rect = egui::Rect::from_min_max(egui::pos2(5.0, 1.0), egui::pos2(10.0, 4.0));
        save_png_crop(&image, rect, 2.0, &path).unwrap();
        let saved = image::open(&path).unwrap().to_rgba8();
        assert_eq!(saved.dimensions(), (10, 6));
        assert!(saved.pixels().all(|p| p.0 == [0, 0, 255, 255]));
        // Clamped to the image; nothing on screen is an error, not a panic.
        let beyond = egui::Rect::from_min_max(egui::pos2(8.0, 0.0), egui::pos2(99.0, 99.0));
        save_png_crop(&image, beyond, 2.0, &path).unwrap();
        assert_eq!(image::open(&path).unwrap().to_rgba8().dimensions(), (4, 10));
        let off = egui::Rect::from_min_max(egui::pos2(50.0, 50.0), egui::pos2(60.0, 60.0));
        assert!(save_png_crop(&image, off, 1.0, &path).is_err());
    }
}

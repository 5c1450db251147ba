//! Toasts: short notices in the bottom-right corner. Errors stay until closed and their
//! details can be copied; information fades after a few seconds.

use egui::{Align2, Color32, RichText};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Success,
    Warning,
    Error,
}

impl Level {
    pub fn color(self, dark: bool) -> Color32 {
        match (self, dark) {
            (Level::Info, _) => Color32::from_rgb(90, 150, 230),
            (Level::Success, true) => Color32::from_rgb(110, 200, 120),
            (Level::Success, false) => Color32::from_rgb(30, 130, 50),
            (Level::Warning, true) => Color32::from_rgb(235, 180, 70),
            (Level::Warning, false) => Color32::from_rgb(170, 110, 0),
            (Level::Error, true) => Color32::from_rgb(240, 100, 90),
            (Level::Error, false) => Color32::from_rgb(190, 30, 30),
        }
    }

    fn lasts_s(self) -> Option<f64> {
        match self {
            Level::Info | Level::Success => Some(6.0),
            Level::Warning => Some(12.0),
            Level::Error => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Toast {
    pub level: Level,
    pub title: String,
    pub detail: String,
    shown_at: Option<f64>,
}

#[derive(Default)]
pub struct Toasts {
    items: Vec<Toast>,
}

impl Toasts {
    pub fn push(&mut self, level: Level, title: impl Into<String>, detail: impl Into<String>) {
        self.items.push(Toast {
            level,
            title: title.into(),
            detail: detail.into(),
            shown_at: None,
        });
        // A burst of failures should not cover the window.
        if self.items.len() > 6 {
            self.items.remove(0);
        }
    }

    pub fn info(&mut self, title: impl Into<String>) {
        self.push(Level::Info, title, "");
    }

    pub fn success(&mut self, title: impl Into<String>) {
        self.push(Level::Success, title, "");
    }

    pub fn warning(&mut self, title: impl Into<String>, detail: impl Into<String>) {
        self.push(Level::Warning, title, detail);
    }

    pub fn error(&mut self, title: impl Into<String>, detail: impl Into<String>) {
        self.push(Level::Error, title, detail);
    }

    pub fn items(&self) -> &[Toast] {
        &self.items
    }

    pub fn show(&mut self, ctx: &egui::Context) {
        let now = ctx.input(|i| i.time);
        self.items
            .retain(|toast| match (toast.level.lasts_s(), toast.shown_at) {
                (Some(lasts), Some(at)) => now - at < lasts,
                _ => true,
            });
        if self.items.is_empty() {
            return;
        }
        let dark = ctx.global_style().visuals.dark_mode;
        let mut close = None;
        egui::Area::new(egui::Id::unique("wick-toasts"))
            .anchor(Align2::RIGHT_BOTTOM, [-12.0, -36.0])
            .order(egui::Order::Foreground)
            .show(ctx, |ui| {
                ui.set_max_width(380.0);
                for (index, toast) in self.items.iter_mut().enumerate() {
                    toast.shown_at.get_or_insert(now);
                    egui::Frame::popup(ui.style())
                        .stroke(egui::Stroke::new(1.5, toast.level.color(dark)))
                        .show(ui, |ui| {
                            ui.horizontal(|ui| {
                                ui.label(
                                    RichText::new(&toast.title)
                                        .strong()
                                        .color(toast.level.color(dark)),
                                );
                                ui.with_layout(
                                    egui::Layout::right_to_left(egui::Align::Center),
                                    |ui| {
                                        if ui.small_button("🗙").on_hover_text("Dismiss").clicked()
                                        {
                                            close = Some(index);
                                        }
                                        if !toast.detail.is_empty()
                                            && ui
                                                .small_button("Copy")
                                                .on_hover_text("Copy the details")
                                                .clicked()
                                        {
                                            ui.ctx().copy_text(format!(
                                                "{}\n{}",
                                                toast.title, toast.detail
                                            ));
                                        }
                                    },
                                );
                            });
                            if !toast.detail.is_empty() {
                                ui.label(RichText::new(&toast.detail).small());
                            }
                        });
                    ui.add_space(4.0);
                }
            });
        if let Some(index) = close {
            self.items.remove(index);
        }
        // Timed toasts need a frame to disappear even when nothing else happens.
        ctx.request_repaint_after(std::time::Duration::from_millis(500));
    }
}

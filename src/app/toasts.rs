//! Toasts: short notices in the bottom-right corner. Errors stay until closed and their
//! details can be copied; information fades after a few seconds.

use egui::{Align2, Color32, RichText};

/// The widest a toast gets; narrower when the window is.
const MAX_WIDTH: f32 = 380.0;
/// Space kept between the toasts and the window's right edge.
const EDGE_MARGIN: f32 = 12.0;
/// Details taller than this scroll inside their toast.
const DETAIL_MAX_HEIGHT: f32 = 160.0;

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
        // One width for every toast, narrowed to fit a small window; text wraps inside it.
        let width = (ctx.content_rect().width() - 2.0 * EDGE_MARGIN).clamp(160.0, MAX_WIDTH);
        egui::Area::new(egui::Id::unique("wick-toasts"))
            .anchor(Align2::RIGHT_BOTTOM, [-EDGE_MARGIN, -36.0])
            .order(egui::Order::Foreground)
            .show(ctx, |ui| {
                for (index, toast) in self.items.iter_mut().enumerate() {
                    toast.shown_at.get_or_insert(now);
                    let frame = egui::Frame::popup(ui.style())
                        .stroke(egui::Stroke::new(1.5, toast.level.color(dark)));
                    let inner_width = width - frame.total_margin().sum().x;
                    frame.show(ui, |ui| {
                        ui.set_width(inner_width);
                        let (_, dismissed) = egui::Sides::new().shrink_left().wrap().show(
                            ui,
                            |ui| {
                                ui.label(
                                    RichText::new(&toast.title)
                                        .strong()
                                        .color(toast.level.color(dark)),
                                );
                            },
                            |ui| {
                                let dismissed =
                                    ui.small_button("🗙").on_hover_text("Dismiss").clicked();
                                if !toast.detail.is_empty()
                                    && ui
                                        .small_button("Copy")
                                        .on_hover_text("Copy the details")
                                        .clicked()
                                {
                                    ui.ctx()
                                        .copy_text(format!("{}\n{}", toast.title, toast.detail));
                                }
                                dismissed
                            },
                        );
                        if dismissed {
                            close = Some(index);
                        }
                        if !toast.detail.is_empty() {
                            // A long error (a chain of causes) scrolls rather than pushing
                            // the toasts above the window.
                            egui::ScrollArea::vertical()
                                .id_salt(("wick-toast-detail", index))
                                .max_height(DETAIL_MAX_HEIGHT)
                                .show(ui, |ui| {
                                    ui.label(RichText::new(&toast.detail).small());
                                });
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

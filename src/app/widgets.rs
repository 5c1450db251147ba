//! Small widgets shared by the panels: labelled inputs (every input has an accessible
//! label), inline alerts with copyable details, and number formatting.

use egui::{Color32, RichText, Ui};

use super::toasts::Level;

/// A message shown inside the panel it concerns (toasts say it once; this stays).
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub level: Level,
    pub title: String,
    pub detail: String,
}

impl Alert {
    pub fn error(title: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            level: Level::Error,
            title: title.into(),
            detail: detail.into(),
        }
    }

    pub fn warning(title: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            level: Level::Warning,
            title: title.into(),
            detail: detail.into(),
        }
    }
}

/// Shows `alert` if set; returns with it cleared when the user dismisses it.
pub fn alert(ui: &mut Ui, alert: &mut Option<Alert>) {
    let Some(current) = alert.as_ref() else {
        return;
    };
    let color = current.level.color(ui.visuals().dark_mode);
    let mut dismiss = false;
    egui::Frame::group(ui.style())
        .stroke(egui::Stroke::new(1.5, color))
        .fill(color.gamma_multiply(0.12))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                let icon = match current.level {
                    Level::Error => "⚠",
                    Level::Warning => "⚠",
                    Level::Info | Level::Success => "ℹ",
                };
                ui.label(
                    RichText::new(format!("{icon} {}", current.title))
                        .strong()
                        .color(color),
                );
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui.small_button("Dismiss").clicked() {
                        dismiss = true;
                    }
                    if !current.detail.is_empty() && ui.small_button("Copy details").clicked() {
                        ui.ctx()
                            .copy_text(format!("{}\n{}", current.title, current.detail));
                    }
                });
            });
            if !current.detail.is_empty() {
                ui.label(RichText::new(&current.detail).monospace().small());
            }
        });
    if dismiss {
        *alert = None;
    }
}

/// A labelled single-line text field in a two-column grid; returns the field's response.
pub fn grid_text(
    ui: &mut Ui,
    label: &str,
    value: &mut String,
    hint: &str,
    help: &str,
) -> egui::Response {
    let label = ui.label(label).on_hover_text(help);
    let response = ui
        .add(
            egui::TextEdit::singleline(value)
                .hint_text(hint)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id)
        .on_hover_text(help);
    ui.end_row();
    response
}

/// A heading with a muted one-line explanation under it.
pub fn panel_header(ui: &mut Ui, title: &str, subtitle: &str) {
    ui.heading(title);
    ui.label(RichText::new(subtitle).color(ui.visuals().weak_text_color()));
    ui.add_space(6.0);
}

/// A muted text for empty states ("nothing here yet, do X").
pub fn empty_state(ui: &mut Ui, text: &str) {
    ui.add_space(24.0);
    ui.vertical_centered(|ui| {
        ui.label(RichText::new(text).color(ui.visuals().weak_text_color()));
    });
}

pub fn muted(ui: &Ui, text: impl Into<String>) -> RichText {
    RichText::new(text.into()).color(ui.visuals().weak_text_color())
}

pub fn accent(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgb(255, 170, 60)
    } else {
        Color32::from_rgb(200, 110, 0)
    }
}

/// `1234567` → `1.2M`; for downloads, parameters and row counts.
pub fn compact_count(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{:.1}B", n as f64 / 1e9),
    }
}

pub fn bytes(n: u64) -> String {
    match n {
        0..1_024 => format!("{n} B"),
        1_024..1_048_576 => format!("{:.1} KiB", n as f64 / 1_024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", n as f64 / 1_048_576.0),
        _ => format!("{:.2} GiB", n as f64 / 1_073_741_824.0),
    }
}

/// Seconds as `1h 02m`, `3m 07s` or `12s`.
pub fn duration(seconds: f64) -> String {
    crate::runs::time::format_duration(seconds)
}

/// Keeps a few widgets (a label and its control) on one line of a wrapping row
/// (`ui.horizontal_wrapped`): the group moves to the next line as a whole instead of
/// leaving its label at the end of the line above. A wrapping row breaks before a widget
/// is drawn, so the group breaks on the width it had last frame (the first frame, or a
/// change of width, is laid out again before it is shown).
pub fn keep_together<R>(ui: &mut Ui, id_salt: &str, add: impl FnOnce(&mut Ui) -> R) -> R {
    let id = egui::Id::unique(("wick-keep-together", id_salt));
    let remembered = ui.ctx().data(|d| d.get_temp::<f32>(id));
    let at_line_start = ui.cursor().min.x <= ui.max_rect().min.x + 0.5;
    if remembered.is_some_and(|width| width > ui.available_size_before_wrap().x) && !at_line_start {
        ui.end_row();
    }
    // The group gets the rest of the line, so a field keeps its desired width.
    let inner = ui.horizontal(add);
    let measured = inner.response.rect.width();
    if remembered.is_none_or(|old| (old - measured).abs() > 0.5) {
        ui.ctx().data_mut(|d| d.insert_temp(id, measured));
        ui.ctx()
            .request_discard("a group in a wrapping row changed width");
    }
    inner.inner
}

/// `22.7M parameters`, or `22.8M parameters, 65.3k trainable (0.29%)` when only some train
/// (LoRA): Monitor's header, the preflight card and `wick train`'s start line.
pub fn parameters(total: usize, trainable: usize) -> String {
    let all = format!("{} parameters", compact_count(total as u64));
    if trainable == total || total == 0 {
        return all;
    }
    format!(
        "{all}, {} trainable ({:.2}%)",
        compact_count(trainable as u64),
        trainable as f64 / total as f64 * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_read_well() {
        assert_eq!(compact_count(999), "999");
        assert_eq!(compact_count(1_500), "1.5k");
        assert_eq!(compact_count(2_300_000), "2.3M");
        assert_eq!(bytes(2048), "2.0 KiB");
        assert_eq!(duration(7.4), "7s");
        assert_eq!(duration(187.0), "3m 07s");
        assert_eq!(duration(3720.0), "1h 02m");
        assert_eq!(duration(f64::NAN), "–");
        assert_eq!(duration(0.42), "0.4s", "a short run still took time");
        assert_eq!(duration(0.96), "1s");
        assert_eq!(parameters(22_700_000, 22_700_000), "22.7M parameters");
        assert_eq!(
            parameters(22_780_000, 65_300),
            "22.8M parameters, 65.3k trainable (0.29%)"
        );
    }
}

//! The Playground's answer, drawn in its task's terms: a class with every probability,
//! labels with the threshold, a number, or the entities highlighted in the text.

use egui::text::{LayoutJob, TextFormat};
use egui::{Color32, RichText};

use crate::app::charts::PALETTE;
use crate::app::widgets;
use crate::train::scores::entity_types;
use crate::train::{EntityGroup, Prediction};

/// Width of the probability bars.
const BAR_WIDTH: f32 = 320.0;

/// Single-label: the predicted class, and a bar per class.
pub fn class(ui: &mut egui::Ui, prediction: &Prediction) {
    let dark = ui.visuals().dark_mode;
    headline(ui, &prediction.label);
    egui::Grid::new("playground-probabilities")
        .num_columns(2)
        .spacing([12.0, 6.0])
        .show(ui, |ui| {
            for (label, prob) in &prediction.probs {
                let top = *label == prediction.label;
                let name = RichText::new(label);
                ui.label(if top { name.strong() } else { name });
                let mut bar = egui::ProgressBar::new(*prob)
                    .desired_width(BAR_WIDTH)
                    .text(format!("{:.1}%", prob * 100.0));
                if top {
                    bar = bar.fill(widgets::accent(dark).gamma_multiply(0.8));
                }
                ui.add(bar);
                ui.end_row();
            }
        });
}

/// The labels at or above their threshold (`thresholds`, one per label), in label order.
pub fn predicted_labels<'a>(probs: &'a [(String, f32)], thresholds: &[f32]) -> Vec<&'a str> {
    probs
        .iter()
        .zip(thresholds)
        .filter(|((_, p), t)| p >= t)
        .map(|((l, _), _)| l.as_str())
        .collect()
}

/// Where a multi-label model's thresholds come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Thresholds {
    /// One threshold for every label (0.5).
    Default(f32),
    /// Each label's threshold, tuned on the eval split when the run ended.
    Tuned(Vec<f32>),
}

impl Thresholds {
    /// One threshold per label of `count`.
    pub fn per_label(&self, count: usize) -> Vec<f32> {
        match self {
            Thresholds::Default(t) => vec![*t; count],
            Thresholds::Tuned(tuned) => tuned.clone(),
        }
    }
}

/// Multi-label: the labels over their thresholds, and each label's sigmoid as a bar with its
/// threshold marked on it.
pub fn labels(ui: &mut egui::Ui, probs: &[(String, f32)], thresholds: &Thresholds) {
    let dark = ui.visuals().dark_mode;
    let per_label = thresholds.per_label(probs.len());
    let chosen = predicted_labels(probs, &per_label);
    if chosen.is_empty() {
        ui.horizontal_wrapped(|ui| {
            ui.label("Predicted:");
            ui.label(RichText::new("no label").strong().size(20.0));
            ui.label(widgets::muted(ui, "(none reaches its threshold)"));
        });
    } else {
        headline(ui, &chosen.join(", "));
    }
    let marker = ui.visuals().strong_text_color();
    let tuned = matches!(thresholds, Thresholds::Tuned(_));
    egui::Grid::new("playground-label-probabilities")
        .num_columns(if tuned { 3 } else { 2 })
        .spacing([12.0, 6.0])
        .show(ui, |ui| {
            for ((label, prob), &threshold) in probs.iter().zip(&per_label) {
                let on = *prob >= threshold;
                let name = RichText::new(label);
                ui.label(if on { name.strong() } else { name });
                let mut bar = egui::ProgressBar::new(*prob)
                    .desired_width(BAR_WIDTH)
                    .text(format!("{:.1}%", prob * 100.0));
                if on {
                    bar = bar.fill(widgets::accent(dark).gamma_multiply(0.8));
                }
                let rect = ui.add(bar).rect;
                // The threshold as a tick across the bar.
                let x = rect.left() + rect.width() * threshold.clamp(0.0, 1.0);
                ui.painter().line_segment(
                    [
                        egui::pos2(x, rect.top() - 2.0),
                        egui::pos2(x, rect.bottom() + 2.0),
                    ],
                    egui::Stroke::new(2.0, marker),
                );
                if tuned {
                    ui.label(widgets::muted(ui, format!("threshold {threshold:.2}")));
                }
                ui.end_row();
            }
        });
    let note = match thresholds {
        Thresholds::Default(threshold) => format!(
            "Each label's own sigmoid (they need not add up to 100%); the tick marks the \
             threshold {threshold}: labels at or above it are predicted."
        ),
        Thresholds::Tuned(_) => "Each label's own sigmoid (they need not add up to 100%); the \
             tick marks its threshold, tuned on the eval split when the run ended: labels at \
             or above theirs are predicted."
            .to_string(),
    };
    ui.label(widgets::muted(ui, note));
}

/// Regression: the number the model gives.
pub fn score(ui: &mut egui::Ui, value: f32) {
    headline(ui, &format_score(value));
    ui.label(widgets::muted(
        ui,
        "The model's single output, on the scale of the data's labels (no softmax).",
    ));
}

/// A regression output as shown: four decimal places, no `-0.0000`.
pub fn format_score(value: f32) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let text = format!("{value:.4}");
    if text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        "0.0000".into()
    } else {
        text
    }
}

/// The legend's entity types: those the model's labels name, in label order (`B-PER`,
/// `I-PER`, `S-PER` → `PER`; `O` none), then any other type among the entities found (a
/// label without a prefix is its own type to the pipeline).
pub fn entity_kinds(labels: &[String], found: &[EntityGroup]) -> Vec<String> {
    let mut kinds = entity_types(labels);
    for group in found {
        if !kinds.contains(&group.kind) {
            kinds.push(group.kind.clone());
        }
    }
    kinds
}

/// The colour of an entity type: its place among the model's types, so the text, the
/// legend and the list agree.
pub fn kind_color(kinds: &[String], kind: &str) -> Color32 {
    let index = kinds.iter().position(|k| k == kind).unwrap_or(kinds.len());
    PALETTE[index % PALETTE.len()]
}

/// Token classification: the text with each entity highlighted and named, a legend of the
/// model's entity types, and the entities as a list with their scores.
pub fn entities(ui: &mut egui::Ui, text: &str, found: &[EntityGroup], kinds: &[String]) {
    ui.horizontal_wrapped(|ui| {
        ui.label("Entity types:");
        for kind in kinds {
            legend_chip(ui, kind, kind_color(kinds, kind));
        }
    });
    ui.add_space(4.0);
    ui.add(egui::Label::new(highlighted(ui, text, found, kinds)).wrap());
    ui.add_space(6.0);
    if found.is_empty() {
        ui.label(widgets::muted(
            ui,
            "No entity found: every token's most probable tag is O.",
        ));
        return;
    }
    egui::Grid::new("playground-entities")
        .num_columns(3)
        .spacing([16.0, 4.0])
        .striped(true)
        .show(ui, |ui| {
            ui.label(RichText::new("type").strong());
            ui.label(RichText::new("text").strong());
            ui.label(RichText::new("score").strong())
                .on_hover_text("The mean probability of the entity's tokens' tags");
            ui.end_row();
            for entity in found {
                legend_chip(ui, &entity.kind, kind_color(kinds, &entity.kind));
                ui.label(&entity.text);
                ui.label(format!("{:.3}", entity.score));
                ui.end_row();
            }
        });
}

/// A small coloured square and a name.
fn legend_chip(ui: &mut egui::Ui, name: &str, color: Color32) {
    ui.horizontal(|ui| {
        ui.spacing_mut().item_spacing.x = 4.0;
        let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
        ui.painter().rect_filled(rect, 2.0, color);
        ui.label(RichText::new(name).strong().color(color));
    });
}

/// The text with a tinted background under each entity and its type after it.
fn highlighted(ui: &egui::Ui, text: &str, found: &[EntityGroup], kinds: &[String]) -> LayoutJob {
    let font = egui::FontId::proportional(17.0);
    let small = egui::FontId::proportional(11.0);
    let plain = TextFormat {
        font_id: font.clone(),
        color: ui.visuals().text_color(),
        ..TextFormat::default()
    };
    let mut job = LayoutJob::default();
    let mut cursor = 0;
    for entity in found {
        // Byte ranges from the tokenizer's offsets; one that is out of order or not on a
        // character boundary is listed below but not highlighted.
        let (Some(before), Some(span)) = (
            text.get(cursor..entity.start),
            text.get(entity.start..entity.end),
        ) else {
            continue;
        };
        let color = kind_color(kinds, &entity.kind);
        job.append(before, 0.0, plain.clone());
        job.append(
            span,
            0.0,
            TextFormat {
                background: color.gamma_multiply(0.35),
                underline: egui::Stroke::new(2.0, color),
                ..plain.clone()
            },
        );
        job.append(
            &entity.kind,
            2.0,
            TextFormat {
                font_id: small.clone(),
                color,
                valign: egui::Align::TOP,
                ..TextFormat::default()
            },
        );
        cursor = entity.end;
    }
    job.append(text.get(cursor..).unwrap_or_default(), 0.0, plain);
    job
}

/// "Predicted: <answer>", large.
fn headline(ui: &mut egui::Ui, answer: &str) {
    let dark = ui.visuals().dark_mode;
    ui.horizontal_wrapped(|ui| {
        ui.label("Predicted:");
        ui.label(
            RichText::new(answer)
                .strong()
                .size(20.0)
                .color(widgets::accent(dark)),
        );
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn group(kind: &str) -> EntityGroup {
        EntityGroup {
            kind: kind.into(),
            score: 0.9,
            text: String::new(),
            start: 0,
            end: 0,
        }
    }

    #[test]
    fn entity_types_come_from_the_tags_in_label_order() {
        let labels = strings(&["B-LOC", "B-PER", "I-LOC", "O", "I-MISC", "DATE"]);
        assert_eq!(entity_kinds(&labels, &[]), strings(&["LOC", "PER", "MISC"]));
        // A bare `DATE` label's entities are named DATE by the pipeline: listed once found.
        let kinds = entity_kinds(&labels, &[group("PER"), group("DATE")]);
        assert_eq!(kinds, strings(&["LOC", "PER", "MISC", "DATE"]));
        assert_ne!(kind_color(&kinds, "LOC"), kind_color(&kinds, "PER"));
        assert_eq!(kind_color(&kinds, "LOC"), PALETTE[0]);
    }

    #[test]
    fn iobes_prefixes_are_not_types_in_the_legend() {
        let labels = strings(&["O", "B-PER", "I-PER", "E-PER", "S-PER", "S-LOC", "E-LOC"]);
        assert_eq!(
            entity_kinds(&labels, &[group("PER"), group("LOC")]),
            strings(&["PER", "LOC"])
        );
    }

    #[test]
    fn labels_at_the_threshold_are_predicted() {
        let probs = vec![
            ("joy".to_string(), 0.5),
            ("anger".to_string(), 0.49),
            ("boredom".to_string(), 0.9),
        ];
        assert_eq!(predicted_labels(&probs, &[0.5; 3]), vec!["joy", "boredom"]);
        assert_eq!(
            predicted_labels(
                &probs,
                &Thresholds::Tuned(vec![0.6, 0.4, 0.95]).per_label(3)
            ),
            vec!["anger"]
        );
    }

    #[test]
    fn scores_read_well() {
        assert_eq!(format_score(3.45678), "3.4568");
        assert_eq!(format_score(-0.00001), "0.0000");
        assert_eq!(format_score(-2.5), "-2.5000");
    }
}

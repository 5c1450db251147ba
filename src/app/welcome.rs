//! The first-run view: the three steps, and two ways to start — the course recipe through
//! the configured Hub endpoint, or an offline demo that needs no network at all.

use egui::RichText;

use super::widgets;

/// What the user chose.
pub enum Choice {
    None,
    CourseRecipe,
    OfflineDemo,
    Dismiss,
}

pub fn show(ui: &mut egui::Ui, endpoint: &str, offline: bool, demo_busy: bool) -> Choice {
    let mut choice = Choice::None;
    let dark = ui.visuals().dark_mode;
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.add_space(24.0);
        ui.vertical_centered(|ui| {
            ui.label(RichText::new("Welcome to Wick").size(28.0).strong().color(widgets::accent(dark)));
            ui.label(widgets::muted(
                ui,
                "Fine-tune a pre-trained Hugging Face model for text classification on this machine.",
            ));
        });
        ui.add_space(20.0);
        ui.columns(3, |columns| {
            step(&mut columns[0], "1", "Pick data", "Search the Hub (or your mirror) for a dataset, or open a local csv, tsv, jsonl or parquet file. The Data panel shows what the tokenizer and the collator make of it.");
            step(&mut columns[1], "2", "Pick a model", "Any BERT, DistilBERT or RoBERTa checkpoint with safetensors weights. Wick adds a classification head sized to your labels.");
            step(&mut columns[2], "3", "Train", "Fill in the hyperparameters (TrainingArguments' names and defaults), run a preflight, press Start, and watch the charts live.");
        });
        ui.add_space(24.0);
        ui.columns(2, |columns| {
            let ui = &mut columns[0];
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.label(RichText::new("Course recipe").strong().size(16.0));
                ui.label(
                    "GLUE/MRPC (sentence pairs: paraphrase or not) with a small pre-trained BERT, \
                     preset to the Hugging Face course's chapter 3 hyperparameters. Downloads about 100 MB \
                     from:",
                );
                ui.label(RichText::new(endpoint).monospace());
                if offline {
                    ui.label(widgets::muted(ui, "Offline mode is on: only cached files can be used."));
                }
                if ui.button("Set up the course recipe").clicked() {
                    choice = Choice::CourseRecipe;
                }
            });
            let ui = &mut columns[1];
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.label(RichText::new("Offline demo").strong().size(16.0));
                ui.label(
                    "Trains in seconds with no network: synthetic review sentences and a tiny BERT \
                     initialised at random from a fixed seed (not pretrained, it only learns the \
                     demo data). Try the charts, the batch inspector and the playground.",
                );
                ui.add_enabled_ui(!demo_busy, |ui| {
                    if ui.button("Start the offline demo").clicked() {
                        choice = Choice::OfflineDemo;
                    }
                });
                if demo_busy {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("preparing the demo…");
                    });
                }
            });
        });
        ui.add_space(16.0);
        ui.vertical_centered(|ui| {
            if ui.button("Skip: go to the Hub").clicked() {
                choice = Choice::Dismiss;
            }
        });
    });
    choice
}

fn step(ui: &mut egui::Ui, number: &str, title: &str, text: &str) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.set_min_height(110.0);
        ui.label(
            RichText::new(format!("{number}. {title}"))
                .strong()
                .size(16.0),
        );
        ui.label(text);
    });
}

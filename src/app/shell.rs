//! The window's frame around the panels: the top bar, the navigation and the status bar.

use super::{Tab, WickApp, short_name, toasts, widgets};

impl WickApp {
    pub(super) fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label(
                egui::RichText::new("Wick")
                    .strong()
                    .size(18.0)
                    .color(widgets::accent(ui.visuals().dark_mode)),
            );
            ui.label(widgets::muted(
                ui,
                "fine-tune Hugging Face models on this machine",
            ));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui
                    .button("⚙ Settings")
                    .on_hover_text("Hub endpoint, token, caches, offline mode, device, theme")
                    .clicked()
                {
                    self.settings_window.open = true;
                }
                let recipe = &self.state.recipe;
                if !recipe.model.is_empty() || !recipe.dataset.is_empty() {
                    ui.label(widgets::muted(
                        ui,
                        format!(
                            "recipe: {} on {}{}",
                            short_name(&recipe.model),
                            short_name(&recipe.dataset),
                            recipe
                                .dataset_config
                                .as_deref()
                                .map(|c| format!(" ({c})"))
                                .unwrap_or_default()
                        ),
                    ));
                }
                if self.hub.offline {
                    ui.label(
                        egui::RichText::new("offline")
                            .color(toasts::Level::Warning.color(ui.visuals().dark_mode)),
                    )
                    .on_hover_text("Only cached Hub files are used (Settings → Offline)");
                }
            });
        });
    }

    pub(super) fn navigation(&mut self, ui: &mut egui::Ui) {
        ui.add_space(6.0);
        for tab in Tab::ALL {
            let selected = self.state.tab == tab;
            let text = egui::RichText::new(tab.nav_label()).size(15.0);
            let response = ui
                .add_sized(
                    [ui.available_width(), 30.0],
                    egui::Button::selectable(selected, text),
                )
                .on_hover_text(tab.help());
            if response.clicked() {
                self.state.tab = tab;
                self.state.welcome_dismissed = true;
            }
            if tab == Tab::Monitor
                && let Some(fraction) = self.state.monitor.progress_fraction()
            {
                ui.add(egui::ProgressBar::new(fraction).desired_height(3.0));
            }
        }
    }

    pub(super) fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            self.state.monitor.status_line(ui);
            ui.separator();
            ui.label(format!("device: {}", self.state.recipe.device))
                .on_hover_text("The device new runs use (Train → Device)");
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let running: Vec<_> = self.jobs.running().collect();
                if let Some(job) = running.first() {
                    if running.len() > 1 {
                        ui.label(widgets::muted(ui, format!("+{} more", running.len() - 1)));
                    }
                    let text = if job.detail.is_empty() {
                        job.label.clone()
                    } else {
                        format!("{}: {}", job.label, job.detail)
                    };
                    match job.fraction() {
                        Some(fraction) => {
                            ui.add(
                                egui::ProgressBar::new(fraction)
                                    .desired_width(160.0)
                                    .show_percentage(),
                            );
                        }
                        None => {
                            ui.spinner();
                        }
                    }
                    ui.label(text);
                } else if let Some(activity) = self.state.monitor.activity() {
                    ui.label(activity);
                } else {
                    ui.label(widgets::muted(ui, "idle"));
                }
            });
        });
    }
}

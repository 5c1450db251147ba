//! The Runs panel.

use serde::{Deserialize, Serialize};

use crate::app::Cx;

#[derive(Debug)]
pub enum Msg {}

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunsPanel {}

impl RunsPanel {
    pub fn ui(&mut self, ui: &mut egui::Ui, _cx: &mut Cx) {
        ui.heading("Runs");
    }

    /// The runs folder changed: list it again.
    pub fn refresh(&mut self, _cx: &mut Cx) {}

    pub fn on_msg(&mut self, msg: Msg, _cx: &mut Cx) {
        match msg {}
    }
}

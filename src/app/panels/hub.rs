//! The Hub panel.

use serde::{Deserialize, Serialize};

use crate::app::Cx;

#[derive(Debug)]
pub enum Msg {}

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HubPanel {}

impl HubPanel {
    pub fn ui(&mut self, ui: &mut egui::Ui, _cx: &mut Cx) {
        ui.heading("Hub");
    }

    pub fn on_msg(&mut self, msg: Msg, _cx: &mut Cx) {
        match msg {}
    }
}

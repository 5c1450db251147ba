//! One file (or folder) per panel. Each panel is a struct whose fields persist between
//! launches, with its runtime part in one `#[serde(skip)]` struct; `ui` draws it and `poll`
//! takes the results of the tasks it owns, every frame.

pub mod data;
pub mod hub;
pub mod lora_note;
pub mod monitor;
pub mod playground;
pub mod runs;
pub mod train;

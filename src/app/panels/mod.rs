//! One file per panel. Each panel is a struct whose fields persist between launches
//! (runtime parts are `#[serde(skip)]`), with `ui` to draw it and `on_msg` for the results
//! of its background jobs.

pub mod data;
pub mod hub;
pub mod monitor;
pub mod playground;
pub mod runs;
pub mod train;

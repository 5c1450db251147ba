//! The fault suite (issue 17): hostile inputs, cut connections, kills and
//! concurrent runs, one module per area. Each case is its own `#[test]`.

#[path = "../support/mod.rs"]
mod support;

mod hub;

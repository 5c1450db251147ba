//! The fault suite: what a hostile tester tried against Wick, kept as tests so it stays true.
//! One binary, a module per area; each module's header lists its cases. ARCHITECTURE.md
//! ("Promises") names the promise each case holds.

#[path = "../support/mod.rs"]
mod support;

mod data;
mod hub;
mod runs;

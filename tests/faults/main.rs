//! The fault suite (issue 17): every way Wick was broken on purpose, kept as tests so that
//! it stays true. One module per part; each module lists its cases at the top.

#[path = "../support/mod.rs"]
mod support;

mod data;

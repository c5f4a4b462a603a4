//! The front ends: the full-screen wizard ([`tui`]) and line-by-line prompts ([`plain`]),
//! over the same questions ([`fields`]). They collect answers and show progress; the core
//! plans and applies.

pub mod fields;
pub mod plain;
pub mod tui;

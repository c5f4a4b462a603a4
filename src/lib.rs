//! clawguard: harden a host for a self-hosted AI agent.
//!
//! A pure core turns answers ([`answers`]) and host facts ([`host`]) into a [`plan::Plan`]
//! through one module per layer ([`layers`]), rendering every file with one template engine
//! ([`render`]). [`validate`] runs the services' own checkers on a rendered plan.

pub mod answers;
pub mod apply;
pub mod backup;
pub mod check;
pub mod cli;
pub mod commands;
pub mod egress;
pub mod envfile;
pub mod export;
pub mod host;
pub mod incident;
pub mod layers;
pub mod plan;
pub mod registry;
pub mod render;
pub mod report;
pub mod services;
pub mod session;
pub mod sink;
pub mod target;
pub mod ui;
pub mod uninstall;
pub mod validate;
pub mod vault;

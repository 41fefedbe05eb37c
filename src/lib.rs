//! zonestat: reads the development zones' statistics forms, checks them,
//! consolidates them and assesses the plan's targets.
//!
//! Data flows one way: [`read`] → [`validate`] → [`folder`] (a period's files
//! accounted for) → aggregate → assess → report.

pub mod aggregate;
pub mod archive;
pub mod assess;
pub mod catalog;
pub mod check;
pub mod consolidate;
pub mod crossperiod;
pub mod error;
pub mod feedback;
pub mod folder;
pub mod history;
pub mod intake;
pub mod mail;
pub mod model;
pub mod output;
pub mod read;
pub mod report;
pub mod routine;
pub mod score;
pub mod serve;
pub mod settings;
pub mod status;
pub mod template;
pub mod text;
pub mod validate;

//! zonestat: reads the development zones' statistics forms, checks them,
//! consolidates them and assesses the plan's targets.
//!
//! [`cli`] turns the flags and `zonestat.toml` into one checked
//! configuration; [`cmd`] holds one module a command. The pipeline
//! ([`consolidate`]) runs one way: [`read`] (workbooks, in worker processes)
//! → [`validate`] → [`folder`] (a period's files accounted for) →
//! [`history`] (the other periods, loaded once) → [`crossperiod`] →
//! [`aggregate`] → [`assess`] → [`score`] → [`report`] and [`summary`].
//! [`archive`] and [`intake`] file what comes in; [`serve`] is the portal.

pub mod aggregate;
pub mod archive;
pub mod assess;
pub mod catalog;
pub mod check;
pub mod cli;
pub mod cmd;
pub mod consolidate;
pub mod crossperiod;
pub mod error;
pub mod feedback;
pub mod folder;
mod help;
pub mod history;
pub mod intake;
pub mod mail;
pub mod model;
pub mod output;
pub mod read;
pub mod report;
pub mod score;
pub mod serve;
pub mod settings;
pub mod status;
pub mod summary;
pub mod template;
pub mod text;
pub mod validate;

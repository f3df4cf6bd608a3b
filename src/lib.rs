//! kubegate: a merge-request gate for GitOps repositories.
//!
//! The pipeline, one module a stage, data flowing one way:
//! [`discover`] → [`read`] → [`parse`] → [`render`] → [`schema`] → [`policy`] and
//! [`admission`] → [`report`], run by [`pipeline`] (per file and per rendered object
//! through [`check`]), with [`git`], [`mr`] and [`changes`] beside it and [`cli`] and
//! [`config`] on top.
//! Every stage produces [`finding::Finding`]s; renderers only render them. Every file of
//! the repository is read through [`read`] (regular files only, bounded, never blocking);
//! [`parse`] reads YAML as the tool that deploys it does ([`parse::Reader`]).

pub mod admission;
pub mod canonical;
pub mod changes;
pub mod check;
pub mod cli;
pub mod config;
pub mod discover;
pub mod fetch;
pub mod finding;
pub mod git;
#[cfg(feature = "heap-profile")]
pub mod heap;
pub mod memory;
pub mod mr;
pub mod parse;
pub mod pipeline;
pub mod policy;
pub mod read;
pub mod render;
pub mod report;
pub mod rule;
pub mod rules;
pub mod schema;
pub mod source;
pub mod suppress;
pub mod timings;
pub mod tree;

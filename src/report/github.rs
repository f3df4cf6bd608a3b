//! The `github` format. (Being written; see issue 4.)

use std::io::{self, Write};

use super::Context;

pub fn render(_cx: &Context<'_>, _out: &mut dyn Write) -> io::Result<()> {
    Err(io::Error::other("the github format is not written yet"))
}

/// Appends the Markdown job summary to `path` (`$GITHUB_STEP_SUMMARY`).
pub fn write_summary(_cx: &Context<'_>, _path: &std::path::Path) -> io::Result<()> {
    Err(io::Error::other("the job summary is not written yet"))
}

//! The `sarif` format. (Being written; see issue 4.)

use std::io::{self, Write};

use super::Context;

pub fn render(_cx: &Context<'_>, _out: &mut dyn Write) -> io::Result<()> {
    Err(io::Error::other("the sarif format is not written yet"))
}

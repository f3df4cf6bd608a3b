//! The one way kubegate opens and reads a file of the repository it checks.
//!
//! A merge request controls what its files are: a symbolic link to `/dev/zero` named
//! `x.yaml` reports a length of 0 and never ends, a FIFO blocks whoever opens it. So every
//! read here:
//!
//! - refuses anything that is not a regular file, by its type before opening it and again
//!   by `fstat` of the opened handle (the path may be swapped in between);
//! - opens with `O_NONBLOCK` (and `O_NOCTTY`) on Unix, so that opening never blocks;
//! - is bounded by the bytes actually read (`take(max + 1)`), never by the length the file
//!   claims alone (which only refuses, early, what is already too large).
//!
//! [`open`] hands out the checked handle for callers that stream (hashing); [`read`],
//! [`read_no_follow`] and [`read_text`] read the whole file. Configuration, policies, data
//! and the files policies read go through here too: locally, or with
//! `--policies-from-head`, they are the merge request's files as well.

use std::fs::{File, FileType};
use std::io::Read;
use std::path::Path;

/// Why a file was not read.
#[derive(Debug)]
pub enum Error {
    /// Larger than the limit: `size` is its length when known before reading.
    TooLarge {
        size: Option<u64>,
        max: u64,
    },
    /// Not a regular file: what it is (`a FIFO (named pipe)`, `a directory`, ...).
    NotRegular(&'static str),
    /// A symbolic link where none is followed.
    Symlink,
    Io(std::io::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::TooLarge {
                size: Some(size),
                max,
            } => write!(f, "file is {size} bytes, over the {max} byte limit"),
            Error::TooLarge { size: None, max } => {
                write!(f, "file is over the {max} byte limit")
            }
            Error::NotRegular(what) => write!(f, "{what}, not a regular file"),
            Error::Symlink => write!(f, "a symbolic link, not followed here"),
            Error::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// What a file of this type is, in words; `None` for a regular file.
pub fn special_kind(t: &FileType) -> Option<&'static str> {
    if t.is_file() {
        return None;
    }
    if t.is_dir() {
        return Some("a directory");
    }
    if t.is_symlink() {
        return Some("a symbolic link");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if t.is_socket() {
            return Some("a socket");
        }
        if t.is_char_device() {
            return Some("a character device");
        }
        if t.is_block_device() {
            return Some("a block device");
        }
    }
    Some("a special file")
}

/// Opens `path` for reading if it is a regular file (following symbolic links when `follow`),
/// without ever blocking; returns the handle and its length at opening.
pub fn open(path: &Path, follow: bool) -> Result<(File, u64), Error> {
    // By type first: a device is never even opened (opening some has side effects).
    let meta = if follow {
        std::fs::metadata(path)?
    } else {
        std::fs::symlink_metadata(path)?
    };
    if meta.file_type().is_symlink() {
        return Err(Error::Symlink);
    }
    if let Some(what) = special_kind(&meta.file_type()) {
        return Err(Error::NotRegular(what));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
        if !follow {
            flags |= libc::O_NOFOLLOW;
        }
        options.custom_flags(flags);
    }
    let file = match options.open(path) {
        Ok(f) => f,
        // O_NOFOLLOW on a link swapped in since the check above.
        #[cfg(unix)]
        Err(e) if !follow && e.raw_os_error() == Some(libc::ELOOP) => return Err(Error::Symlink),
        Err(e) => return Err(e.into()),
    };
    // Again on the handle: the path may name something else by now.
    let meta = file.metadata()?;
    if let Some(what) = special_kind(&meta.file_type()) {
        return Err(Error::NotRegular(what));
    }
    Ok((file, meta.len()))
}

/// Reads the regular file at `path` (symbolic links followed), at most `max` bytes.
pub fn read(path: &Path, max: u64) -> Result<Vec<u8>, Error> {
    read_with(path, max, true)
}

/// As [`read`], but a symbolic link is refused ([`Error::Symlink`]), not followed.
pub fn read_no_follow(path: &Path, max: u64) -> Result<Vec<u8>, Error> {
    read_with(path, max, false)
}

/// [`read`] of a text file (configuration, policies, data): invalid UTF-8 is an error.
pub fn read_text(path: &Path, max: u64) -> Result<String, Error> {
    String::from_utf8(read(path, max)?).map_err(|_| {
        Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not valid UTF-8",
        ))
    })
}

fn read_with(path: &Path, max: u64, follow: bool) -> Result<Vec<u8>, Error> {
    let (file, len) = open(path, follow)?;
    if len > max {
        return Err(Error::TooLarge {
            size: Some(len),
            max,
        });
    }
    // The length is a hint for the buffer, never the bound: the file may grow.
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0).saturating_add(1));
    file.take(max.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(Error::TooLarge { size: None, max });
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.yaml");
        std::fs::write(&p, b"12345").unwrap();
        assert_eq!(read(&p, 5).unwrap(), b"12345");
        assert!(matches!(
            read(&p, 4),
            Err(Error::TooLarge {
                size: Some(5),
                max: 4
            })
        ));
        assert!(matches!(
            read(dir.path(), 10),
            Err(Error::NotRegular("a directory"))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_links_are_refused_without_reading() {
        let dir = tempfile::tempdir().unwrap();
        let zero = dir.path().join("zero.yaml");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(matches!(
            read(&zero, 1 << 20),
            Err(Error::NotRegular("a character device"))
        ));
        assert!(matches!(
            read_no_follow(&zero, 1 << 20),
            Err(Error::Symlink)
        ));
        let real = dir.path().join("real.yaml");
        std::fs::write(&real, b"x").unwrap();
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(read(&link, 10).unwrap(), b"x");
        assert!(matches!(read_no_follow(&link, 10), Err(Error::Symlink)));
    }
}

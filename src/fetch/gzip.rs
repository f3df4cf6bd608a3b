//! Reading gzip, with zlib-rs: one function for every place that reads it, which is why it
//! stands alone and uses nothing but `zlib_rs`. The binary reads fetched charts (`.tgz`)
//! with it; `build.rs` (the embedded CRD catalog) and xtask (the catalogs it generates and
//! checks) include this file with `#[path]`, as neither can use the crate's own modules.

/// The bytes a gzip stream decompresses to, at most `max`.
pub fn gunzip(data: &[u8], max: u64) -> Result<Vec<u8>, String> {
    if data.len() < 18 || data[..2] != [0x1f, 0x8b] {
        return Err("not a gzip file".into());
    }
    // The trailer's size is a hint (modulo 4 GiB, and the sender's word): the buffer grows
    // from it, never beyond `max`.
    let tail: [u8; 4] = data[data.len() - 4..]
        .try_into()
        .map_err(|_| "truncated gzip file".to_owned())?;
    let hint = u64::from(u32::from_le_bytes(tail));
    let mut size = hint.clamp(1, max.max(1));
    loop {
        let mut out = vec![0u8; usize::try_from(size).map_err(|_| "too large".to_owned())?];
        let config = zlib_rs::InflateConfig { window_bits: 31 };
        let (written, rc) = zlib_rs::decompress_slice(&mut out, data, config);
        match rc {
            zlib_rs::ReturnCode::Ok => {
                let n = written.len();
                out.truncate(n);
                return Ok(out);
            }
            zlib_rs::ReturnCode::BufError if size < max => {
                size = (size * 2).min(max);
            }
            zlib_rs::ReturnCode::BufError => {
                return Err(format!("decompresses to more than {max} bytes"));
            }
            rc => return Err(format!("gzip decoding failed: {rc:?}")),
        }
    }
}

//! The frames that carry a game's WADs to a joiner who lacks them (see the module docs' table):
//! the hub's list of the game's files, a client's request for a byte range of one, and the
//! bytes. Owns their bodies' layouts and limits; when to send them is the session's business.
//!
//! A file is named by its SHA-256 (what the joiner checks the bytes against) and carries a
//! display name that is also the name it is stored and loaded under: a plain file name (no path
//! separator, no leading dot, no control character), so a hostile hub cannot aim a joiner's
//! write anywhere but its own cache.

use super::{check_len, FrameError, Reader, WadHash, Writer, MAX_PWADS};

/// A file name in a [`WadEntry`], in bytes.
pub const MAX_FILE_NAME_LEN: usize = 64;
/// Files a game can have: its IWAD and its PWADs.
pub const MAX_WAD_ENTRIES: usize = MAX_PWADS + 1;
/// The bytes of one [`FileData`] frame: with its header it stays under the control frame cap.
pub const MAX_FILE_CHUNK: usize = 12 * 1024;
// The largest FileData frame (envelope, hash, offset, bytes) is a legal control frame.
const _: () = assert!(2 + 32 + 8 + MAX_FILE_CHUNK <= super::MAX_CONTROL_FRAME_LEN);
/// The longest range one [`FileRequest`] may ask for: a hub answers a request with at most this
/// much, so what one request makes it send is bounded.
pub const MAX_FILE_REQUEST: u32 = 256 * 1024;

/// One file of a game, as the hub lists it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WadEntry {
    pub hash: WadHash,
    pub size: u64,
    /// The file's name (see the module docs for what a name may be).
    pub name: String,
    /// The game's IWAD (else a PWAD or DEHACKED file, in load order).
    pub iwad: bool,
    /// The hub sends this file to whoever asks (commercial IWADs and files over the host's cap
    /// are listed, so a joiner can say which it needs, but not sent).
    pub offered: bool,
}

/// Client → hub: send `len` bytes of file `hash` from `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileRequest {
    pub hash: WadHash,
    pub offset: u64,
    pub len: u32,
}

/// Hub → client: bytes of file `hash` at `offset` (1 to [`MAX_FILE_CHUNK`] of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileData<'a> {
    pub hash: WadHash,
    pub offset: u64,
    pub data: &'a [u8],
}

const FLAG_IWAD: u8 = 1;
const FLAG_OFFERED: u8 = 2;

/// Whether `name` may name a file in a joiner's cache.
pub fn plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_FILE_NAME_LEN
        && !name.starts_with('.')
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c == ':' || c.is_control())
}

pub(super) fn parse_wads(r: &mut Reader<'_>) -> Result<Vec<WadEntry>, FrameError> {
    let n = r.count("wad entries", MAX_WAD_ENTRIES)?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let hash = r.hash()?;
        let size = r.u64()?;
        let flags = r.u8()?;
        if flags & !(FLAG_IWAD | FLAG_OFFERED) != 0 {
            return Err(FrameError::Invalid("wad entry flags"));
        }
        let len = usize::from(r.u8()?);
        let name = r.string("file name", len, MAX_FILE_NAME_LEN)?;
        if !plain_file_name(&name) {
            return Err(FrameError::Invalid("file name"));
        }
        v.push(WadEntry {
            hash,
            size,
            name,
            iwad: flags & FLAG_IWAD != 0,
            offered: flags & FLAG_OFFERED != 0,
        });
    }
    if v.iter().filter(|e| e.iwad).count() > 1 {
        return Err(FrameError::Invalid("wad entries: more than one IWAD"));
    }
    Ok(v)
}

pub(super) fn parse_request(r: &mut Reader<'_>) -> Result<FileRequest, FrameError> {
    let req = FileRequest {
        hash: r.hash()?,
        offset: r.u64()?,
        len: r.u32()?,
    };
    check_request(&req)?;
    Ok(req)
}

pub(super) fn parse_data<'a>(r: &mut Reader<'a>) -> Result<FileData<'a>, FrameError> {
    let hash = r.hash()?;
    let offset = r.u64()?;
    let data = r.rest();
    check_data(data.len())?;
    Ok(FileData { hash, offset, data })
}

fn check_request(req: &FileRequest) -> Result<(), FrameError> {
    if req.len == 0 {
        return Err(FrameError::Invalid("file request of 0 bytes"));
    }
    check_len("file request", req.len as usize, MAX_FILE_REQUEST as usize)?;
    if req.offset.checked_add(u64::from(req.len)).is_none() {
        return Err(FrameError::Invalid("file request range"));
    }
    Ok(())
}

fn check_data(len: usize) -> Result<(), FrameError> {
    if len == 0 {
        return Err(FrameError::Invalid("file data of 0 bytes"));
    }
    check_len("file data", len, MAX_FILE_CHUNK)
}

pub(super) fn validate_wads(entries: &[WadEntry]) -> Result<(), FrameError> {
    check_len("wad entries", entries.len(), MAX_WAD_ENTRIES)?;
    if entries.iter().any(|e| !plain_file_name(&e.name)) {
        return Err(FrameError::Invalid("file name"));
    }
    if entries.iter().filter(|e| e.iwad).count() > 1 {
        return Err(FrameError::Invalid("wad entries: more than one IWAD"));
    }
    Ok(())
}

pub(super) fn validate_request(req: &FileRequest) -> Result<(), FrameError> {
    check_request(req)
}

pub(super) fn validate_data(d: &FileData<'_>) -> Result<(), FrameError> {
    check_data(d.data.len())
}

pub(super) fn wads_len(entries: &[WadEntry]) -> usize {
    1 + entries
        .iter()
        .map(|e| 32 + 8 + 1 + 1 + e.name.len())
        .sum::<usize>()
}

pub(super) const REQUEST_LEN: usize = 32 + 8 + 4;

pub(super) fn data_len(d: &FileData<'_>) -> usize {
    32 + 8 + d.data.len()
}

pub(super) fn emit_wads(w: &mut Writer<'_>, entries: &[WadEntry]) -> Result<(), FrameError> {
    w.put(&[entries.len() as u8])?;
    for e in entries {
        w.put(&e.hash)?;
        w.put(&e.size.to_be_bytes())?;
        let flags = if e.iwad { FLAG_IWAD } else { 0 } | if e.offered { FLAG_OFFERED } else { 0 };
        w.put(&[flags])?;
        w.str8(&e.name)?;
    }
    Ok(())
}

pub(super) fn emit_request(w: &mut Writer<'_>, req: &FileRequest) -> Result<(), FrameError> {
    w.put(&req.hash)?;
    w.put(&req.offset.to_be_bytes())?;
    w.put(&req.len.to_be_bytes())
}

pub(super) fn emit_data(w: &mut Writer<'_>, d: &FileData<'_>) -> Result<(), FrameError> {
    w.put(&d.hash)?;
    w.put(&d.offset.to_be_bytes())?;
    w.put(d.data)
}

//! A process's own state (kept in its wasmtime `Store` by the runner): argv, environment, namespace, the one fd
//! table (stdio, files, directories, devices and sockets side by side), and the flags the kernel
//! uses to stop it.

use crate::host::{Device, OutputSink};
use crate::net::SocketId;
use crate::vfs::{Node, Vfs};
use crate::{Errno, Pid, Shared};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Why a syscall did not return normally: an errno for the guest, or the end of the process.
#[derive(Debug)]
pub enum SysError {
    Errno(Errno),
    /// `proc_exit` (or `proc_raise`): the guest ends with this status.
    Exit(i32),
    /// The host stopped the process.
    Killed,
}

impl From<Errno> for SysError {
    fn from(e: Errno) -> Self {
        SysError::Errno(e)
    }
}

pub type SysResult<T> = Result<T, SysError>;

/// One open file description.
pub enum FdEntry {
    Stdin,
    Stdout,
    Stderr,
    /// The root preopen, `/`.
    Root,
    File {
        file: std::fs::File,
        writable: bool,
        append: bool,
    },
    Dir {
        comps: Vec<String>,
        node: Node,
    },
    Device(Arc<dyn Device>),
    Socket(SocketId),
    /// A file held in memory ([`crate::vfs::Mount::Bytes`]), read-only, and the offset reads
    /// start at.
    Bytes {
        data: Arc<[u8]>,
        pos: u64,
    },
    /// A file of a tree held in memory ([`crate::vfs::Mount::MemoryDir`]).
    MemFile {
        file: crate::memfs::MemFile,
        pos: u64,
        writable: bool,
        append: bool,
    },
}

/// The fd table: the lowest free number is reused, as POSIX does.
#[derive(Default)]
pub struct FdTable {
    entries: Vec<Option<FdEntry>>,
}

/// The most fds a process may hold open.
pub const MAX_FDS: usize = 1024;

impl FdTable {
    pub fn with_stdio() -> Self {
        FdTable {
            entries: vec![
                Some(FdEntry::Stdin),
                Some(FdEntry::Stdout),
                Some(FdEntry::Stderr),
                Some(FdEntry::Root),
            ],
        }
    }

    pub fn insert(&mut self, entry: FdEntry) -> Result<u32, Errno> {
        if let Some(i) = self.entries.iter().position(|e| e.is_none()) {
            self.entries[i] = Some(entry);
            return Ok(i as u32);
        }
        if self.entries.len() >= MAX_FDS {
            return Err(Errno::MFile);
        }
        self.entries.push(Some(entry));
        Ok(self.entries.len() as u32 - 1)
    }

    pub fn get(&self, fd: u32) -> Result<&FdEntry, Errno> {
        self.entries
            .get(fd as usize)
            .and_then(|e| e.as_ref())
            .ok_or(Errno::BadF)
    }

    pub fn get_mut(&mut self, fd: u32) -> Result<&mut FdEntry, Errno> {
        self.entries
            .get_mut(fd as usize)
            .and_then(|e| e.as_mut())
            .ok_or(Errno::BadF)
    }

    pub fn remove(&mut self, fd: u32) -> Result<FdEntry, Errno> {
        self.entries
            .get_mut(fd as usize)
            .and_then(|e| e.take())
            .ok_or(Errno::BadF)
    }

    /// Moves `from` onto `to` (closing what `to` held); returns what was displaced.
    pub fn renumber(&mut self, from: u32, to: u32) -> Result<Option<FdEntry>, Errno> {
        self.get(from)?;
        if to as usize >= MAX_FDS {
            return Err(Errno::BadF);
        }
        let entry = self.remove(from)?;
        if self.entries.len() <= to as usize {
            self.entries.resize_with(to as usize + 1, || None);
        }
        Ok(self.entries[to as usize].replace(entry))
    }

    /// Every socket still open, for cleanup at exit.
    pub fn sockets(&self) -> impl Iterator<Item = SocketId> + '_ {
        self.entries.iter().filter_map(|e| match e {
            Some(FdEntry::Socket(id)) => Some(*id),
            _ => None,
        })
    }
}

/// The state a process's syscalls work on.
pub struct ProcCtx {
    pub pid: Pid,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub vfs: Vfs,
    pub fds: FdTable,
    pub stdout: Arc<dyn OutputSink>,
    pub stderr: Arc<dyn OutputSink>,
    pub killed: Arc<AtomicBool>,
    pub shared: Arc<Shared>,
}

impl ProcCtx {
    pub fn is_killed(&self) -> bool {
        self.killed.load(std::sync::atomic::Ordering::Relaxed)
    }
}

//! WASI errno numbers: the one error currency between guests and the kernel.
//!
//! wasi-libc's `errno` uses WASI's numbering, so every syscall result the kernel hands a guest is
//! one of these. Host-facing APIs (`HostIO`, `inject_datagram`) use the same type so that a relay
//! and a guest agree on what ENETUNREACH or ECONNREFUSED mean.

use thiserror::Error;

/// A WASI errno. The discriminants are the wire values (`wasi_snapshot_preview1` `errno`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
#[repr(u16)]
pub enum Errno {
    #[error("argument list too long (E2BIG)")]
    TooBig = 1,
    #[error("permission denied (EACCES)")]
    Acces = 2,
    #[error("address in use (EADDRINUSE)")]
    AddrInUse = 3,
    #[error("address not available (EADDRNOTAVAIL)")]
    AddrNotAvail = 4,
    #[error("address family not supported (EAFNOSUPPORT)")]
    AfNoSupport = 5,
    #[error("resource temporarily unavailable (EAGAIN)")]
    Again = 6,
    #[error("bad file descriptor (EBADF)")]
    BadF = 8,
    #[error("device or resource busy (EBUSY)")]
    Busy = 10,
    #[error("connection refused (ECONNREFUSED)")]
    ConnRefused = 14,
    #[error("destination address required (EDESTADDRREQ)")]
    DestAddrReq = 17,
    #[error("file exists (EEXIST)")]
    Exist = 20,
    #[error("bad address (EFAULT)")]
    Fault = 21,
    #[error("file too large (EFBIG)")]
    FBig = 22,
    #[error("interrupted (EINTR)")]
    Intr = 27,
    #[error("invalid argument (EINVAL)")]
    Inval = 28,
    #[error("I/O error (EIO)")]
    Io = 29,
    #[error("is a directory (EISDIR)")]
    IsDir = 31,
    #[error("too many levels of symbolic links (ELOOP)")]
    Loop = 32,
    #[error("too many open files (EMFILE)")]
    MFile = 33,
    #[error("message too long (EMSGSIZE)")]
    MsgSize = 35,
    #[error("file name too long (ENAMETOOLONG)")]
    NameTooLong = 37,
    #[error("network unreachable (ENETUNREACH)")]
    NetUnreach = 40,
    #[error("no buffer space (ENOBUFS)")]
    NoBufs = 42,
    #[error("no such device (ENODEV)")]
    NoDev = 43,
    #[error("no such file or directory (ENOENT)")]
    NoEnt = 44,
    #[error("out of memory (ENOMEM)")]
    NoMem = 48,
    #[error("protocol option not available (ENOPROTOOPT)")]
    NoProtoOpt = 50,
    #[error("no space left on device (ENOSPC)")]
    NoSpc = 51,
    #[error("function not implemented (ENOSYS)")]
    NoSys = 52,
    #[error("socket not connected (ENOTCONN)")]
    NotConn = 53,
    #[error("not a directory (ENOTDIR)")]
    NotDir = 54,
    #[error("directory not empty (ENOTEMPTY)")]
    NotEmpty = 55,
    #[error("not a socket (ENOTSOCK)")]
    NotSock = 57,
    #[error("not supported (ENOTSUP)")]
    NotSup = 58,
    #[error("operation not permitted (EPERM)")]
    Perm = 63,
    #[error("protocol not supported (EPROTONOSUPPORT)")]
    ProtoNoSupport = 66,
    #[error("read-only file system (EROFS)")]
    RoFs = 69,
    #[error("illegal seek (ESPIPE)")]
    SPipe = 70,
    #[error("no such process (ESRCH)")]
    Srch = 71,
    #[error("cross-device link (EXDEV)")]
    XDev = 75,
    #[error("capabilities insufficient (ENOTCAPABLE)")]
    NotCapable = 76,
}

impl Errno {
    /// The errno as the guest sees it.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// Maps a host I/O error onto the closest errno.
    pub fn from_io(err: &std::io::Error) -> Errno {
        use std::io::ErrorKind as K;
        match err.kind() {
            K::NotFound => Errno::NoEnt,
            K::PermissionDenied => Errno::Acces,
            K::AlreadyExists => Errno::Exist,
            K::InvalidInput => Errno::Inval,
            K::WouldBlock => Errno::Again,
            K::Interrupted => Errno::Intr,
            K::OutOfMemory => Errno::NoMem,
            K::NotADirectory => Errno::NotDir,
            K::IsADirectory => Errno::IsDir,
            K::DirectoryNotEmpty => Errno::NotEmpty,
            K::ReadOnlyFilesystem => Errno::RoFs,
            K::StorageFull => Errno::NoSpc,
            K::FileTooLarge => Errno::FBig,
            K::InvalidFilename => Errno::NameTooLong,
            K::Unsupported => Errno::NotSup,
            K::ResourceBusy => Errno::Busy,
            _ => Errno::Io,
        }
    }
}

impl From<std::io::Error> for Errno {
    fn from(err: std::io::Error) -> Errno {
        Errno::from_io(&err)
    }
}

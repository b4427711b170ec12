//! What the kernel asks of its host: a datagram relay (`HostIO`), device nodes (`Device`) and
//! sinks for a guest's stdout/stderr (`OutputSink`).
//!
//! The kernel knows nothing of networks beyond `HostIO`: a relay (LAN bridge, WebRTC, an
//! in-memory test network) implements it, and answers with `Kernel::inject_datagram`.

use crate::{Errno, Pid};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

/// The host side of non-loopback UDP.
///
/// Every method has a default so that a host only overrides what it carries. The defaults
/// reproduce a machine with no network: sending fails with ENETUNREACH.
pub trait HostIO: Send + Sync {
    /// A guest sent a datagram to a non-loopback address (including broadcast, once the socket
    /// has SO_BROADCAST). Called without any kernel lock held, so an implementation may call
    /// `Kernel::inject_datagram` from here.
    fn send_dgram(
        &self,
        pid: Pid,
        src_port: u16,
        dst_ip: Ipv4Addr,
        dst_port: u16,
        data: &[u8],
    ) -> Result<(), Errno> {
        let _ = (pid, src_port, dst_ip, dst_port, data);
        Err(Errno::NetUnreach)
    }

    /// A guest socket was bound to `port` (explicitly or by an automatic bind). A LAN bridge opens
    /// a real socket for it here.
    fn on_bind(&self, pid: Pid, port: u16) {
        let _ = (pid, port);
    }

    /// The socket bound to `port` was closed (or its process ended).
    fn on_unbind(&self, pid: Pid, port: u16) {
        let _ = (pid, port);
    }

    /// Real sockets this host receives its guest's datagrams on, which a guest thread about
    /// to block may wait on itself (Linux): when one is readable the kernel calls
    /// [`HostIO::pump`] from that thread. A datagram then wakes one thread, the guest's, instead
    /// of two (a receive thread of the host's, then the guest through the kernel's condition
    /// variable); on a virtual machine each wake-up costs tens of microseconds. A dedicated
    /// room has up to two: its WebRTC socket and its LAN port.
    ///
    /// A host returning any does not read those sockets elsewhere (or only as a slow fallback),
    /// and accepts that little is received while no guest thread waits (a guest that polls,
    /// like Chocolate Doom's server loop, waits at least every few tens of milliseconds).
    /// Datagrams injected from other threads still wake the waiter. Empty (the default): the
    /// host injects from its own threads.
    #[cfg(unix)]
    fn wait_fds(&self) -> Vec<std::os::fd::RawFd> {
        Vec::new()
    }

    /// Receives, without blocking, what waits on every socket of [`HostIO::wait_fds`],
    /// injecting it with `Kernel::inject_datagram` (no kernel lock is held).
    fn pump(&self) {}

    /// Whether a guest's blocking waits are the host's ([`HostIO::park`]) rather than the
    /// kernel's condition variable; asked once, when the kernel starts. For a host whose guest
    /// runs where that cannot block: a browser's Web Worker.
    fn parks(&self) -> bool {
        false
    }

    /// With [`HostIO::parks`]: blocks the calling guest's thread for up to `nap`, or less once
    /// the host has datagrams for it, which it injects (`Kernel::inject_datagram`; no kernel
    /// lock is held) before it returns; the kernel then looks again at what the guest waits
    /// for. A Web Worker sleeps in `Atomics.wait` until the page that holds the network wakes
    /// it.
    fn park(&self, nap: std::time::Duration) {
        let _ = nap;
    }
}

/// A host with no network at all: every non-loopback send is ENETUNREACH.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoNetwork;
impl HostIO for NoNetwork {}

/// A device node under `/dev`. Calls come from the guest's thread with a slice of guest memory,
/// so a device copies what it keeps; neither call may block for long.
pub trait Device: Send + Sync {
    /// Fill `buf` with what the device has now; `Ok(0)` means nothing now (reads never block).
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let _ = buf;
        Err(Errno::Inval)
    }

    /// Take one record from the guest; returns the bytes accepted.
    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let _ = data;
        Err(Errno::Inval)
    }

    /// Whether a read would return data now (for `poll`).
    fn readable(&self) -> bool {
        true
    }
}

/// Where a guest's stdout or stderr goes.
pub trait OutputSink: Send + Sync {
    fn write(&self, data: &[u8]);
}

/// The host process's own stdout.
#[derive(Debug, Default, Clone, Copy)]
pub struct HostStdout;
impl OutputSink for HostStdout {
    fn write(&self, data: &[u8]) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(data);
        let _ = out.flush();
    }
}

/// The host process's own stderr.
#[derive(Debug, Default, Clone, Copy)]
pub struct HostStderr;
impl OutputSink for HostStderr {
    fn write(&self, data: &[u8]) {
        use std::io::Write;
        let _ = std::io::stderr().lock().write_all(data);
    }
}

/// Keeps everything written, for tests and for reading a guest's output after it ends.
#[derive(Debug, Default, Clone)]
pub struct CaptureSink(Arc<Mutex<Vec<u8>>>);
impl CaptureSink {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn contents(&self) -> Vec<u8> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.contents()).into_owned()
    }
}
impl OutputSink for CaptureSink {
    fn write(&self, data: &[u8]) {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(data);
        }
    }
}

/// Sends to several sinks (e.g. the terminal and a capture).
pub struct TeeSink(pub Vec<Arc<dyn OutputSink>>);
impl OutputSink for TeeSink {
    fn write(&self, data: &[u8]) {
        for s in &self.0 {
            s.write(data);
        }
    }
}

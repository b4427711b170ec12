//! The way back from a transport into the kernel: [`KernelSink`] delivers a datagram to the
//! guest that owns its destination port (`Kernel::inject_datagram`), and [`send_errno`] is the
//! kernel's answer when the relay session refuses a guest's datagram. Every transport's HostIO
//! (LAN, WebRTC, a dedicated room's, the tests' in-memory relay) uses both.

use doomlink_kernel::{Kernel, Pid};
use doomlink_net::lan::GuestSink;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex, OnceLock};

/// Delivers datagrams from a transport to the guest that owns the destination port.
#[derive(Default)]
pub struct KernelSink {
    kernel: OnceLock<Kernel>,
    owners: Mutex<HashMap<u16, Pid>>,
}

impl KernelSink {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    /// Set once the kernel exists (the kernel needs its HostIO first).
    pub fn attach(&self, kernel: Kernel) {
        let _ = self.kernel.set(kernel);
    }
    pub fn owner_bound(&self, pid: Pid, port: u16) {
        self.owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(port, pid);
    }
    pub fn owner_gone(&self, port: u16) {
        self.owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&port);
    }
    /// Injects into the guest bound on `dst_port`; false if none.
    pub fn inject(&self, dst_port: u16, src_ip: Ipv4Addr, src_port: u16, data: &[u8]) -> bool {
        let Some(kernel) = self.kernel.get() else {
            return false;
        };
        let Some(pid) = self
            .owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&dst_port)
            .copied()
        else {
            return false;
        };
        kernel
            .inject_datagram(pid, dst_port, src_ip, src_port, data)
            .is_ok()
    }
    /// Datagrams the kernel dropped at the 256 cap, over every socket of the guests.
    pub fn queue_drops(&self) -> u64 {
        let Some(kernel) = self.kernel.get() else {
            return 0;
        };
        let pids: Vec<Pid> = self
            .owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .copied()
            .collect();
        let mut seen = std::collections::HashSet::new();
        pids.into_iter()
            .filter(|p| seen.insert(*p))
            .flat_map(|p| kernel.socket_stats(p))
            .map(|s| s.dropped)
            .sum()
    }
}

impl GuestSink for KernelSink {
    fn deliver(&self, dst_port: u16, src: SocketAddrV4, data: &[u8]) {
        self.inject(dst_port, *src.ip(), src.port(), data);
    }
}

/// The kernel's answer to a guest datagram the relay session refused (the session names the
/// WASI errno: EMSGSIZE for a datagram too large, ENETUNREACH for the rest).
pub fn send_errno(e: doomlink_net::SendError) -> doomlink_kernel::Errno {
    match e.wasi_errno() {
        35 => doomlink_kernel::Errno::MsgSize,
        _ => doomlink_kernel::Errno::NetUnreach,
    }
}

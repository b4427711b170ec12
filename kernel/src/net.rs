//! UDP sockets: plain state with explicit queues, shared by every process of one kernel.
//!
//! Ports are kernel-wide, so processes in one kernel talk over 127.0.0.0/8 (the loopback FIFO).
//! Everything else leaves through `HostIO::send_dgram` and comes back through `inject`. The
//! socket layer owns the one lock and the one condition variable that blocked readers (recvfrom,
//! poll) sleep on; every enqueue wakes them. A host that offers its own socket
//! ([`HostIO::wait_fds`]) is waited on directly instead, by one blocked thread at a time
//! ([`FdWait`]); a host that parks its guests ([`HostIO::parks`]: a browser's worker, where a
//! condition variable cannot block) does the waiting itself.

use crate::host::HostIO;
use crate::{Errno, Pid};
use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use web_time::Instant;

/// Datagrams queued per socket at most; the rest are dropped silently (UDP) and counted.
/// Sized to absorb a few seconds of a netgame's bursts while bounding a socket's memory against
/// a remote peer that floods at line rate.
pub const MAX_INJECT_DGRAM_QUEUE_LEN: usize = 256;

/// The largest UDP payload over IPv4.
pub const MAX_DGRAM_PAYLOAD: usize = 65507;

const EPHEMERAL_PORTS: std::ops::RangeInclusive<u16> = 49152..=65535;

/// A kernel-wide socket number (the fd table maps fds onto these).
pub type SocketId = u32;

/// One datagram waiting in a socket's queue, with the address it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub src_ip: Ipv4Addr,
    pub src_port: u16,
    pub data: Vec<u8>,
}

/// A datagram socket: its addresses, options and receive queue.
#[derive(Debug)]
pub struct DgramSocket {
    pub owner: Pid,
    pub local: Option<(Ipv4Addr, u16)>,
    pub peer: Option<(Ipv4Addr, u16)>,
    pub nonblocking: bool,
    pub broadcast: bool,
    pub reuse_addr: bool,
    pub queue: VecDeque<Datagram>,
    /// Datagrams dropped because the queue was full.
    pub dropped: u64,
}

impl DgramSocket {
    fn new(owner: Pid, nonblocking: bool) -> Self {
        DgramSocket {
            owner,
            local: None,
            peer: None,
            nonblocking,
            broadcast: false,
            reuse_addr: false,
            queue: VecDeque::new(),
            dropped: 0,
        }
    }

    /// Queues a datagram unless the queue is full or a connected socket hears from a stranger.
    fn deliver(&mut self, dgram: Datagram) {
        if let Some((peer_ip, peer_port)) = self.peer {
            let from_peer = dgram.src_port == peer_port
                && (dgram.src_ip == peer_ip || (is_loopback(peer_ip) && is_loopback(dgram.src_ip)));
            if !from_peer {
                return;
            }
        }
        if self.queue.len() >= MAX_INJECT_DGRAM_QUEUE_LEN {
            self.dropped += 1;
            return;
        }
        self.queue.push_back(dgram);
    }
}

/// What one socket holds, for the host's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketStats {
    pub port: u16,
    pub queued: usize,
    pub dropped: u64,
}

/// The sockets of one kernel.
#[derive(Debug, Default)]
pub struct SocketTable {
    sockets: HashMap<SocketId, DgramSocket>,
    ports: HashMap<u16, SocketId>,
    next_id: SocketId,
    next_ephemeral: u16,
}

impl SocketTable {
    pub fn get(&self, id: SocketId) -> Result<&DgramSocket, Errno> {
        self.sockets.get(&id).ok_or(Errno::BadF)
    }

    fn get_mut(&mut self, id: SocketId) -> Result<&mut DgramSocket, Errno> {
        self.sockets.get_mut(&id).ok_or(Errno::BadF)
    }

    fn alloc_ephemeral(&mut self) -> Result<u16, Errno> {
        let span = (EPHEMERAL_PORTS.end() - EPHEMERAL_PORTS.start()) as u32 + 1;
        for _ in 0..span {
            if !EPHEMERAL_PORTS.contains(&self.next_ephemeral) {
                self.next_ephemeral = *EPHEMERAL_PORTS.start();
            }
            let port = self.next_ephemeral;
            self.next_ephemeral = self.next_ephemeral.wrapping_add(1);
            if !self.ports.contains_key(&port) {
                return Ok(port);
            }
        }
        Err(Errno::AddrInUse)
    }

    /// Binds `id` to `port` (0 = ephemeral); returns the port.
    fn bind(&mut self, id: SocketId, ip: Ipv4Addr, port: u16) -> Result<u16, Errno> {
        if self.get(id)?.local.is_some() {
            return Err(Errno::Inval);
        }
        let port = if port == 0 {
            self.alloc_ephemeral()?
        } else if self.ports.contains_key(&port) {
            return Err(Errno::AddrInUse);
        } else {
            port
        };
        self.ports.insert(port, id);
        self.get_mut(id)?.local = Some((ip, port));
        Ok(port)
    }

    fn socket_on_port(&self, port: u16) -> Option<(SocketId, &DgramSocket)> {
        let id = *self.ports.get(&port)?;
        self.sockets.get(&id).map(|s| (id, s))
    }
}

/// Is this a loopback address (127.0.0.0/8)?
pub fn is_loopback(ip: Ipv4Addr) -> bool {
    ip.octets()[0] == 127
}

/// The socket layer of one kernel: the table behind its lock, the wake-up for blocked readers,
/// and the host relay.
pub struct SocketLayer {
    table: Mutex<SocketTable>,
    wake: Condvar,
    host: Arc<dyn HostIO>,
    /// [`HostIO::parks`], asked once.
    host_parks: bool,
    /// Made on the first wait on the host's socket (None inside: no eventfd could be made).
    #[cfg(unix)]
    fd_wait: std::sync::OnceLock<Option<FdWait>>,
}

/// A blocked thread waiting in ppoll(2) on the host's socket and an eventfd, so that it wakes
/// for a datagram on that socket (which it then pumps itself) and for any enqueue or kill from
/// another thread (which writes the eventfd).
#[cfg(unix)]
struct FdWait {
    eventfd: std::os::fd::OwnedFd,
    /// A thread is in ppoll: enqueues from elsewhere must write the eventfd.
    parked: std::sync::atomic::AtomicBool,
    /// One thread waits on the host's socket at a time; the others on the condition variable.
    turn: Mutex<()>,
}

#[cfg(unix)]
impl FdWait {
    fn new() -> Option<FdWait> {
        use std::os::fd::FromRawFd;
        // SAFETY: eventfd takes no pointers; a non-negative result is a new fd we own.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        (fd >= 0).then(|| FdWait {
            // SAFETY: fd was just returned by eventfd and is owned by nothing else.
            eventfd: unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) },
            parked: std::sync::atomic::AtomicBool::new(false),
            turn: Mutex::new(()),
        })
    }

    /// Wakes the parked thread, if any.
    fn wake(&self) {
        use std::os::fd::AsRawFd;
        if self.parked.load(std::sync::atomic::Ordering::SeqCst) {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to our eventfd. A full counter (EAGAIN)
            // is already a pending wake.
            unsafe { libc::write(self.eventfd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }

    /// Waits up to `nap` for one of `host_fds` to be readable or the eventfd to be written;
    /// returns whether a host fd is readable (or has an error to collect). The caller set
    /// `parked` while it still held the table's lock, so an enqueue after its last look writes
    /// the eventfd; this clears it.
    fn park(&self, host_fds: &[std::os::fd::RawFd], nap: std::time::Duration) -> bool {
        use std::os::fd::AsRawFd;
        use std::sync::atomic::Ordering;
        let mut fds: Vec<libc::pollfd> = std::iter::once(self.eventfd.as_raw_fd())
            .chain(host_fds.iter().copied())
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let ts = libc::timespec {
            tv_sec: nap.as_secs().min(i32::MAX as u64) as libc::time_t,
            tv_nsec: nap.subsec_nanos() as libc::c_long,
        };
        // SAFETY: fds and ts are live for the call; the length is fds'.
        let n = unsafe {
            libc::ppoll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                &ts,
                std::ptr::null(),
            )
        };
        self.parked.store(false, Ordering::SeqCst);
        if n > 0 && fds[0].revents != 0 {
            let mut count: u64 = 0;
            // SAFETY: reads 8 bytes into a live u64 from our non-blocking eventfd.
            unsafe { libc::read(self.eventfd.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
        }
        n > 0 && fds[1..].iter().any(|f| f.revents != 0)
    }
}

/// How a blocking wait is told to give up (the process was killed).
pub trait Interrupt {
    fn interrupted(&self) -> bool;
}
impl Interrupt for () {
    fn interrupted(&self) -> bool {
        false
    }
}
impl Interrupt for std::sync::atomic::AtomicBool {
    fn interrupted(&self) -> bool {
        self.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl SocketLayer {
    pub fn new(host: Arc<dyn HostIO>) -> Self {
        SocketLayer {
            table: Mutex::new(SocketTable::default()),
            wake: Condvar::new(),
            host_parks: host.parks(),
            host,
            #[cfg(unix)]
            fd_wait: std::sync::OnceLock::new(),
        }
    }

    /// The table, even if a thread panicked while holding it (its state is still consistent:
    /// every mutation is a single insert/remove).
    pub fn lock(&self) -> MutexGuard<'_, SocketTable> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes every blocked reader (after an enqueue, or to let a killed process notice).
    pub fn wake_all(&self) {
        self.wake.notify_all();
        #[cfg(unix)]
        if let Some(Some(w)) = self.fd_wait.get() {
            w.wake();
        }
    }

    /// Sleeps up to `nap` for an enqueue: in the host when it parks guests, on the host's socket
    /// when it offers one and no other thread waits there (pumping it on waking), else on the
    /// condition variable. Takes the
    /// table's guard and gives it back re-locked.
    fn nap<'a>(
        &'a self,
        t: MutexGuard<'a, SocketTable>,
        nap: std::time::Duration,
    ) -> MutexGuard<'a, SocketTable> {
        if self.host_parks {
            // Unlocked: the host injects before it returns.
            drop(t);
            self.host.park(nap);
            return self.lock();
        }
        #[cfg(unix)]
        let fds = self.host.wait_fds();
        #[cfg(unix)]
        if !fds.is_empty() {
            match self.fd_wait.get_or_init(FdWait::new) {
                Some(w) => {
                    if let Ok(_turn) = w.turn.try_lock() {
                        w.parked.store(true, std::sync::atomic::Ordering::SeqCst);
                        drop(t);
                        if w.park(&fds, nap) {
                            self.host.pump();
                        }
                        return self.lock();
                    }
                }
                // No eventfd (out of fds): nobody else reads the host's socket, so read it
                // after short naps on the condition variable instead.
                None => {
                    let (t, _) = self
                        .wake
                        .wait_timeout(t, nap.min(std::time::Duration::from_millis(2)))
                        .unwrap_or_else(|e| e.into_inner());
                    drop(t);
                    self.host.pump();
                    return self.lock();
                }
            }
        }
        self.wake
            .wait_timeout(t, nap)
            .unwrap_or_else(|e| e.into_inner())
            .0
    }

    pub fn open(&self, pid: Pid, nonblocking: bool) -> SocketId {
        let mut t = self.lock();
        let id = t.next_id;
        t.next_id = t.next_id.wrapping_add(1);
        t.sockets.insert(id, DgramSocket::new(pid, nonblocking));
        id
    }

    pub fn bind(&self, pid: Pid, id: SocketId, ip: Ipv4Addr, port: u16) -> Result<u16, Errno> {
        let port = self.lock().bind(id, ip, port)?;
        self.host.on_bind(pid, port);
        Ok(port)
    }

    /// Binds an ephemeral port if the socket has none yet; returns the local port.
    fn ensure_bound(&self, pid: Pid, id: SocketId) -> Result<u16, Errno> {
        let mut t = self.lock();
        if let Some((_, port)) = t.get(id)?.local {
            return Ok(port);
        }
        let port = t.bind(id, Ipv4Addr::UNSPECIFIED, 0)?;
        drop(t);
        self.host.on_bind(pid, port);
        Ok(port)
    }

    pub fn connect(&self, pid: Pid, id: SocketId, ip: Ipv4Addr, port: u16) -> Result<(), Errno> {
        if port == 0 {
            return Err(Errno::Inval);
        }
        self.ensure_bound(pid, id)?;
        self.lock().get_mut(id)?.peer = Some((ip, port));
        Ok(())
    }

    pub fn set_nonblocking(&self, id: SocketId, on: bool) -> Result<(), Errno> {
        self.lock().get_mut(id)?.nonblocking = on;
        Ok(())
    }

    pub fn set_broadcast(&self, id: SocketId, on: bool) -> Result<(), Errno> {
        self.lock().get_mut(id)?.broadcast = on;
        Ok(())
    }

    pub fn set_reuse_addr(&self, id: SocketId, on: bool) -> Result<(), Errno> {
        self.lock().get_mut(id)?.reuse_addr = on;
        Ok(())
    }

    /// sendto: loopback destinations go to the socket bound on that port in this kernel; any
    /// other destination goes to the host relay (broadcast only with SO_BROADCAST).
    pub fn sendto(
        &self,
        pid: Pid,
        id: SocketId,
        data: &[u8],
        dst: Option<(Ipv4Addr, u16)>,
    ) -> Result<usize, Errno> {
        if data.len() > MAX_DGRAM_PAYLOAD {
            return Err(Errno::MsgSize);
        }
        let (dst_ip, dst_port) = match dst {
            Some(d) => d,
            None => self.lock().get(id)?.peer.ok_or(Errno::DestAddrReq)?,
        };
        if dst_port == 0 {
            return Err(Errno::Inval);
        }
        let src_port = self.ensure_bound(pid, id)?;
        if is_loopback(dst_ip) {
            let mut t = self.lock();
            let dst_id = t
                .socket_on_port(dst_port)
                .map(|(i, _)| i)
                .ok_or(Errno::ConnRefused)?;
            let dgram = Datagram {
                src_ip: Ipv4Addr::LOCALHOST,
                src_port,
                data: data.to_vec(),
            };
            t.get_mut(dst_id)?.deliver(dgram);
            drop(t);
            self.wake_all();
            return Ok(data.len());
        }
        let is_broadcast = dst_ip == Ipv4Addr::BROADCAST || dst_ip.octets()[3] == 255;
        if is_broadcast && !self.lock().get(id)?.broadcast {
            return Err(Errno::Acces);
        }
        self.host
            .send_dgram(pid, src_port, dst_ip, dst_port, data)?;
        Ok(data.len())
    }

    /// recvfrom: takes (or peeks) the oldest datagram. Blocks until one arrives unless the socket
    /// is non-blocking or `dontwait`; a blocked call ends with EINTR when `interrupt` says so.
    pub fn recvfrom(
        &self,
        id: SocketId,
        peek: bool,
        dontwait: bool,
        interrupt: &dyn Interrupt,
    ) -> Result<Datagram, Errno> {
        let mut t = self.lock();
        loop {
            let sock = t.get_mut(id)?;
            let next = if peek {
                sock.queue.front().cloned()
            } else {
                sock.queue.pop_front()
            };
            if let Some(d) = next {
                return Ok(d);
            }
            if sock.nonblocking || dontwait {
                return Err(Errno::Again);
            }
            if interrupt.interrupted() {
                return Err(Errno::Intr);
            }
            // The timeout only bounds how long a kill can go unnoticed; enqueues notify.
            t = self.nap(t, std::time::Duration::from_millis(50));
        }
    }

    /// Sleeps until something is enqueued anywhere, `deadline` passes or the wait is interrupted.
    /// Callers re-check their own readiness afterwards.
    pub fn wait_until(&self, deadline: Option<Instant>, max_nap: std::time::Duration) {
        let t = self.lock();
        let nap = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()).min(max_nap),
            None => max_nap,
        };
        if !nap.is_zero() {
            drop(self.nap(t, nap));
        }
    }

    /// Whether a read on `id` would not block.
    pub fn readable(&self, id: SocketId) -> Result<bool, Errno> {
        Ok(!self.lock().get(id)?.queue.is_empty())
    }

    pub fn local_addr(&self, id: SocketId) -> Result<(Ipv4Addr, u16), Errno> {
        Ok(self
            .lock()
            .get(id)?
            .local
            .unwrap_or((Ipv4Addr::UNSPECIFIED, 0)))
    }

    pub fn peer_addr(&self, id: SocketId) -> Result<(Ipv4Addr, u16), Errno> {
        self.lock().get(id)?.peer.ok_or(Errno::NotConn)
    }

    pub fn close(&self, id: SocketId) {
        let mut t = self.lock();
        let Some(sock) = t.sockets.remove(&id) else {
            return;
        };
        let unbound = sock.local.map(|(_, port)| port);
        if let Some(port) = unbound {
            t.ports.remove(&port);
        }
        drop(t);
        if let Some(port) = unbound {
            self.host.on_unbind(sock.owner, port);
        }
    }

    /// Closes every socket a process still holds (it ended).
    pub fn close_all(&self, pid: Pid) {
        let ids: Vec<SocketId> = self
            .lock()
            .sockets
            .iter()
            .filter(|(_, s)| s.owner == pid)
            .map(|(i, _)| *i)
            .collect();
        for id in ids {
            self.close(id);
        }
        self.wake_all();
    }

    /// The host delivers a datagram to the socket of `pid` bound (or connected) on `dst_port`.
    /// ECONNREFUSED if there is none; a full queue drops silently and counts the drop.
    pub fn inject(
        &self,
        pid: Pid,
        dst_port: u16,
        src_ip: Ipv4Addr,
        src_port: u16,
        data: &[u8],
    ) -> Result<(), Errno> {
        if data.len() > MAX_DGRAM_PAYLOAD {
            return Err(Errno::MsgSize);
        }
        let mut t = self.lock();
        let id = match t.socket_on_port(dst_port) {
            Some((id, s)) if s.owner == pid => id,
            _ => return Err(Errno::ConnRefused),
        };
        t.get_mut(id)?.deliver(Datagram {
            src_ip,
            src_port,
            data: data.to_vec(),
        });
        drop(t);
        self.wake_all();
        Ok(())
    }

    /// Queue lengths and drop counts of a process's sockets.
    pub fn stats(&self, pid: Pid) -> Vec<SocketStats> {
        let t = self.lock();
        let mut v: Vec<SocketStats> = t
            .sockets
            .values()
            .filter(|s| s.owner == pid)
            .filter_map(|s| {
                let (_, port) = s.local?;
                Some(SocketStats {
                    port,
                    queued: s.queue.len(),
                    dropped: s.dropped,
                })
            })
            .collect();
        v.sort_by_key(|s| s.port);
        v
    }
}

#[cfg(test)]
mod tests {
    //! The seed's contract (Kandelo's "Kernel UDP host-relay abstraction"), at the socket layer,
    //! against a `MockHostIO` that records what reaches the host.
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    type Sent = (u16, Ipv4Addr, u16, Vec<u8>);

    /// A host that parks its guest's waits (as a browser's worker does): the third park injects
    /// a datagram, as the page's network would, instead of the kernel's condition variable.
    #[test]
    fn a_host_that_parks_the_guest_wakes_it_with_what_it_injects() {
        struct ParkingHost {
            layer: std::sync::OnceLock<std::sync::Weak<SocketLayer>>,
            parks: std::sync::atomic::AtomicU32,
        }
        impl HostIO for ParkingHost {
            fn parks(&self) -> bool {
                true
            }
            fn park(&self, _nap: Duration) {
                if self.parks.fetch_add(1, Ordering::SeqCst) == 2 {
                    let layer = self.layer.get().and_then(|l| l.upgrade()).unwrap();
                    let from = Ipv4Addr::new(10, 0, 0, 2);
                    layer.inject(1, 5000, from, 2342, b"late").unwrap();
                }
            }
        }
        let host = Arc::new(ParkingHost {
            layer: std::sync::OnceLock::new(),
            parks: Default::default(),
        });
        let layer = Arc::new(SocketLayer::new(host.clone()));
        let _ = host.layer.set(Arc::downgrade(&layer));
        let s = layer.open(1, false);
        layer.bind(1, s, Ipv4Addr::UNSPECIFIED, 5000).unwrap();
        // Were the kernel's condition variable waited on instead, nothing would arrive: the
        // interrupt ends the wait then, and the test fails saying so.
        let give_up = Arc::new(AtomicBool::new(false));
        let flag = give_up.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(5));
            flag.store(true, Ordering::Relaxed);
        });
        let got = layer.recvfrom(s, false, false, give_up.as_ref());
        assert_eq!(got.map(|d| d.data), Ok(b"late".to_vec()));
        assert_eq!(host.parks.load(Ordering::SeqCst), 3);
    }

    #[derive(Default)]
    struct MockHostIO {
        sent: Mutex<Vec<Sent>>,
        binds: Mutex<Vec<(Pid, u16, bool)>>,
    }
    impl HostIO for MockHostIO {
        fn send_dgram(
            &self,
            _pid: Pid,
            src_port: u16,
            dst_ip: Ipv4Addr,
            dst_port: u16,
            data: &[u8],
        ) -> Result<(), Errno> {
            self.sent
                .lock()
                .unwrap()
                .push((src_port, dst_ip, dst_port, data.to_vec()));
            Ok(())
        }
        fn on_bind(&self, pid: Pid, port: u16) {
            self.binds.lock().unwrap().push((pid, port, true));
        }
        fn on_unbind(&self, pid: Pid, port: u16) {
            self.binds.lock().unwrap().push((pid, port, false));
        }
    }

    fn layer() -> (Arc<MockHostIO>, SocketLayer) {
        let host = Arc::new(MockHostIO::default());
        (host.clone(), SocketLayer::new(host))
    }

    const PID: Pid = 1;

    fn bound(l: &SocketLayer, port: u16) -> SocketId {
        let s = l.open(PID, true);
        l.bind(PID, s, Ipv4Addr::UNSPECIFIED, port).unwrap();
        s
    }

    #[test]
    fn test_udp_loopback() {
        let (host, l) = layer();
        let a = bound(&l, 5000);
        let b = bound(&l, 5001);
        assert_eq!(
            l.sendto(PID, a, b"ping", Some((Ipv4Addr::LOCALHOST, 5001))),
            Ok(4)
        );
        let d = l.recvfrom(b, false, false, &()).unwrap();
        assert_eq!(
            d,
            Datagram {
                src_ip: Ipv4Addr::LOCALHOST,
                src_port: 5000,
                data: b"ping".to_vec()
            }
        );
        assert!(
            host.sent.lock().unwrap().is_empty(),
            "loopback must not reach the relay"
        );
        assert_eq!(l.recvfrom(b, false, false, &()), Err(Errno::Again));
    }

    #[test]
    fn test_udp_non_loopback_routes_to_host() {
        let (host, l) = layer();
        let a = bound(&l, 2342);
        let dst = Ipv4Addr::new(10, 0, 0, 1);
        assert_eq!(l.sendto(PID, a, b"hello", Some((dst, 1234))), Ok(5));
        assert_eq!(
            *host.sent.lock().unwrap(),
            vec![(2342, dst, 1234, b"hello".to_vec())]
        );
    }

    #[test]
    fn test_default_host_is_enetunreach() {
        let l = SocketLayer::new(Arc::new(crate::host::NoNetwork));
        let a = l.open(PID, true);
        assert_eq!(
            l.sendto(PID, a, b"x", Some((Ipv4Addr::new(10, 0, 0, 1), 1234))),
            Err(Errno::NetUnreach)
        );
    }

    #[test]
    fn test_broadcast_needs_so_broadcast() {
        let (host, l) = layer();
        let a = bound(&l, 2342);
        assert_eq!(
            l.sendto(PID, a, b"q", Some((Ipv4Addr::BROADCAST, 2342))),
            Err(Errno::Acces)
        );
        l.set_broadcast(a, true).unwrap();
        assert_eq!(
            l.sendto(PID, a, b"q", Some((Ipv4Addr::BROADCAST, 2342))),
            Ok(1)
        );
        assert_eq!(host.sent.lock().unwrap().len(), 1);
    }

    #[test]
    fn test_inject_datagram_no_bound_socket() {
        let (_, l) = layer();
        assert_eq!(
            l.inject(PID, 2342, Ipv4Addr::new(10, 0, 0, 2), 2342, b"x"),
            Err(Errno::ConnRefused)
        );
        // A socket of another process on that port is not ours either.
        let other = l.open(2, true);
        l.bind(2, other, Ipv4Addr::UNSPECIFIED, 2342).unwrap();
        assert_eq!(
            l.inject(PID, 2342, Ipv4Addr::new(10, 0, 0, 2), 2342, b"x"),
            Err(Errno::ConnRefused)
        );
    }

    #[test]
    fn test_inject_datagram_pushes_and_recvfrom_delivers() {
        let (_, l) = layer();
        let s = bound(&l, 2342);
        let src = Ipv4Addr::new(10, 77, 0, 2);
        assert_eq!(l.inject(PID, 2342, src, 40000, b"tic"), Ok(()));
        let d = l.recvfrom(s, false, false, &()).unwrap();
        assert_eq!(
            (d.src_ip, d.src_port, d.data.as_slice()),
            (src, 40000, &b"tic"[..])
        );
    }

    #[test]
    fn test_inject_datagram_caps_queue_and_silently_drops_overflow() {
        let (_, l) = layer();
        let s = bound(&l, 2342);
        let src = Ipv4Addr::new(10, 77, 0, 2);
        for i in 0..MAX_INJECT_DGRAM_QUEUE_LEN {
            assert_eq!(l.inject(PID, 2342, src, 1, &[i as u8]), Ok(()));
        }
        for _ in 0..16 {
            assert_eq!(
                l.inject(PID, 2342, src, 1, b"over"),
                Ok(()),
                "overflow is silent"
            );
        }
        assert_eq!(
            l.stats(PID),
            vec![SocketStats {
                port: 2342,
                queued: 256,
                dropped: 16
            }]
        );
        // The first 256 are intact and in order.
        for i in 0..MAX_INJECT_DGRAM_QUEUE_LEN {
            assert_eq!(
                l.recvfrom(s, false, false, &()).unwrap().data,
                vec![i as u8]
            );
        }
        assert_eq!(l.recvfrom(s, false, false, &()), Err(Errno::Again));
    }

    /// A host that offers its real socket to the kernel's waits (`HostIO::wait_fds`) and injects
    /// what `pump` reads there, noting the thread that pumped.
    struct SocketHost {
        socket: std::net::UdpSocket,
        /// A second socket (a room's LAN port beside its WebRTC socket).
        other: std::net::UdpSocket,
        layer: std::sync::OnceLock<std::sync::Weak<SocketLayer>>,
        pumped_on: Mutex<Vec<String>>,
    }
    impl HostIO for SocketHost {
        fn wait_fds(&self) -> Vec<std::os::fd::RawFd> {
            use std::os::fd::AsRawFd;
            vec![self.socket.as_raw_fd(), self.other.as_raw_fd()]
        }
        fn pump(&self) {
            let Some(layer) = self.layer.get().and_then(|w| w.upgrade()) else {
                return;
            };
            let mut buf = [0u8; 1500];
            let mut next = || {
                self.socket
                    .recv_from(&mut buf)
                    .or_else(|_| self.other.recv_from(&mut buf))
                    .ok()
                    .map(|(n, from)| (buf[..n].to_vec(), from))
            };
            while let Some((data, from)) = next() {
                let name = std::thread::current().name().unwrap_or("").to_string();
                self.pumped_on.lock().unwrap().push(name);
                let _ = layer.inject(PID, 2342, Ipv4Addr::new(10, 77, 0, 2), from.port(), &data);
            }
        }
    }

    fn socket_host_layer() -> (Arc<SocketHost>, Arc<SocketLayer>) {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let other = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        other.set_nonblocking(true).unwrap();
        let host = Arc::new(SocketHost {
            socket,
            other,
            layer: std::sync::OnceLock::new(),
            pumped_on: Mutex::new(Vec::new()),
        });
        let l = Arc::new(SocketLayer::new(host.clone()));
        host.layer.set(Arc::downgrade(&l)).unwrap();
        (host, l)
    }

    /// A reader blocked on port 2342 while `payload` comes over the wire to the host's socket
    /// (or its second one): what it read, the sender's port, and the host.
    fn read_over_the_wire(at_other: bool, payload: &[u8]) -> (Arc<SocketHost>, Datagram, u16) {
        let (host, l) = socket_host_layer();
        let s = l.open(PID, false);
        l.bind(PID, s, Ipv4Addr::UNSPECIFIED, 2342).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let l = l.clone();
            std::thread::Builder::new()
                .name("reader".into())
                .spawn(move || tx.send(l.recvfrom(s, false, false, &())))
                .unwrap();
        }
        std::thread::sleep(Duration::from_millis(30));
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = if at_other { &host.other } else { &host.socket };
        peer.send_to(payload, to.local_addr().unwrap()).unwrap();
        // Nothing but the blocked reader reads the host's sockets: without it this never comes.
        let d = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the reader got the datagram")
            .unwrap();
        (host, d, peer.local_addr().unwrap().port())
    }

    #[test]
    fn a_blocked_reader_waits_on_the_host_socket_and_pumps_it_itself() {
        let (host, d, peer_port) = read_over_the_wire(false, b"over the wire");
        assert_eq!(d.data, b"over the wire");
        assert_eq!(d.src_port, peer_port);
        assert_eq!(host.pumped_on.lock().unwrap().as_slice(), ["reader"]);
    }

    #[test]
    fn a_datagram_at_the_hosts_second_socket_wakes_the_reader_too() {
        let (host, d, peer_port) = read_over_the_wire(true, b"at the other port");
        assert_eq!(d.data, b"at the other port");
        assert_eq!(d.src_port, peer_port);
        assert_eq!(host.pumped_on.lock().unwrap().as_slice(), ["reader"]);
    }

    #[test]
    fn an_enqueue_from_another_thread_wakes_a_reader_waiting_on_the_host_socket() {
        let (_host, l) = socket_host_layer();
        let s = l.open(PID, false);
        l.bind(PID, s, Ipv4Addr::UNSPECIFIED, 2342).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let l = l.clone();
            // One nap far longer than the test waits: only a wake-up ends it in time.
            std::thread::spawn(move || {
                l.wait_until(None, Duration::from_secs(600));
                tx.send(()).unwrap();
            });
        }
        std::thread::sleep(Duration::from_millis(50));
        l.inject(PID, 2342, Ipv4Addr::new(10, 77, 0, 3), 1, b"from elsewhere")
            .unwrap();
        rx.recv_timeout(Duration::from_secs(20))
            .expect("the enqueue woke the waiter (its eventfd)");
        assert_eq!(
            l.recvfrom(s, false, true, &()).unwrap().data,
            b"from elsewhere"
        );
    }

    #[test]
    fn test_inject_datagram_wakes_blocked_recvfrom() {
        let (_, l) = layer();
        let l = Arc::new(l);
        let s = l.open(PID, false);
        l.bind(PID, s, Ipv4Addr::UNSPECIFIED, 2342).unwrap();
        let reader = {
            let l = l.clone();
            std::thread::spawn(move || {
                let t = Instant::now();
                let d = l.recvfrom(s, false, false, &());
                (d, t.elapsed())
            })
        };
        std::thread::sleep(Duration::from_millis(30));
        l.inject(PID, 2342, Ipv4Addr::new(10, 77, 0, 2), 2342, b"wake")
            .unwrap();
        let (d, waited) = reader.join().unwrap();
        assert_eq!(d.unwrap().data, b"wake");
        assert!(
            waited >= Duration::from_millis(25),
            "the reader really blocked"
        );
    }

    #[test]
    fn test_blocked_recvfrom_is_interrupted() {
        let (_, l) = layer();
        let l = Arc::new(l);
        let s = l.open(PID, false);
        let flag = Arc::new(AtomicBool::new(false));
        let reader = {
            let (l, flag) = (l.clone(), flag.clone());
            std::thread::spawn(move || l.recvfrom(s, false, false, flag.as_ref()))
        };
        std::thread::sleep(Duration::from_millis(20));
        flag.store(true, Ordering::Relaxed);
        l.wake_all();
        assert_eq!(reader.join().unwrap(), Err(Errno::Intr));
    }

    #[test]
    fn test_bind_conflicts_sizes_and_connected_filter() {
        let (host, l) = layer();
        let a = bound(&l, 7000);
        let b = l.open(PID, true);
        assert_eq!(
            l.bind(PID, b, Ipv4Addr::UNSPECIFIED, 7000),
            Err(Errno::AddrInUse)
        );
        let big = vec![0u8; MAX_DGRAM_PAYLOAD + 1];
        assert_eq!(
            l.sendto(PID, a, &big, Some((Ipv4Addr::LOCALHOST, 7000))),
            Err(Errno::MsgSize)
        );
        // Unbound send binds an ephemeral port and tells the host.
        l.sendto(PID, b, b"x", Some((Ipv4Addr::LOCALHOST, 7000)))
            .unwrap();
        let eph = l.local_addr(b).unwrap().1;
        assert!(eph >= 49152);
        assert!(host.binds.lock().unwrap().contains(&(PID, eph, true)));
        // A connected socket only hears its peer.
        l.connect(PID, a, Ipv4Addr::new(10, 0, 0, 9), 1).unwrap();
        l.inject(PID, 7000, Ipv4Addr::new(10, 0, 0, 8), 1, b"stranger")
            .unwrap();
        l.inject(PID, 7000, Ipv4Addr::new(10, 0, 0, 9), 1, b"peer")
            .unwrap();
        let _ = l.recvfrom(a, false, false, &()); // the loopback "x" arrived before connect
        assert_eq!(l.recvfrom(a, false, false, &()).unwrap().data, b"peer");
        assert_eq!(l.sendto(PID, a, b"to-peer", None), Ok(7));
        l.close(a);
        assert!(host.binds.lock().unwrap().contains(&(PID, 7000, false)));
        assert_eq!(
            l.inject(PID, 7000, Ipv4Addr::new(10, 0, 0, 9), 1, b"x"),
            Err(Errno::ConnRefused)
        );
    }
}

//! A LAN game's files for joiners who lack them: the host serves its game's file list and the
//! files it offers over TCP on the game's port number, and a doomlink joiner asks for the list
//! before its guest starts and fetches what it lacks.
//!
//! Owns the service's framing, its defences and the two ends' sockets; which files are offered,
//! what a joiner accepts and where the bytes are stored belong to the caller (a [`FileSource`]
//! on the host, a sink on the joiner).
//!
//! # Why TCP on the game's port number
//!
//! Chocolate Doom's UDP owns the port's UDP side; its TCP side is free, and a joiner who knows
//! the game's address knows where to ask without a word more. A native Chocolate Doom host has
//! nothing there: the connection is refused and the joiner plays as before. A file is megabytes:
//! over UDP (the side protocol's sockets) it would need retransmission and congestion control of
//! its own, which TCP has. And TCP's handshake proves the joiner's address, so the service cannot
//! be made to send to a spoofed victim, the attack the side protocol's byte budget is for.
//!
//! # Wire
//!
//! Each frame is a big-endian u16 length and one relay control frame ([`crate::relay::wire`]):
//! host → joiner [`Frame::Wads`] (first, unasked) and [`Frame::FileData`]; joiner → host
//! [`Frame::FileRequest`]. The host answers requests in order, each with data frames covering
//! the range in order; a joiner keeps [`REQUESTS_IN_FLIGHT`] requests ahead so the pipe stays full.
//!
//! # Defences (the host may listen on any address: every byte is hostile)
//!
//! - At most [`MAX_CONNECTIONS`] connections, [`MAX_PER_ADDRESS`] from one IP; more are closed
//!   as soon as they are accepted.
//! - A connection that sends no request for [`IDLE_LIMIT`], or does not take what it is sent for
//!   as long, is closed.
//! - A frame that is not a well-formed request (longer than one, another type, a file not offered,
//!   a range past the file's end) closes the connection.
//! - A connection is sent at most [`SERVE_BUDGET`] × the offered files' total size (a joiner
//!   needs each file once), then closed.
//! - Memory per connection is one request's bytes and one chunk; nothing grows with input.

use crate::relay::wire::{
    FileData, FileRequest, Frame, FrameError, WadEntry, WadHash, MAX_FILE_CHUNK, MAX_FILE_REQUEST,
};
use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Connections the host serves at once.
pub const MAX_CONNECTIONS: usize = 8;
/// Connections the host serves at once from one IP address.
pub const MAX_PER_ADDRESS: usize = 2;
/// A connection without a request, or whose reader takes nothing, for this long is closed; a
/// joiner's download that gets no byte for this long fails.
pub const IDLE_LIMIT: Duration = Duration::from_secs(15);
/// What one connection may be sent: this many times the offered files' total size.
pub const SERVE_BUDGET: u64 = 2;
/// Requests a joiner keeps ahead of what it has received.
pub const REQUESTS_IN_FLIGHT: usize = 4;
/// A joiner waits this long for the host to answer a connection (a LAN host answers in well
/// under a millisecond; a firewall that drops the packets makes it wait this much, once).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest frame a host reads: a file request (envelope, hash, offset, length).
const MAX_REQUEST_FRAME: usize = 2 + 32 + 8 + 4;
/// The longest frame a joiner reads: a file list or a chunk of a file.
const MAX_ANSWER_FRAME: usize = crate::relay::wire::MAX_CONTROL_FRAME_LEN;

/// The host's files, read for joiners.
pub trait FileSource: Send + Sync + 'static {
    /// Fills `buf` with the bytes of the offered file `hash` from `offset`.
    fn read_at(&self, hash: &WadHash, offset: u64, buf: &mut [u8]) -> io::Result<()>;
}

/// Why a joiner's fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the host's file service: {0}")]
    Io(#[from] io::Error),
    #[error("the host's file service sent a bad frame: {0}")]
    Frame(#[from] FrameError),
    #[error("the host's file service broke its protocol: {0}")]
    Protocol(&'static str),
    #[error("the host closed the download of {name} at {received} of {size} bytes")]
    Closed {
        name: String,
        received: u64,
        size: u64,
    },
    #[error("the download of {name} got nothing for {secs} s at {received} of {size} bytes")]
    Stalled {
        name: String,
        received: u64,
        size: u64,
        secs: u64,
    },
    #[error("{0}")]
    Store(StoreError),
}

/// Why a joiner could not keep a chunk (its disk, its checks): ends the fetch as it is.
pub type StoreError = Box<dyn std::error::Error + Send + Sync>;

/// The host's end: a listener and a thread per connection, until dropped.
pub struct FileServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    list: Vec<WadEntry>,
    source: Arc<dyn FileSource>,
    budget: u64,
    idle: Duration,
    per_address: Mutex<HashMap<IpAddr, usize>>,
}

impl FileServer {
    /// Serves `list` (the offered entries from `source`) on TCP `bind`.
    pub fn start(
        bind: SocketAddr,
        list: Vec<WadEntry>,
        source: Arc<dyn FileSource>,
    ) -> io::Result<FileServer> {
        Self::start_with(bind, list, source, IDLE_LIMIT)
    }

    fn start_with(
        bind: SocketAddr,
        list: Vec<WadEntry>,
        source: Arc<dyn FileSource>,
        idle: Duration,
    ) -> io::Result<FileServer> {
        let listener = TcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        // Non-blocking so the accept loop sees `stop` without a connection to wake it.
        listener.set_nonblocking(true)?;
        let offered: u64 = list.iter().filter(|e| e.offered).map(|e| e.size).sum();
        let shared = Arc::new(Shared {
            list,
            source,
            budget: offered.saturating_mul(SERVE_BUDGET),
            idle,
            per_address: Mutex::new(HashMap::new()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let accept = std::thread::Builder::new()
            .name("lan-files".into())
            .spawn(move || accept_loop(listener, shared, stop2))?;
        Ok(FileServer {
            addr,
            stop,
            accept: Some(accept),
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let (stream, peer) = match listener.accept() {
            Ok(x) => x,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(_) => {
                // Out of descriptors and the like: wait rather than spin.
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let Some(slot) = Slot::take(&shared, peer.ip()) else {
            let _ = stream.shutdown(Shutdown::Both);
            continue;
        };
        let shared2 = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("lan-files-conn".into())
            .spawn(move || {
                let _slot = slot;
                let _ = serve_connection(stream, &shared2);
            });
        if spawned.is_err() {
            // The slot went with the closure and was given back when it was dropped.
            continue;
        }
    }
}

/// One connection's place in the limits, given back when dropped.
struct Slot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Slot {
    fn take(shared: &Arc<Shared>, ip: IpAddr) -> Option<Slot> {
        let mut m = shared.per_address.lock().unwrap_or_else(|p| p.into_inner());
        let total: usize = m.values().sum();
        let here = m.get(&ip).copied().unwrap_or(0);
        if total >= MAX_CONNECTIONS || here >= MAX_PER_ADDRESS {
            return None;
        }
        m.insert(ip, here + 1);
        Some(Slot {
            shared: shared.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut m = self
            .shared
            .per_address
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

fn serve_connection(mut stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(shared.idle))?;
    stream.set_write_timeout(Some(shared.idle))?;
    stream.set_nodelay(true)?;
    write_frame(&mut stream, &Frame::Wads(shared.list.clone()))?;
    let mut left = shared.budget;
    let mut req_buf = [0u8; MAX_REQUEST_FRAME];
    let mut chunk = vec![0u8; MAX_FILE_CHUNK];
    loop {
        let Some(len) = read_frame(&mut stream, &mut req_buf)? else {
            return Ok(());
        };
        let Ok(Frame::FileRequest(req)) = Frame::parse(&req_buf[..len]) else {
            return Ok(());
        };
        let Some(entry) = shared.list.iter().find(|e| e.offered && e.hash == req.hash) else {
            return Ok(());
        };
        let end = req.offset + u64::from(req.len);
        if end > entry.size || u64::from(req.len) > left {
            return Ok(());
        }
        left -= u64::from(req.len);
        let mut at = req.offset;
        while at < end {
            let n = (end - at).min(MAX_FILE_CHUNK as u64) as usize;
            shared.source.read_at(&req.hash, at, &mut chunk[..n])?;
            let data = FileData {
                hash: req.hash,
                offset: at,
                data: &chunk[..n],
            };
            write_frame(&mut stream, &Frame::FileData(data))?;
            at += n as u64;
        }
    }
}

fn write_frame(stream: &mut TcpStream, frame: &Frame<'_>) -> io::Result<()> {
    let bytes = frame
        .to_vec()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let mut out = Vec::with_capacity(2 + bytes.len());
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(&bytes);
    stream.write_all(&out)
}

/// Reads one length-prefixed frame into `buf`: its length, or None at a clean end of stream
/// before a frame. A frame longer than `buf` is an error (the peer is not speaking this
/// protocol, or is hostile).
fn read_frame(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<Option<usize>> {
    let mut len = [0u8; 2];
    match stream.read(&mut len[..1])? {
        0 => return Ok(None),
        _ => stream.read_exact(&mut len[1..])?,
    }
    let len = usize::from(u16::from_be_bytes(len));
    if len > buf.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes, over {}", buf.len()),
        ));
    }
    stream.read_exact(&mut buf[..len])?;
    Ok(Some(len))
}

/// The joiner's end: a connection to a host's file service and the list it sent.
pub struct FileClient {
    stream: TcpStream,
    list: Vec<WadEntry>,
    buf: Vec<u8>,
    stall: Duration,
}

impl FileClient {
    /// Connects to the host's service at `addr` and reads its list. None when nothing answers
    /// there (a native Chocolate Doom host, or a doomlink host that serves no files).
    pub fn connect(addr: SocketAddr) -> Result<Option<FileClient>, FetchError> {
        Self::connect_with(addr, IDLE_LIMIT)
    }

    /// As [`FileClient::connect`], giving up on a host silent for `stall`.
    pub fn connect_with(
        addr: SocketAddr,
        stall: Duration,
    ) -> Result<Option<FileClient>, FetchError> {
        let mut stream = match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(s) => s,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(e.into()),
        };
        stream.set_read_timeout(Some(stall))?;
        stream.set_write_timeout(Some(stall))?;
        stream.set_nodelay(true)?;
        let mut buf = vec![0u8; MAX_ANSWER_FRAME];
        let len = match read_frame(&mut stream, &mut buf) {
            Ok(Some(len)) => len,
            // Something else listens there and closed or said nothing: not our service.
            Ok(None) => return Ok(None),
            Err(e) if is_timeout(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let list = match Frame::parse(&buf[..len])? {
            Frame::Wads(list) => list,
            _ => return Err(FetchError::Protocol("its first frame is not the file list")),
        };
        Ok(Some(FileClient {
            stream,
            list,
            buf,
            stall,
        }))
    }

    /// The game's files, as the host listed them.
    pub fn list(&self) -> &[WadEntry] {
        &self.list
    }

    /// Fetches `entry` (one of [`FileClient::list`]'s) from byte `from` (0, or where an
    /// earlier download stopped) to its end, handing `store` each chunk with its offset, in
    /// order.
    pub fn fetch(
        &mut self,
        entry: &WadEntry,
        from: u64,
        mut store: impl FnMut(u64, &[u8]) -> Result<(), StoreError>,
    ) -> Result<(), FetchError> {
        let mut next_request = from;
        let mut received = from;
        // The ends of the requests sent and not yet answered in full.
        let mut pending: VecDeque<u64> = VecDeque::new();
        let closed = |received| FetchError::Closed {
            name: entry.name.clone(),
            received,
            size: entry.size,
        };
        while received < entry.size {
            while pending.len() < REQUESTS_IN_FLIGHT && next_request < entry.size {
                let len = (entry.size - next_request).min(u64::from(MAX_FILE_REQUEST)) as u32;
                let req = FileRequest {
                    hash: entry.hash,
                    offset: next_request,
                    len,
                };
                if let Err(e) = write_frame(&mut self.stream, &Frame::FileRequest(req)) {
                    return Err(match e.kind() {
                        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => {
                            closed(received)
                        }
                        _ => e.into(),
                    });
                }
                next_request += u64::from(len);
                pending.push_back(next_request);
            }
            let len = match read_frame(&mut self.stream, &mut self.buf) {
                Ok(Some(len)) => len,
                Ok(None) => return Err(closed(received)),
                Err(e) if is_timeout(&e) => {
                    return Err(FetchError::Stalled {
                        name: entry.name.clone(),
                        received,
                        size: entry.size,
                        secs: self.stall.as_secs(),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(closed(received)),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return Err(closed(received))
                }
                Err(e) => return Err(e.into()),
            };
            let Frame::FileData(d) = Frame::parse(&self.buf[..len])? else {
                return Err(FetchError::Protocol("a frame other than file data"));
            };
            if d.hash != entry.hash || d.offset != received {
                return Err(FetchError::Protocol("file data out of place"));
            }
            let end = received + d.data.len() as u64;
            if end > pending.front().copied().unwrap_or(0) {
                return Err(FetchError::Protocol("file data nobody asked for"));
            }
            store(received, d.data).map_err(FetchError::Store)?;
            received = end;
            if pending.front() == Some(&received) {
                pending.pop_front();
            }
        }
        Ok(())
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests;

//! A [`Session`] driven over WebRTC links on tokio: what the app holds for an Internet game.
//!
//! Owns the session (behind a mutex), its links' peer connections and writer tasks, and the
//! timer task. The app gives it a [`GuestSink`] (its `KernelSink`: `Output::Deliver` goes
//! straight into the kernel) and reads [`NodeEvent`]s for its UI; the kernel's
//! `HostIO::send_dgram` calls [`WebRtcNode::send_from_guest`], which never blocks on the network.
//!
//! ```text
//! HostIO::send_dgram ─► send_from_guest ─► Session ─► Transmit ─► per-link, per-channel queue
//!                                                                  └► writer task ─► DataChannel
//! DataChannel::poll (reader task per channel) ─► Session::handle_frame ─► Deliver ─► GuestSink
//!                                                                     └► Event ─► NodeEvent
//! peer connection state failed/closed, channel closed ─► Session::link_down
//! timer task: sleeps until Session::poll_timeout ─► handle_timeout (pings, 10 s liveness)
//! ```
//!
//! Frames are queued to each link under the session lock, so the order the session emits them
//! is the order they are sent. Deliveries are made after the lock is released: the sink calls
//! into the kernel, which may be calling us. A datagram queue that is full drops the frame
//! (it is a lossy channel anyway, and the game must not wait on a slow link); a full control
//! queue means the other end stopped reading, and the link is closed.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{PeerConnection, RTCPeerConnectionState};

use crate::lan::GuestSink;
use crate::relay::session::{
    Config, Delivery, Event, LinkId, Output, SendError, Session, SessionError,
};
use crate::relay::stats::LinkStats;
use crate::relay::wire::{ByeReason, Channel};
use crate::webrtc::mux::{LinkEvents, MuxLink};
use crate::webrtc::peer::{path_of, send_frame, PathInfo, PathKind, PcEvent, RtcLink};

/// Datagram frames queued per link before new ones are dropped (~0.5 s of a 4-player game).
pub const DGRAM_QUEUE: usize = 256;
/// Control frames queued per link before the link is given up.
pub const CONTROL_QUEUE: usize = 1024;

/// What the app's UI hears about.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeEvent {
    /// From the session: joined, peers joining and leaving, chat, lobby, a closed link.
    Session(Event),
    /// A link's selected path is known (or changed).
    Path { link: LinkId, path: PathInfo },
    /// The transport's view of a link: `Disconnected` is ICE losing the path (it may come back;
    /// the session gives up after its 10 s), `Connected` again after that.
    Transport {
        link: LinkId,
        state: RTCPeerConnectionState,
    },
}

/// A link as the UI shows it.
#[derive(Debug, Clone)]
pub struct LinkReport {
    pub link: LinkId,
    pub addr: Option<Ipv4Addr>,
    pub name: Option<String>,
    /// RTT, loss, counts: from the session's ping on the datagram channel.
    pub stats: LinkStats,
    pub path: Option<PathInfo>,
    /// Datagram frames dropped because the link's send queue was full.
    pub send_queue_drops: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("the node is shut down")]
    Closed,
}

struct LinkHandle {
    tx: LinkTx,
    path: Option<PathInfo>,
    drops: Arc<AtomicU64>,
}

/// How frames leave on a link.
enum LinkTx {
    /// A webrtc peer connection: per-channel queues to writer tasks.
    Tasks {
        pc: Arc<dyn PeerConnection>,
        dgram_tx: mpsc::Sender<Bytes>,
        ctrl_tx: mpsc::Sender<Bytes>,
        /// Whether the path goes through TURN, for the writers' [`send_frame`]; true until
        /// the path is known, which is the safe side (a spare driver wake).
        relayed: Arc<AtomicBool>,
        tasks: Vec<JoinHandle<()>>,
    },
    /// A link of the service's WebRTC edge: sent from the calling thread, no queue.
    Mux(Arc<MuxLink>),
}

/// A connected link to hand to [`WebRtcNode::add_link`].
#[derive(Debug)]
pub enum NodeLink {
    Rtc(Box<RtcLink>),
    Mux(MuxLink),
}

impl From<RtcLink> for NodeLink {
    fn from(l: RtcLink) -> Self {
        NodeLink::Rtc(Box::new(l))
    }
}

impl From<MuxLink> for NodeLink {
    fn from(l: MuxLink) -> Self {
        NodeLink::Mux(l)
    }
}

struct State {
    session: Session,
    links: HashMap<LinkId, LinkHandle>,
    /// The deadline the timer task sleeps until (None: none, or it is not asleep yet). A call
    /// that leaves the session's next deadline at or after it need not wake the task: with a
    /// frame in and out every tic on every link, waking it each time was a good part of a
    /// dedicated room's CPU.
    timer_armed: Option<Instant>,
}

struct Inner {
    state: Mutex<State>,
    sink: Arc<dyn GuestSink>,
    events: mpsc::UnboundedSender<NodeEvent>,
    wake: Notify,
    rt: tokio::runtime::Handle,
    /// The links' figures as the timer task last published them (see [`PUBLISH_EVERY`]).
    published: Mutex<Published>,
}

/// The link reports the timer task published, and when.
struct Published {
    at: Option<Instant>,
    links: Arc<Vec<LinkReport>>,
}

/// How often the timer task publishes the links' figures for readers that must not take the
/// session's lock (a service's metrics): at most this often, and at least once a second.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(250);

/// A session on WebRTC links. Cheap to clone (a handle); see the module docs.
#[derive(Clone)]
pub struct WebRtcNode {
    inner: Arc<Inner>,
}

/// The hub (the game's server peer) is a [`WebRtcNode`] made with [`WebRtcNode::hub`].
pub type WebRtcHub = WebRtcNode;
/// A joiner is a [`WebRtcNode`] made with [`WebRtcNode::client`].
pub type WebRtcClient = WebRtcNode;

impl WebRtcNode {
    /// A hub node. Must be called inside a tokio runtime (it spawns its timer task there).
    pub fn hub(
        cfg: Config,
        sink: Arc<dyn GuestSink>,
    ) -> (Self, mpsc::UnboundedReceiver<NodeEvent>) {
        Self::new(Session::hub(cfg, Instant::now()), sink)
    }

    /// A client node; give it its one link with [`WebRtcNode::add_link`].
    pub fn client(
        cfg: Config,
        sink: Arc<dyn GuestSink>,
    ) -> (Self, mpsc::UnboundedReceiver<NodeEvent>) {
        Self::new(Session::client(cfg, Instant::now()), sink)
    }

    /// Wraps an existing session.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (the node spawns its tasks on the current one); the hub and
    /// client constructors likewise.
    pub fn new(
        session: Session,
        sink: Arc<dyn GuestSink>,
    ) -> (Self, mpsc::UnboundedReceiver<NodeEvent>) {
        let (events, rx) = mpsc::unbounded_channel();
        let node = WebRtcNode {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    session,
                    links: HashMap::new(),
                    timer_armed: None,
                }),
                sink,
                events,
                wake: Notify::new(),
                rt: tokio::runtime::Handle::current(),
                published: Mutex::new(Published {
                    at: None,
                    links: Arc::default(),
                }),
            }),
        };
        let weak = Arc::downgrade(&node.inner);
        node.inner.rt.spawn(async move {
            // The timer task: holds only a weak reference, so dropping every handle ends it.
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let deadline = {
                    let mut st = inner.lock();
                    let d = st.session.poll_timeout();
                    st.timer_armed = d;
                    d
                };
                // A notify_one sent since the lock was released is kept as a permit, so a
                // deadline moved earlier in between is not missed.
                let notified = inner.wake.notified();
                let sleep = async {
                    match deadline {
                        Some(d) => {
                            tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await
                        }
                        None => std::future::pending().await,
                    }
                };
                // Re-check the weak link at least every second.
                tokio::select! {
                    _ = sleep => {
                        inner.lock().timer_armed = None;
                        let node = WebRtcNode { inner };
                        node.with_outputs(|s, now| s.handle_timeout(now));
                    }
                    _ = notified => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                if let Some(inner) = weak.upgrade() {
                    WebRtcNode { inner }.publish_if_due();
                }
            }
        });
        (node, rx)
    }

    /// Runs `f` on the session, then sends what it produced. For chat, lobby, kick and the
    /// session's figures.
    pub fn with_session<R>(&self, f: impl FnOnce(&mut Session, Instant) -> R) -> R {
        self.with_outputs(f)
    }

    /// The kernel's `HostIO::send_dgram`. Never waits on the network.
    pub fn send_from_guest(
        &self,
        src_port: u16,
        dst_ip: Ipv4Addr,
        dst_port: u16,
        data: &[u8],
    ) -> Result<(), SendError> {
        self.with_outputs(|s, now| s.send_from_guest(now, src_port, dst_ip, dst_port, data))
    }

    /// Our virtual address (a client's once welcomed).
    pub fn local_addr(&self) -> Option<Ipv4Addr> {
        self.inner.lock().session.local_addr()
    }

    /// [`WebRtcNode::links`] as the node's timer task last published them (at most
    /// [`PUBLISH_EVERY`] and at least a second old while the node lives): for readers that
    /// must not wait on the session's lock, which every datagram takes.
    pub fn published_links(&self) -> Arc<Vec<LinkReport>> {
        self.inner
            .published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .links
            .clone()
    }

    fn publish_if_due(&self) {
        let now = Instant::now();
        let due = {
            let p = self
                .inner
                .published
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            p.at.is_none_or(|at| now.saturating_duration_since(at) >= PUBLISH_EVERY)
        };
        if due {
            let links = Arc::new(self.links());
            *self
                .inner
                .published
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Published {
                at: Some(now),
                links,
            };
        }
    }

    /// Every link with its figures and path, for the UI.
    pub fn links(&self) -> Vec<LinkReport> {
        let st = self.inner.lock();
        st.session
            .links()
            .map(|v| {
                let h = st.links.get(&v.link);
                LinkReport {
                    link: v.link,
                    addr: v.addr,
                    name: v.name.map(str::to_owned),
                    stats: v.stats.clone(),
                    path: h.and_then(|h| h.path.clone()),
                    send_queue_drops: h.map_or(0, |h| h.drops.load(Ordering::Relaxed)),
                }
            })
            .collect()
    }

    /// Leaves the game: Bye on every link, then every peer connection closes.
    pub fn close(&self, reason: ByeReason) {
        self.with_outputs(|s, now| s.close(now, reason));
    }

    /// Hands a connected link to the session (hub: a new client; client: its hub). Frames that
    /// arrived while connecting are fed first, in order.
    pub fn add_link(&self, link: impl Into<NodeLink>) -> Result<LinkId, NodeError> {
        match link.into() {
            NodeLink::Rtc(l) => self.add_rtc_link(*l),
            NodeLink::Mux(l) => self.add_mux_link(l),
        }
    }

    fn add_mux_link(&self, link: MuxLink) -> Result<LinkId, NodeError> {
        let link = Arc::new(link);
        {
            let mut st = self.inner.lock();
            let now = Instant::now();
            let id = st.session.link_up(now)?;
            st.links.insert(
                id,
                LinkHandle {
                    tx: LinkTx::Mux(link.clone()),
                    path: link.path(),
                    drops: Arc::new(AtomicU64::new(0)),
                },
            );
            let mut deliveries = self.flush(&mut st);
            let events = Arc::new(MuxEvents {
                weak: Arc::downgrade(&self.inner),
                id,
            });
            let (early, gone) = link.attach(events);
            for (_, frame) in &early {
                st.session.handle_frame(now, id, frame);
                deliveries.extend(self.flush(&mut st));
            }
            if gone {
                st.session.link_down(now, id);
                deliveries.extend(self.flush(&mut st));
            }
            drop(st);
            self.deliver(deliveries);
            self.inner.wake.notify_one();
            Ok(id)
        }
    }

    fn add_rtc_link(&self, mut link: RtcLink) -> Result<LinkId, NodeError> {
        let (dgram_tx, dgram_rx) = mpsc::channel::<Bytes>(DGRAM_QUEUE);
        let (ctrl_tx, ctrl_rx) = mpsc::channel::<Bytes>(CONTROL_QUEUE);
        let relayed = Arc::new(AtomicBool::new(true));
        let early: Vec<_> = link.early.drain(..).collect();
        let id = {
            let mut st = self.inner.lock();
            let now = Instant::now();
            let id = st.session.link_up(now)?;
            st.links.insert(
                id,
                LinkHandle {
                    tx: LinkTx::Tasks {
                        pc: link.pc.clone(),
                        dgram_tx,
                        ctrl_tx,
                        relayed: relayed.clone(),
                        tasks: Vec::new(),
                    },
                    path: None,
                    drops: Arc::new(AtomicU64::new(0)),
                },
            );
            let mut deliveries = self.flush(&mut st);
            for (_, frame) in &early {
                st.session.handle_frame(now, id, frame);
                deliveries.extend(self.flush(&mut st));
            }
            drop(st);
            self.deliver(deliveries);
            id
        };
        self.inner.wake.notify_one();
        let rt = &self.inner.rt;
        let mut tasks = vec![
            rt.spawn(writer(link.dgram.clone(), dgram_rx, relayed.clone())),
            rt.spawn(writer(link.ctrl.clone(), ctrl_rx, relayed)),
            rt.spawn(reader(Arc::downgrade(&self.inner), id, link.dgram.clone())),
            rt.spawn(reader(Arc::downgrade(&self.inner), id, link.ctrl.clone())),
        ];
        let weak = Arc::downgrade(&self.inner);
        let pc = link.pc.clone();
        tasks.push(rt.spawn(async move {
            // Path first (the pair is selected by now), then watch the connection's state.
            report_path(&weak, id, &pc).await;
            while let Some(ev) = link.events.recv().await {
                let Some(inner) = weak.upgrade() else { return };
                let node = WebRtcNode { inner };
                match ev {
                    PcEvent::State(
                        s @ (RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed),
                    ) => {
                        tracing::info!(%id, state = %s, "peer connection gone");
                        node.with_outputs(|s, now| s.link_down(now, id));
                        return;
                    }
                    PcEvent::State(s @ RTCPeerConnectionState::Disconnected) => {
                        tracing::info!(%id, "peer connection disconnected; waiting for ICE");
                        let _ = node
                            .inner
                            .events
                            .send(NodeEvent::Transport { link: id, state: s });
                    }
                    PcEvent::State(s @ RTCPeerConnectionState::Connected) => {
                        let _ = node
                            .inner
                            .events
                            .send(NodeEvent::Transport { link: id, state: s });
                        report_path(&weak, id, &pc).await;
                    }
                    _ => {}
                }
            }
        }));
        let mut st = self.inner.lock();
        match st.links.get_mut(&id).map(|h| &mut h.tx) {
            Some(LinkTx::Tasks { tasks: t, .. }) => t.append(&mut tasks),
            // Closed already (a Bye in the early frames): stop what was started.
            _ => tasks.iter().for_each(|t| t.abort()),
        }
        Ok(id)
    }

    fn with_outputs<R>(&self, f: impl FnOnce(&mut Session, Instant) -> R) -> R {
        let (r, deliveries, wake) = {
            let mut st = self.inner.lock();
            let r = f(&mut st.session, Instant::now());
            let d = self.flush(&mut st);
            let wake = match (st.session.poll_timeout(), st.timer_armed) {
                (Some(next), Some(armed)) => next < armed,
                (None, _) => false,
                (Some(_), None) => true,
            };
            (r, d, wake)
        };
        self.deliver(deliveries);
        if wake {
            self.inner.wake.notify_one();
        }
        r
    }

    /// Drains the session's outputs: frames are queued and events sent under the lock (their
    /// order is the session's); deliveries are returned to be made after it.
    fn flush(&self, st: &mut State) -> Vec<Delivery> {
        let mut deliveries = Vec::new();
        while let Some(out) = st.session.poll_output() {
            match out {
                Output::Transmit(t) => {
                    let Some(h) = st.links.get(&t.link) else {
                        continue;
                    };
                    match (&h.tx, t.channel) {
                        (LinkTx::Mux(l), channel) => {
                            // A gone link reports itself through its events.
                            if !l.send(channel, &t.frame) {
                                h.drops.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        (LinkTx::Tasks { dgram_tx, .. }, Channel::Datagram) => {
                            if dgram_tx.try_send(Bytes::from(t.frame)).is_err() {
                                h.drops.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        (LinkTx::Tasks { ctrl_tx, .. }, Channel::Control) => {
                            if ctrl_tx.try_send(Bytes::from(t.frame)).is_err() {
                                tracing::warn!(link = %t.link, "control queue full; closing the link");
                                st.session.link_down(Instant::now(), t.link);
                            }
                        }
                    }
                }
                Output::Deliver(d) => deliveries.push(d),
                Output::Event(e) => {
                    if let Event::LinkClosed { link, reason, .. } = &e {
                        tracing::info!(%link, ?reason, "link closed");
                        match st.links.remove(link).map(|h| h.tx) {
                            Some(LinkTx::Mux(l)) => l.close(),
                            Some(tx @ LinkTx::Tasks { .. }) => {
                                self.inner.rt.spawn(close_link(tx));
                            }
                            None => {}
                        }
                    }
                    let _ = self.inner.events.send(NodeEvent::Session(e));
                }
            }
        }
        deliveries
    }

    fn deliver(&self, deliveries: Vec<Delivery>) {
        for d in deliveries {
            self.inner
                .sink
                .deliver(d.dst_port, SocketAddrV4::new(d.src_ip, d.src_port), &d.data);
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn report_path(weak: &std::sync::Weak<Inner>, id: LinkId, pc: &Arc<dyn PeerConnection>) {
    let Some(path) = path_of(pc).await else {
        return;
    };
    let Some(inner) = weak.upgrade() else { return };
    let mut st = inner.lock();
    if let Some(h) = st.links.get_mut(&id) {
        if h.path.as_ref() != Some(&path) {
            if let LinkTx::Tasks { relayed, .. } = &h.tx {
                relayed.store(path.kind == PathKind::Relayed, Ordering::Relaxed);
            }
            tracing::info!(%id, path = %path.kind, local = %path.local_addr, remote = %path.remote_addr, "link path");
            h.path = Some(path.clone());
            let _ = inner.events.send(NodeEvent::Path { link: id, path });
        }
    }
}

/// Sends a link's queued frames on one channel, in order.
async fn writer(dc: Arc<dyn DataChannel>, mut rx: mpsc::Receiver<Bytes>, relayed: Arc<AtomicBool>) {
    while let Some(frame) = rx.recv().await {
        if let Err(e) = send_frame(&dc, &frame, relayed.load(Ordering::Relaxed)).await {
            tracing::debug!("send failed: {e}");
            return;
        }
    }
}

/// Feeds one channel's frames to the session; a closed channel is a lost link.
async fn reader(weak: std::sync::Weak<Inner>, id: LinkId, dc: Arc<dyn DataChannel>) {
    while let Some(ev) = dc.poll().await {
        let Some(inner) = weak.upgrade() else { return };
        let node = WebRtcNode { inner };
        match ev {
            DataChannelEvent::OnMessage(m) => {
                node.with_outputs(|s, now| s.handle_frame(now, id, &m.data));
            }
            DataChannelEvent::OnClose => break,
            _ => {}
        }
    }
    if let Some(inner) = weak.upgrade() {
        WebRtcNode { inner }.with_outputs(|s, now| s.link_down(now, id));
    }
}

/// What the mux thread hands a node: a link's frames and its end.
struct MuxEvents {
    weak: std::sync::Weak<Inner>,
    id: LinkId,
}

impl LinkEvents for MuxEvents {
    fn on_frame(&self, _channel: Channel, frame: &[u8]) {
        if let Some(inner) = self.weak.upgrade() {
            let id = self.id;
            WebRtcNode { inner }.with_outputs(|s, now| s.handle_frame(now, id, frame));
        }
    }
    fn on_closed(&self) {
        if let Some(inner) = self.weak.upgrade() {
            let id = self.id;
            WebRtcNode { inner }.with_outputs(|s, now| s.link_down(now, id));
        }
    }
}

/// Lets the writers flush what is queued (the Bye), then closes the peer connection.
async fn close_link(tx: LinkTx) {
    let LinkTx::Tasks {
        pc,
        dgram_tx,
        ctrl_tx,
        tasks,
        ..
    } = tx
    else {
        return;
    };
    drop((dgram_tx, ctrl_tx));
    // Writers end once their queue is drained; readers and the watcher are stopped at once.
    let mut tasks = tasks.into_iter();
    let writers: Vec<_> = tasks.by_ref().take(2).collect();
    for t in tasks {
        t.abort();
    }
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        for w in writers {
            let _ = w.await;
        }
    })
    .await;
    // A short grace for SCTP to put the Bye on the wire before the association goes.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = pc.close().await;
}

//! One WebRTC peer connection carrying one session link: the unit the WebRTC transport is made of.
//!
//! Owns the [`RtcLink`]: a webrtc 0.21 `PeerConnection` on tokio with the two data channels a
//! session link needs, the offer/answer and trickle-ICE steps the signaling (rendezvous or manual
//! codes) drives, the DTLS fingerprint checks, and the path report (direct or relayed, from the
//! selected candidate pair).
//!
//! # Channels
//!
//! Both channels are created *negotiated*, with the same fixed stream ids on both sides
//! ([`DATAGRAM_STREAM`], [`CONTROL_STREAM`]), before the offer. In-band (DCEP) channels would be
//! simpler to open, but in webrtc 0.21.1 a channel received through `on_data_channel` is reliable
//! and ordered whatever the opener asked, which would put game datagrams behind retransmissions.
//!
//! - [`Channel::Datagram`] → `ordered: false, maxRetransmits: 0`: game datagrams, ping/pong;
//! - [`Channel::Control`] → reliable and ordered: handshake, bye, roster, chat, lobby.
//!
//! # Fingerprints
//!
//! A joiner knows the host's certificate fingerprint from the invite link or the offer code. It
//! checks the remote SDP's `a=fingerprint` *before* setting it ([`RtcLink::accept_offer`]), and
//! once connected checks the certificate the DTLS transport actually received
//! ([`RtcLink::wait_connected`]); webrtc itself checks that the certificate matches the SDP. So a
//! rendezvous that rewrites the SDP gets a refusal, not a man-in-the-middle position.
//!
//! # Addresses
//!
//! [`RtcOptions::bind`] lists the local UDP addresses to bind, each giving host candidates.
//! webrtc 0.21 expands a wildcard (`0.0.0.0:0`, `[::]:0`) into one socket per interface *except
//! loopback*; tests and benchmarks bind `127.0.0.1:0` explicitly so everything stays on loopback.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::mpsc;
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelInit};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateInit, RTCIceCandidateType, RTCIceConnectionState, RTCIceGatheringState,
    RTCIceTransportPolicy, RTCPeerConnectionIceEvent, RTCPeerConnectionState,
    RTCSessionDescription, SettingEngineBuilder,
};

use crate::identity::{Fingerprint, FingerprintError, Identity};
use crate::relay::wire::Channel;
use crate::signaling::fingerprint::FingerprintMismatch;
use crate::signaling::{Candidate, IceServer, Sdp, SdpKind};

/// SCTP stream id of the datagram channel, the same on both sides.
pub const DATAGRAM_STREAM: u16 = 0;
/// SCTP stream id of the control channel.
pub const CONTROL_STREAM: u16 = 1;

/// How a peer connection is set up.
#[derive(Debug, Clone)]
pub struct RtcOptions {
    /// STUN and TURN servers (the rendezvous hands these out).
    pub ice_servers: Vec<IceServer>,
    /// Use relayed (TURN) candidates only: hides one's address from the other peers, and lets
    /// tests force a relayed path.
    pub relay_only: bool,
    /// Local UDP addresses to bind. Default: `0.0.0.0:0` and `[::]:0`, every interface of both
    /// families (webrtc skips loopback in a wildcard). Tests use `127.0.0.1:0`.
    pub bind: Vec<SocketAddr>,
    /// The certificate to present; a fresh one if `None`. A host presents its persistent one.
    pub identity: Option<Identity>,
    /// ICE's "disconnected" after this long without traffic, and "failed" after this long
    /// disconnected: together well under the 10 s in which a dead link must be reported.
    pub ice_disconnected_timeout: Duration,
    pub ice_failed_timeout: Duration,
    /// How long connecting (ICE, DTLS, SCTP, both channels open) may take.
    pub connect_timeout: Duration,
    /// How long the controlling side (the host) waits before it may nominate a pair whose
    /// remote candidate is peer-reflexive; `None`: webrtc's default (1 s). A joiner's first
    /// checks usually arrive before its trickled candidates, so its address is first known as
    /// peer-reflexive, and that second is most of a join on a fast path.
    pub prflx_acceptance_min_wait: Option<Duration>,
}

impl Default for RtcOptions {
    fn default() -> Self {
        RtcOptions {
            ice_servers: Vec::new(),
            relay_only: false,
            bind: vec![
                SocketAddr::from(([0, 0, 0, 0], 0)),
                SocketAddr::from(([0u16; 8], 0)),
            ],
            identity: None,
            ice_disconnected_timeout: Duration::from_secs(3),
            ice_failed_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(20),
            prflx_acceptance_min_wait: None,
        }
    }
}

impl RtcOptions {
    /// Loopback only: what tests and benchmarks use.
    pub fn loopback() -> Self {
        RtcOptions {
            bind: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtcError {
    #[error("WebRTC: {0}")]
    WebRtc(String),
    #[error(transparent)]
    FingerprintMismatch(#[from] FingerprintMismatch),
    #[error("the remote description's fingerprint is unusable: {0}")]
    Fingerprint(#[from] FingerprintError),
    #[error("a {got:?} description arrived where an {expected:?} was expected")]
    UnexpectedSdp { expected: SdpKind, got: SdpKind },
    #[error("connection failed ({0})")]
    Failed(&'static str),
    #[error("connecting took longer than {0:?}")]
    Timeout(Duration),
}

/// ICE timeouts and mDNS as `opts` say: what every doomlink peer connection is set up with,
/// a webrtc one here or a sans-IO one in [`crate::webrtc::mux`].
pub(crate) fn setting_engine(opts: &RtcOptions) -> webrtc::peer_connection::SettingEngine {
    SettingEngineBuilder::new()
        .with_ice_timeouts(
            Some(opts.ice_disconnected_timeout),
            Some(opts.ice_failed_timeout),
            Some(Duration::from_secs(1)),
        )
        .with_prflx_acceptance_min_wait(opts.prflx_acceptance_min_wait)
        // No mDNS: doomlink never sends `.local` candidates, and the mDNS socket fails to
        // open on a host with no multicast route ("No such device"), which would refuse
        // every link there.
        .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
        .build()
}

/// A channel's label and its negotiated setup (see the module docs): both ends, whatever
/// drives them, must create exactly these.
pub(crate) fn channel_init(channel: Channel) -> (&'static str, RTCDataChannelInit) {
    match channel {
        Channel::Datagram => (
            "doomlink-datagram",
            RTCDataChannelInit {
                ordered: false,
                max_retransmits: Some(0),
                negotiated: Some(DATAGRAM_STREAM),
                ..Default::default()
            },
        ),
        Channel::Control => (
            "doomlink-control",
            RTCDataChannelInit {
                ordered: true,
                negotiated: Some(CONTROL_STREAM),
                ..Default::default()
            },
        ),
    }
}

pub(crate) fn rtc_err(e: impl std::fmt::Display) -> RtcError {
    RtcError::WebRtc(e.to_string())
}

/// What a link's path goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// Host, server-reflexive or peer-reflexive candidates on both ends: peer to peer.
    Direct,
    /// A TURN server relays the traffic (either end's selected candidate is a relay one).
    Relayed,
}

impl std::fmt::Display for PathKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PathKind::Direct => "direct",
            PathKind::Relayed => "relayed",
        })
    }
}

/// ICE candidate types, as the selected pair reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateKind {
    Host,
    ServerReflexive,
    PeerReflexive,
    Relay,
    Unknown,
}

impl From<RTCIceCandidateType> for CandidateKind {
    fn from(t: RTCIceCandidateType) -> Self {
        match t {
            RTCIceCandidateType::Host => CandidateKind::Host,
            RTCIceCandidateType::Srflx => CandidateKind::ServerReflexive,
            RTCIceCandidateType::Prflx => CandidateKind::PeerReflexive,
            RTCIceCandidateType::Relay => CandidateKind::Relay,
            _ => CandidateKind::Unknown,
        }
    }
}

/// The selected candidate pair of a connected link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathInfo {
    pub kind: PathKind,
    pub local: CandidateKind,
    pub remote: CandidateKind,
    /// `ip:port` of each end as ICE sees it.
    pub local_addr: String,
    pub remote_addr: String,
}

/// What the peer connection reports, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum PcEvent {
    /// A local candidate to trickle to the other side.
    LocalCandidate(Candidate),
    GatheringComplete,
    State(RTCPeerConnectionState),
    Ice(RTCIceConnectionState),
}

struct Handler {
    tx: mpsc::UnboundedSender<PcEvent>,
    /// The control channel, once made: what [`wake_driver`] wakes the driver through when DTLS
    /// connects (weak: the peer connection holds this handler).
    waker: Arc<OnceLock<Weak<dyn DataChannel>>>,
}

impl Handler {
    /// SCTP's INIT, queued as DTLS connects, leaves only on the driver's next pass: see
    /// [`wake_driver`].
    fn next_step_started(&self) {
        if let Some(dc) = self.waker.get().and_then(Weak::upgrade) {
            wake_driver(&dc);
        }
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json() {
            let _ = self.tx.send(PcEvent::LocalCandidate(Candidate {
                candidate: init.candidate,
                sdp_mid: init.sdp_mid,
                sdp_mline_index: init.sdp_mline_index,
            }));
        }
    }
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.tx.send(PcEvent::GatheringComplete);
        }
    }
    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        if state == RTCPeerConnectionState::Connected {
            self.next_step_started();
        }
        let _ = self.tx.send(PcEvent::State(state));
    }
    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        let _ = self.tx.send(PcEvent::Ice(state));
    }
}

/// A frame that arrived before the link was handed to a node (the other side's Hello can
/// overtake our own "open" bookkeeping).
pub(crate) type EarlyFrame = (Channel, bytes::Bytes);

/// One peer connection with its two channels. Made by [`RtcLink::new`], driven through
/// offer/answer and candidates by the signaling, then [`RtcLink::wait_connected`], then handed to
/// a [`crate::webrtc::node::WebRtcNode`].
pub struct RtcLink {
    pub(crate) pc: Arc<dyn PeerConnection>,
    pub(crate) dgram: Arc<dyn DataChannel>,
    pub(crate) ctrl: Arc<dyn DataChannel>,
    pub(crate) events: mpsc::UnboundedReceiver<PcEvent>,
    pub(crate) early: VecDeque<EarlyFrame>,
    /// Remote candidates that came before the remote description.
    pending_candidates: Vec<Candidate>,
    have_remote: bool,
    expected: Option<Fingerprint>,
    opts: RtcOptions,
    local_fp: Fingerprint,
    /// Local candidates and gathering-complete seen by [`RtcLink::next_local_candidate`]'s
    /// callers while waiting for something else.
    local_backlog: VecDeque<PcEvent>,
}

impl std::fmt::Debug for RtcLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtcLink")
            .field("local_fp", &self.local_fp)
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

impl RtcLink {
    /// A peer connection with both channels created (negotiated, fixed ids).
    pub async fn new(opts: &RtcOptions) -> Result<RtcLink, RtcError> {
        let identity = match &opts.identity {
            Some(id) => id.clone(),
            None => Identity::ephemeral().map_err(rtc_err)?,
        };
        let config = RTCConfigurationBuilder::new()
            .with_ice_servers(opts.ice_servers.iter().map(IceServer::to_rtc).collect())
            .with_ice_transport_policy(if opts.relay_only {
                RTCIceTransportPolicy::Relay
            } else {
                RTCIceTransportPolicy::All
            })
            .with_certificates(vec![identity.certificate()])
            .build();
        let settings = setting_engine(opts);
        let (tx, events) = mpsc::unbounded_channel();
        let waker = Arc::new(OnceLock::new());
        let mut builder = PeerConnectionBuilder::new();
        if let Some(runtime) = super::runtime::PeerRuntime::wrapping_default() {
            builder = builder.with_runtime(runtime);
        }
        let pc = builder
            .with_configuration(config)
            .with_setting_engine(settings)
            .with_handler(Arc::new(Handler {
                tx,
                waker: waker.clone(),
            }))
            .with_udp_addrs(opts.bind.clone())
            .build()
            .await
            .map_err(rtc_err)?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let (label, init) = channel_init(Channel::Datagram);
        let dgram = pc
            .create_data_channel(label, Some(init))
            .await
            .map_err(rtc_err)?;
        let (label, init) = channel_init(Channel::Control);
        let ctrl = pc
            .create_data_channel(label, Some(init))
            .await
            .map_err(rtc_err)?;
        let _ = waker.set(Arc::downgrade(&ctrl));
        Ok(RtcLink {
            pc,
            dgram,
            ctrl,
            events,
            early: VecDeque::new(),
            pending_candidates: Vec::new(),
            have_remote: false,
            expected: None,
            opts: opts.clone(),
            local_fp: identity.fingerprint(),
            local_backlog: VecDeque::new(),
        })
    }

    /// Our certificate's fingerprint (what the other side should expect).
    pub fn local_fingerprint(&self) -> Fingerprint {
        self.local_fp
    }

    /// The options this link was made with.
    pub fn options(&self) -> &RtcOptions {
        &self.opts
    }

    /// Offerer: makes the offer and sets it as the local description. Candidates then trickle
    /// out through [`RtcLink::next_local_candidate`].
    pub async fn create_offer(&mut self) -> Result<Sdp, RtcError> {
        let offer = self.pc.create_offer(None).await.map_err(rtc_err)?;
        self.pc
            .set_local_description(offer.clone())
            .await
            .map_err(rtc_err)?;
        Ok(Sdp {
            kind: SdpKind::Offer,
            sdp: offer.sdp,
        })
    }

    /// Answerer: checks the offer's fingerprint against `expect` (before webrtc sees the
    /// offer), sets it, and makes and sets the answer.
    pub async fn accept_offer(
        &mut self,
        offer: &Sdp,
        expect: Option<Fingerprint>,
    ) -> Result<Sdp, RtcError> {
        if offer.kind != SdpKind::Offer {
            return Err(RtcError::UnexpectedSdp {
                expected: SdpKind::Offer,
                got: offer.kind,
            });
        }
        self.check_fingerprint(&offer.sdp, expect)?;
        let desc = RTCSessionDescription::offer(offer.sdp.clone()).map_err(rtc_err)?;
        self.pc
            .set_remote_description(desc)
            .await
            .map_err(rtc_err)?;
        self.remote_set().await?;
        let answer = self.pc.create_answer(None).await.map_err(rtc_err)?;
        self.pc
            .set_local_description(answer.clone())
            .await
            .map_err(rtc_err)?;
        Ok(Sdp {
            kind: SdpKind::Answer,
            sdp: answer.sdp,
        })
    }

    /// Offerer: checks and sets the answer.
    pub async fn accept_answer(
        &mut self,
        answer: &Sdp,
        expect: Option<Fingerprint>,
    ) -> Result<(), RtcError> {
        if answer.kind != SdpKind::Answer {
            return Err(RtcError::UnexpectedSdp {
                expected: SdpKind::Answer,
                got: answer.kind,
            });
        }
        self.check_fingerprint(&answer.sdp, expect)?;
        let desc = RTCSessionDescription::answer(answer.sdp.clone()).map_err(rtc_err)?;
        self.pc
            .set_remote_description(desc)
            .await
            .map_err(rtc_err)?;
        self.remote_set().await
    }

    fn check_fingerprint(
        &mut self,
        sdp: &str,
        expect: Option<Fingerprint>,
    ) -> Result<(), RtcError> {
        let got = Fingerprint::from_sdp(sdp)?;
        if let Some(expected) = expect {
            got.expect(expected)?;
            self.expected = Some(expected);
        }
        Ok(())
    }

    async fn remote_set(&mut self) -> Result<(), RtcError> {
        self.have_remote = true;
        for c in std::mem::take(&mut self.pending_candidates) {
            self.add_candidate_now(c).await?;
        }
        Ok(())
    }

    /// A trickled remote candidate; held until the remote description is set. An empty
    /// candidate (end of candidates) is ignored.
    pub async fn add_candidate(&mut self, c: Candidate) -> Result<(), RtcError> {
        if c.candidate.is_empty() {
            return Ok(());
        }
        if !self.have_remote {
            // Bounded: a peer cannot make us hold more than a generous handful.
            if self.pending_candidates.len() < 64 {
                self.pending_candidates.push(c);
            }
            return Ok(());
        }
        self.add_candidate_now(c).await
    }

    async fn add_candidate_now(&mut self, c: Candidate) -> Result<(), RtcError> {
        let init = RTCIceCandidateInit {
            candidate: c.candidate,
            sdp_mid: c.sdp_mid,
            sdp_mline_index: c.sdp_mline_index,
            ..Default::default()
        };
        self.pc.add_ice_candidate(init).await.map_err(rtc_err)
    }

    /// The next local candidate to trickle, `None` once gathering is complete. State events
    /// seen meanwhile are kept for [`RtcLink::wait_connected`].
    pub async fn next_local_candidate(&mut self) -> Option<Candidate> {
        loop {
            match self.events.recv().await? {
                PcEvent::LocalCandidate(c) => return Some(c),
                PcEvent::GatheringComplete => return None,
                other => self.local_backlog.push_back(other),
            }
        }
    }

    /// Waits until gathering is complete (for manual codes, which carry every candidate at
    /// once) and returns the full local description.
    pub async fn gathered_local_description(&mut self) -> Result<String, RtcError> {
        let limit = self.opts.connect_timeout;
        let wait = async { while self.next_local_candidate().await.is_some() {} };
        tokio::time::timeout(limit, wait)
            .await
            .map_err(|_| RtcError::Timeout(limit))?;
        Ok(self
            .pc
            .local_description()
            .await
            .ok_or(RtcError::Failed("no local description"))?
            .sdp)
    }

    /// Waits until the connection is up and both channels are open, then checks the
    /// certificate DTLS received against the expected fingerprint. Frames that arrive
    /// meanwhile are kept for the node. Local candidates that show up here are returned in
    /// `trickle` order through `on_candidate`, so the caller can keep trickling.
    pub async fn wait_connected(
        &mut self,
        mut on_candidate: impl FnMut(Option<Candidate>),
    ) -> Result<(), RtcError> {
        let limit = self.opts.connect_timeout;
        let deadline = tokio::time::Instant::now() + limit;
        let (mut dgram_open, mut ctrl_open, mut connected) = (false, false, false);
        // First what was seen while trickling before.
        while let Some(ev) = self.local_backlog.pop_front() {
            if let PcEvent::State(s) = ev {
                connected |= s == RTCPeerConnectionState::Connected;
                if matches!(
                    s,
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
                ) {
                    return Err(RtcError::Failed("ICE or DTLS failed"));
                }
            }
        }
        while !(dgram_open && ctrl_open && connected) {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return Err(RtcError::Timeout(limit)),
                ev = self.events.recv() => match ev {
                    None => return Err(RtcError::Failed("peer connection gone")),
                    Some(PcEvent::LocalCandidate(c)) => on_candidate(Some(c)),
                    Some(PcEvent::GatheringComplete) => on_candidate(None),
                    Some(PcEvent::State(RTCPeerConnectionState::Connected)) => connected = true,
                    Some(PcEvent::State(RTCPeerConnectionState::Failed)) =>
                        return Err(RtcError::Failed("ICE or DTLS failed")),
                    Some(PcEvent::State(RTCPeerConnectionState::Closed)) =>
                        return Err(RtcError::Failed("closed")),
                    Some(_) => {}
                },
                ev = self.dgram.poll(), if !dgram_open => match ev {
                    Some(DataChannelEvent::OnOpen) => dgram_open = true,
                    Some(DataChannelEvent::OnMessage(m)) =>
                        self.early.push_back((Channel::Datagram, m.data.freeze())),
                    Some(DataChannelEvent::OnClose) | None =>
                        return Err(RtcError::Failed("datagram channel closed")),
                    Some(_) => {}
                },
                ev = self.ctrl.poll(), if !ctrl_open => match ev {
                    Some(DataChannelEvent::OnOpen) => ctrl_open = true,
                    Some(DataChannelEvent::OnMessage(m)) =>
                        self.early.push_back((Channel::Control, m.data.freeze())),
                    Some(DataChannelEvent::OnClose) | None =>
                        return Err(RtcError::Failed("control channel closed")),
                    Some(_) => {}
                },
            }
        }
        if let Some(expected) = self.expected {
            let got = self.remote_certificate_fingerprint().await?;
            if let Err(e) = got.expect(expected) {
                self.close().await;
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// The fingerprint of the certificate the other end presented in DTLS.
    pub async fn remote_certificate_fingerprint(&self) -> Result<Fingerprint, RtcError> {
        let sctp = self
            .pc
            .sctp()
            .await
            .ok_or(RtcError::Failed("no SCTP transport"))?;
        let certs = sctp
            .transport()
            .get_remote_certificates()
            .await
            .map_err(rtc_err)?;
        let first = certs
            .first()
            .ok_or(RtcError::Failed("no remote certificate"))?;
        Ok(Fingerprint::of_der(first))
    }

    /// The selected candidate pair, once connected.
    pub async fn path(&self) -> Option<PathInfo> {
        path_of(&self.pc).await
    }

    /// Closes the peer connection (both channels with it).
    pub async fn close(&self) {
        let _ = self.pc.close().await;
    }
}

pub(crate) async fn path_of(pc: &Arc<dyn PeerConnection>) -> Option<PathInfo> {
    let sctp = pc.sctp().await?;
    let pair = sctp
        .transport()
        .ice_transport()
        .get_selected_candidate_pair()
        .await
        .ok()??;
    Some(path_of_pair(pair.local(), pair.remote()))
}

/// What a selected candidate pair says about the path.
pub(crate) fn path_of_pair(
    l: &webrtc::peer_connection::RTCIceCandidate,
    r: &webrtc::peer_connection::RTCIceCandidate,
) -> PathInfo {
    let local = CandidateKind::from(l.typ);
    let remote = CandidateKind::from(r.typ);
    let kind = if local == CandidateKind::Relay || remote == CandidateKind::Relay {
        PathKind::Relayed
    } else {
        PathKind::Direct
    };
    PathInfo {
        kind,
        local,
        remote,
        local_addr: fmt_addr(&l.address, l.port),
        remote_addr: fmt_addr(&r.address, r.port),
    }
}

fn fmt_addr(ip: &str, port: u16) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// Sends one frame on a channel (used by the node's writer tasks).
///
/// On a TURN-relayed path (`relayed`), then wakes webrtc's driver loop once more
/// ([`wake_driver`]): without that, a frame there waits in webrtc's TURN client until
/// something else wakes the loop. A direct path does not need it, and skipping it there saves
/// a task, a timer and two driver passes per frame (a dedicated room sends ~150 frames a
/// second).
pub(crate) async fn send_frame(
    dc: &Arc<dyn DataChannel>,
    frame: &[u8],
    relayed: bool,
) -> Result<(), RtcError> {
    dc.send(BytesMut::from(frame)).await.map_err(rtc_err)?;
    if relayed {
        wake_driver(dc);
    }
    Ok(())
}

/// Works around a webrtc 0.21.1 driver ordering bug that holds packets back until the driver's
/// next pass: TURN-relayed frames (below), and SCTP's first packet.
///
/// Connecting: SCTP's INIT is queued as the core completes DTLS, after the pass has drained the
/// core's output, and nothing sends it until the next wake: ICE's 200 ms check timer, on an idle
/// new link. A loopback capture showed those 200 ms between DTLS's last flight and the INIT on
/// every join; the link's event handler now wakes the driver when DTLS connects. (DTLS's
/// ClientHello was held 200 ms too, but inside rtc's core, where no wake reaches: the vendored
/// rtc, `vendor/rtc/PATCHED.md`, sends it as ICE selects its pair.)
///
/// Relayed frames:
/// One pass of the driver loop (webrtc-0.21.1 src/peer_connection/driver.rs:850,
/// `poll_writes`) first drains the TURN relayer's output (:1952, "1.b") and only then drains
/// the core's packets (:1972, "1.c") — and a packet for a relayed pair goes *into* the relayer
/// there (`handle_write`, :1162 → `Relay::send_to`, which only queues the ChannelData in the
/// TURN client: rtc-turn-0.21.1 src/client/mod.rs:771). So it leaves in the *next* pass, which
/// nothing starts until a packet arrives or a timer fires — with one datagram in flight, SCTP's
/// 200 ms delayed-SACK timer (rtc-sctp-0.21.1 src/association/timer.rs:3) on each relaying
/// side; steady game traffic in both directions hides it (each send starts the pass that
/// flushes the one before).
///
/// The fix here is a second wake after the send. `set_buffered_amount_low_threshold` with the
/// unchanged value is the only public call that wakes the driver without sending anything. The
/// wake coalesces with a pending one (the driver clears its flag at the top of a pass), so it
/// must land after the pass that took our frame has started: one yield catches a driver that
/// is already running, and a 1 ms timer catches one that was not scheduled yet. On a direct
/// path the spare wakes cost an idle pass or two (~20 µs at p50 on a busy 2-core loopback).
fn wake_driver(dc: &Arc<dyn DataChannel>) {
    let dc = dc.clone();
    tokio::spawn(async move {
        let nudge = || async {
            if let Ok(t) = dc.buffered_amount_low_threshold().await {
                let _ = dc.set_buffered_amount_low_threshold(t).await;
            }
        };
        tokio::task::yield_now().await;
        nudge().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        nudge().await;
    });
}

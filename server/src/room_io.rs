//! A room's guest and the network: its HostIO (the hub's, with LAN players' addresses routed to
//! the room's LAN port), the delivery that enforces the room's game settings, its log lines.

use crate::lan_room::*;
use crate::packets::*;
use crate::tic_clock::TicClock;
use doomlink_kernel::OutputSink;
use doomlink_net::chocolate::GameSettings;
use doomlink_net::lan::GuestSink;
use doomlink_net::webrtc::mux::RtcMux;
use doomlink_net::webrtc::node::{NodeEvent, WebRtcNode};
use doomlink_net::Event;
use doomlink_play::internet::InternetHost;
use doomlink_play::sink::KernelSink;
use doomlink_play::wadshare::HostFiles;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

/// Drains a hub's events (nobody reads a dedicated room's chat), logging joins and leaves,
/// and answers joiners' requests for the room's files from disk.
pub(crate) fn spawn_event_drain(
    room: String,
    mut events: tokio::sync::mpsc::UnboundedReceiver<NodeEvent>,
    hub: WebRtcNode,
    files: HostFiles,
) {
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            match e {
                NodeEvent::Session(Event::FileWanted {
                    link,
                    hash,
                    offset,
                    len,
                }) => files.serve(&hub, link, hash, offset, len),
                e => tracing::debug!(room = %room, event = ?e, "hub"),
            }
        }
    });
}

/// The guest's stdout and stderr, into the service's log a line at a time.
pub(crate) struct LogSink(pub(crate) String);
impl OutputSink for LogSink {
    fn write(&self, data: &[u8]) {
        for line in String::from_utf8_lossy(data).lines() {
            let line = line.trim();
            if !line.is_empty() {
                tracing::info!(room = %self.0, "guest: {line}");
            }
        }
    }
}

/// Delivers to the room's guest, enforcing the room's game on the controller's GAMESTART.
pub(crate) struct SettingsGuard {
    pub(crate) inner: Arc<KernelSink>,
    pub(crate) game: GameSettings,
    pub(crate) tics: Arc<TicClock>,
}

impl GuestSink for SettingsGuard {
    fn deliver(&self, dst_port: u16, src: SocketAddrV4, data: &[u8]) {
        if is_gamedata(data) {
            self.tics.arrived();
        }
        if is_gamestart(data) {
            let mut d = data.to_vec();
            enforce_settings(&mut d, &self.game);
            self.inner.deliver(dst_port, src, &d);
        } else {
            self.inner.deliver(dst_port, src, data);
        }
    }
}

/// The room guest's HostIO: the hub node's, timing tics on their way out; datagrams to a LAN
/// player's address go to the room's LAN bridge instead, and the guest's waits read the room's
/// LAN port and its own WebRTC socket.
pub(crate) struct RoomIo {
    pub(crate) inner: InternetHost,
    pub(crate) tics: Arc<TicClock>,
    pub(crate) lan: Option<Arc<LanRoom>>,
    pub(crate) rtc: Option<RtcMux>,
}

impl doomlink_kernel::HostIO for RoomIo {
    fn send_dgram(
        &self,
        pid: doomlink_kernel::Pid,
        src_port: u16,
        dst_ip: Ipv4Addr,
        dst_port: u16,
        data: &[u8],
    ) -> Result<(), doomlink_kernel::Errno> {
        if is_gamedata(data) {
            self.tics.left();
        }
        if let Some(lan) = &self.lan {
            if LAN_SUBNET.contains_host(dst_ip) {
                return lan.send(SocketAddrV4::new(dst_ip, dst_port), data);
            }
        }
        self.inner.send_dgram(pid, src_port, dst_ip, dst_port, data)
    }
    fn on_bind(&self, pid: doomlink_kernel::Pid, port: u16) {
        self.inner.on_bind(pid, port);
    }
    fn on_unbind(&self, pid: doomlink_kernel::Pid, port: u16) {
        self.inner.on_unbind(pid, port);
    }
    fn wait_fds(&self) -> Vec<std::os::fd::RawFd> {
        let lan = self.lan.as_ref().and_then(|l| l.wait_fd());
        let rtc = self.rtc.as_ref().map(|e| e.socket_fd());
        lan.into_iter().chain(rtc).collect()
    }
    fn pump(&self) {
        if let Some(rtc) = &self.rtc {
            rtc.pump();
        }
        if let Some(lan) = &self.lan {
            lan.pump();
        }
    }
}

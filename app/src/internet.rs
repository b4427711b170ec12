//! Internet play wiring: the kernel's HostIO onto a WebRTC session node (doomlink-net's
//! `WebRtcNode`), hosting a room at a rendezvous and joining an invite link, and running the
//! rendezvous itself (`doomlink serve`). The protocol work is all in doomlink-net; this owns the
//! tokio runtime and the glue to a kernel.

use crate::netplay::KernelSink;
use crate::netview::{ChatError, ChatLine, ChatLog, NetView, PeerStatus, MAX_CHAT_BYTES};
use anyhow::{Context, Result};
use doomlink_kernel::{Errno, HostIO, Pid};
use doomlink_net::identity::Identity;
use doomlink_net::invite::InviteLink;
use doomlink_net::node::{NodeEvent, WebRtcNode};
use doomlink_net::online::{host_room, join_room, HostOptions, JoinOptions};
use doomlink_net::peer::PathKind;
use doomlink_net::rendezvous::{Rendezvous, ServeConfig};
use doomlink_net::Event;
use doomlink_net::{Config, WadSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The kernel's HostIO for Internet play: guest datagrams enter the session node.
pub struct InternetHost {
    pub node: WebRtcNode,
    pub sink: Arc<KernelSink>,
    /// Our name, for our own chat lines.
    pub name: String,
    /// Chat heard from the node's events (see [`spawn_event_reader`]).
    pub chat: Arc<ChatLog>,
}

/// Reads the node's events for as long as it runs, keeping the chat for the window.
fn spawn_event_reader(mut events: tokio::sync::mpsc::UnboundedReceiver<NodeEvent>) -> Arc<ChatLog> {
    let chat = Arc::new(ChatLog::default());
    let log = chat.clone();
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            if let NodeEvent::Session(Event::Chat { name, text, .. }) = e {
                log.push(ChatLine {
                    from: name,
                    text,
                    mine: false,
                });
            }
        }
    });
    chat
}

impl NetView for InternetHost {
    fn peers(&self) -> Vec<PeerStatus> {
        self.node
            .links()
            .into_iter()
            .map(|l| PeerStatus {
                name: l.name.clone(),
                guest_addr: l.addr,
                path: l.path.as_ref().map(|p| match p.kind {
                    PathKind::Direct => "direct".to_string(),
                    PathKind::Relayed => "relayed (TURN)".to_string(),
                }),
                rtt: l.stats.rtt,
                loss: (l.stats.pings_sent > 0).then_some(l.stats.loss),
                dgrams_in: l.stats.dgrams_in,
                dgrams_out: l.stats.dgrams_out,
                drops: l.stats.drops() + l.send_queue_drops,
            })
            .collect()
    }

    fn send_chat(&self, text: &str) -> Result<(), ChatError> {
        if text.len() > MAX_CHAT_BYTES {
            return Err(ChatError::TooLong {
                max: MAX_CHAT_BYTES,
            });
        }
        self.node
            .with_session(|s, now| s.send_chat(now, text))
            .map_err(|e| ChatError::Failed(e.to_string()))?;
        self.chat.push(ChatLine {
            from: self.name.clone(),
            text: text.to_string(),
            mine: true,
        });
        Ok(())
    }

    fn chat(&self) -> Vec<ChatLine> {
        self.chat.lines()
    }
}

impl HostIO for InternetHost {
    fn send_dgram(
        &self,
        _pid: Pid,
        src_port: u16,
        dst_ip: Ipv4Addr,
        dst_port: u16,
        data: &[u8],
    ) -> Result<(), Errno> {
        self.node
            .send_from_guest(src_port, dst_ip, dst_port, data)
            .map_err(|e| match e.wasi_errno() {
                35 => Errno::MsgSize,
                _ => Errno::NetUnreach,
            })
    }
    fn on_bind(&self, pid: Pid, port: u16) {
        self.sink.owner_bound(pid, port);
    }
    fn on_unbind(&self, _pid: Pid, port: u16) {
        self.sink.owner_gone(port);
    }
}

/// The runtime Internet play's tasks run on while the game plays on its own thread.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// The session settings: our name and the IWAD's hash, which a joiner must share with the host.
pub fn session_config(name: &str, iwad: &Path) -> Result<Config> {
    use sha2::{Digest, Sha256};
    let bytes =
        std::fs::read(iwad).with_context(|| format!("{}: cannot read it", iwad.display()))?;
    let iwad_hash: [u8; 32] = Sha256::digest(&bytes).into();
    Ok(Config::new(
        name,
        WadSet {
            iwad: iwad_hash,
            pwads: Vec::new(),
        },
    ))
}

fn rtc_bind(bind: Option<Ipv4Addr>) -> Option<Vec<SocketAddr>> {
    bind.map(|ip| vec![SocketAddr::from((ip, 0))])
}

/// Registers a room at `rendezvous` and takes joiners into a hub node for as long as the runtime
/// runs. Returns the host's HostIO and the invite link.
pub fn host(
    rt: &tokio::runtime::Runtime,
    rendezvous: &str,
    data_dir: &Path,
    cfg: Config,
    bind: Option<Ipv4Addr>,
) -> Result<(Arc<InternetHost>, Arc<KernelSink>, InviteLink)> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let identity = Identity::load_or_create(data_dir)?;
    let name = cfg.name.clone();
    rt.block_on(async move {
        let mut opts = HostOptions::new(rendezvous, identity);
        opts.name = name;
        if let Some(b) = rtc_bind(bind) {
            opts.rtc.bind = b;
        }
        let mut room = host_room(opts).await?;
        let invite = room.invite.clone();
        let sink = KernelSink::new();
        let name = cfg.name.clone();
        let (hub, events) = WebRtcNode::hub(cfg, sink.clone());
        let taker = hub.clone();
        tokio::spawn(async move {
            while let Some(j) = room.next_joiner().await {
                match j {
                    Ok(j) => {
                        if let Err(e) = taker.add_link(j.link) {
                            eprintln!("doomlink: {} could not join: {e}", j.name);
                        }
                    }
                    Err(e) => eprintln!("doomlink: a joiner failed: {e}"),
                }
            }
        });
        let chat = spawn_event_reader(events);
        Ok((
            Arc::new(InternetHost {
                node: hub,
                sink: sink.clone(),
                name,
                chat,
            }),
            sink,
            invite,
        ))
    })
}

/// Joins an invite link: connects to the host, waits for the welcome, and returns the HostIO and
/// the hub's virtual address (where the guest connects).
pub fn join(
    rt: &tokio::runtime::Runtime,
    invite: &InviteLink,
    cfg: Config,
    bind: Option<Ipv4Addr>,
) -> Result<(Arc<InternetHost>, Arc<KernelSink>, Ipv4Addr)> {
    rt.block_on(async move {
        let mut opts = JoinOptions {
            name: cfg.name.clone(),
            ..Default::default()
        };
        if let Some(b) = rtc_bind(bind) {
            opts.rtc.bind = b;
        }
        let joined = join_room(invite, opts).await?;
        let sink = KernelSink::new();
        let name = cfg.name.clone();
        let (client, events) = WebRtcNode::client(cfg, sink.clone());
        client.add_link(joined.link)?;
        let chat = spawn_event_reader(events);
        let deadline = Instant::now() + Duration::from_secs(15);
        let hub = loop {
            if let Some(h) = client.with_session(|s, _| s.local_addr().and(s.hub_addr())) {
                break h;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the host did not welcome us within 15 s (a different IWAD?)"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        Ok((
            Arc::new(InternetHost {
                node: client,
                sink: sink.clone(),
                name,
                chat,
            }),
            sink,
            hub,
        ))
    })
}

/// `doomlink serve`: runs the rendezvous until SIGTERM or SIGINT, then closes its rooms.
pub fn serve(cfg: ServeConfig) -> Result<()> {
    let rt = runtime()?;
    rt.block_on(async move {
        let rv = Rendezvous::bind(cfg).await?;
        let stop = rv.shutdown_handle();
        println!(
            "doomlink serve: listening on {} (STUN/TURN on UDP {})",
            rv.http_addr(),
            rv.stun_addr()
        );
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
            eprintln!("doomlink serve: closing the rooms");
            stop.shutdown();
        });
        rv.run().await?;
        Ok(())
    })
}

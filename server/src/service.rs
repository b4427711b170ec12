//! `doomlink serve`: the rendezvous and the dedicated rooms in one process, its signals (SIGHUP
//! reloads the config and the TLS certificate, SIGTERM drains) and its data directory.

use crate::config::RoomSpec;
use crate::rooms::*;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How `doomlink serve` runs: the validated settings and the config file they came from (for
/// SIGHUP), with command-line overrides already applied.
pub struct Service {
    pub settings: crate::config::ServeSettings,
    pub config_file: Option<PathBuf>,
    /// Re-applies the command line's overrides to a reloaded file.
    pub overrides: Box<dyn Fn(&mut crate::config::ServeSettings) + Send + Sync>,
}

/// The service's data dir (TURN secret, identity): `data_dir/serve`.
pub fn service_data_dir(s: &crate::config::ServeSettings) -> PathBuf {
    s.data_dir
        .clone()
        .unwrap_or_else(doomlink_play::guest::default_data_dir)
        .join("serve")
}

/// `doomlink serve`: the rendezvous and the dedicated rooms until SIGTERM/SIGINT (drain, then
/// exit); SIGHUP reloads the config file.
pub fn serve(svc: Service) -> anyhow::Result<()> {
    use anyhow::Context;
    use doomlink_net::rendezvous::{Rendezvous, ServeConfig};
    let s = svc.settings.clone();
    let data_dir = service_data_dir(&s);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let public = s
        .public_addr
        .clone()
        .unwrap_or_else(|| s.listen.ip().to_string());
    let mut cfg = ServeConfig::new(s.listen, public.clone(), data_dir.clone());
    cfg.stun_port = s.stun_port;
    cfg.turn_port = s.turn_port;
    cfg.turn_allow_peers = s.turn_allow_peers.clone();
    cfg.http.trusted_proxies = s.trusted_proxies.clone();
    cfg.builtin_turn = s.builtin_turn;
    cfg.turn_servers = s.turn_servers.clone();
    cfg.tls = s.tls.clone();
    if let Some(dir) = &s.web_dir {
        // The page, its scripts and the kernel from the directory; doom.wasm is this
        // service's own, the file its dedicated rooms run.
        let mut web = doomlink_net::rendezvous::web::WebFiles::from_dir(dir)?;
        web.insert("doom.wasm", doomlink_assets::DOOM_WASM.to_vec());
        cfg.web = Arc::new(web);
        // The free IWADs among those given for dedicated rooms go to browser players too.
        let mut given = s.iwads.clone();
        given.extend(s.standing.iter().map(|r| r.iwad.clone()));
        given.sort();
        given.dedup();
        let (shelf, skipped) = doomlink_net::rendezvous::iwads::IwadShelf::from_files(&given);
        for line in skipped {
            tracing::info!("{line}");
        }
        cfg.iwads = Arc::new(shelf);
    }
    // Every dedicated room registers from 127.0.0.1: lift the per-address caps by as many.
    cfg.limits.rooms_per_ip += s.limits.rooms;
    cfg.limits.connections_per_ip += s.limits.rooms;
    cfg.limits.max_rooms += s.limits.rooms;
    let rt = doomlink_play::internet::service_runtime()?;
    rt.block_on(async move {
        let rv = Rendezvous::bind(cfg).await?;
        let stop = rv.shutdown_handle();
        let admin = rv.admin_handle();
        let tls = rv.tls_handle();
        admin.set_token(s.admin_token.clone());
        let http = rv.http_addr();
        let local = if http.ip().is_unspecified() {
            SocketAddr::from((Ipv4Addr::LOCALHOST, http.port()))
        } else {
            http
        };
        let public_host = if public.contains(':') && !public.starts_with('[') {
            format!("[{public}]")
        } else {
            public.clone()
        };
        let rooms = Rooms::new(RoomsConfig {
            local_rendezvous: local,
            local_tls: tls.as_ref().map(|t| t.local_client()),
            public_rendezvous: format!("{public_host}:{}", http.port()),
            data_dir: data_dir.clone(),
            iwads: s.iwads.clone(),
            pwads: s.pwads.clone(),
            limits: s.limits.clone(),
            rtc_bind: s.rtc_bind,
            rtc_port: s.rtc_port,
            rtc_threads: s.rtc_threads,
            rtc_edge: s.rtc_edge,
            rtc_advertise: advertised_ips(s.public_addr.as_deref()),
            lan_bind: s.lan_bind,
            stun_turn_ports: [rv.stun_addr().port(), rv.turn_addr().port()],
        })?;
        if s.limits.rooms > 0 {
            admin.set_rooms(Arc::new(rooms.clone()));
        }
        println!(
            "doomlink serve: listening on {}{} (STUN/TURN on UDP {}, {})",
            http,
            if tls.is_some() { " with TLS" } else { "" },
            rv.stun_addr(),
            rv.turn_addr()
        );
        tracing::info!(http = %http, rooms_limit = s.limits.rooms, standing = s.standing.len(), "service up");
        let running = tokio::spawn(rv.run());
        for spec in s.standing.clone() {
            start_standing_logged(&rooms, spec).await;
        }
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hup = signal(SignalKind::hangup())?;
        let mut current = s.clone();
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => {
                    if let Some(tls) = &tls {
                        if let Err(e) = tls.reload() {
                            tracing::error!("SIGHUP: TLS certificate not reloaded, the one in use stays: {e}");
                        }
                    }
                    reload(&svc, &mut current, &rooms, &admin).await;
                }
            }
        }
        tracing::info!(drain_seconds = current.drain_seconds, "draining");
        admin.set_draining(true);
        rooms.drain(Duration::from_secs(current.drain_seconds)).await;
        stop.shutdown();
        match tokio::time::timeout(Duration::from_secs(5), running).await {
            Ok(Ok(r)) => r?,
            Ok(Err(e)) => anyhow::bail!("the rendezvous task failed: {e}"),
            Err(_) => tracing::warn!("the rendezvous did not stop within 5 s"),
        }
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    // Guest threads that are still unwinding must not hold the exit up.
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

/// `public_addr` as addresses for the rooms' WebRTC to advertise: itself if an IP, else what
/// it resolves to (once, at start).
pub(crate) fn advertised_ips(public_addr: Option<&str>) -> Vec<std::net::IpAddr> {
    use std::net::ToSocketAddrs;
    let Some(p) = public_addr else {
        return Vec::new();
    };
    if let Ok(ip) = p.trim_matches(['[', ']']).parse() {
        return vec![ip];
    }
    match (p, 0).to_socket_addrs() {
        Ok(addrs) => addrs.map(|a| a.ip()).filter(|ip| ip.is_ipv4()).collect(),
        Err(e) => {
            tracing::warn!(
                public_addr = p,
                "cannot resolve public_addr for WebRTC: {e}"
            );
            Vec::new()
        }
    }
}

async fn start_standing_logged(rooms: &Rooms, spec: RoomSpec) {
    let name = spec.name.clone();
    match rooms.start_standing(spec).await {
        Ok(c) => {
            tracing::info!(room = %c.room, name = %name, link = %c.link, "standing room");
            // The link on a line of its own, as `host --internet` prints it.
            println!("{name} {}", c.link);
        }
        Err(e) => tracing::error!(name = %name, "standing room did not start: {e}"),
    }
}

/// SIGHUP: re-read the config (the TLS certificate and key are re-read by the caller, from
/// the paths the service started with); limits, the admin token, IWADs and standing rooms take effect
/// now (a room's `lan_port` is part of the room: changing it restarts that room). Addresses
/// and ports (listen, public_addr, STUN/TURN, turn_allow_peers, trusted_proxies,
/// builtin_turn, turn_server, rtc_bind, lan_bind, data_dir, web_dir) need a restart.
async fn reload(
    svc: &Service,
    current: &mut crate::config::ServeSettings,
    rooms: &Rooms,
    admin: &doomlink_net::rendezvous::AdminHandle,
) {
    let Some(path) = &svc.config_file else {
        // With TLS the signal had work to do (the certificate); only without it is it a slip.
        if current.tls.is_none() {
            tracing::warn!("SIGHUP: no config file to reload");
        }
        return;
    };
    let mut new = match crate::config::load(path) {
        Ok(n) => n,
        Err(e) => {
            tracing::error!("SIGHUP: config not reloaded: {e}");
            return;
        }
    };
    (svc.overrides)(&mut new);
    if new.listen != current.listen
        || new.public_addr != current.public_addr
        || new.stun_port != current.stun_port
        || new.turn_port != current.turn_port
        || new.turn_allow_peers != current.turn_allow_peers
        || new.trusted_proxies != current.trusted_proxies
        || new.builtin_turn != current.builtin_turn
        || new.turn_servers != current.turn_servers
        || new.rtc_bind != current.rtc_bind
        || new.rtc_port != current.rtc_port
        || new.rtc_threads != current.rtc_threads
        || new.rtc_edge != current.rtc_edge
        || new.lan_bind != current.lan_bind
        || new.data_dir != current.data_dir
        || new.tls != current.tls
    {
        tracing::warn!("SIGHUP: addresses, ports, TURN servers, data_dir and the TLS files' paths changed in the file take a restart; kept as they are");
    }
    admin.set_token(new.admin_token.clone());
    rooms.set_limits(new.limits.clone(), new.iwads.clone(), new.pwads.clone());
    let running = rooms.standing_names();
    for old in &current.standing {
        let kept = new.standing.iter().find(|n| n.name == old.name);
        if kept != Some(old) {
            rooms.close_standing(&old.name);
        }
    }
    for spec in &new.standing {
        let same = current.standing.iter().any(|o| o == spec);
        if !(same && running.contains(&spec.name)) {
            start_standing_logged(rooms, spec.clone()).await;
        }
    }
    tracing::info!(
        standing = new.standing.len(),
        rooms_limit = new.limits.rooms,
        "config reloaded"
    );
    current.admin_token = new.admin_token;
    current.limits = new.limits;
    current.iwads = new.iwads;
    current.standing = new.standing;
    current.drain_seconds = new.drain_seconds;
}

//! The service's figures as Prometheus text (`/metrics`) and the counts `/health` gives, and
//! the tic delay histogram the rooms keep.
//!
//! The figures come from what the rooms publish — each hub's link reports, published by its
//! timer task, and each LAN port's players and RTTs, published by the guest's thread as it
//! reads the port, both at most every `PUBLISH_EVERY` — and from counters: rendering takes no
//! lock a player's datagram takes. Requests get the last [`Snapshot`], rendered again only once
//! it is [`PUBLISH_MAX_AGE`] old (one request renders, the others wait for it and share it), so
//! a flood of requests costs at most four renders a second.

use crate::lock;
use crate::procstat::*;
use crate::rooms::*;
use crate::tic_clock::TIC_BUCKETS;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How old the published figures may be before a request renders them again.
pub(crate) const PUBLISH_MAX_AGE: Duration = Duration::from_millis(250);

/// The figures last rendered, and how many renders there have been.
#[derive(Default)]
pub(crate) struct Published {
    last: Mutex<Option<Snapshot>>,
    renders: AtomicU64,
}

/// One render: the Prometheus text and the counts for `/health`.
#[derive(Clone)]
pub(crate) struct Snapshot {
    at: Instant,
    pub(crate) text: Arc<str>,
    pub(crate) rooms: usize,
    pub(crate) players: usize,
}

/// The published figures, rendered anew if they are older than [`PUBLISH_MAX_AGE`].
pub(crate) fn published(rooms: &Rooms) -> Snapshot {
    let published = &rooms.inner.published;
    // Held while rendering: requests that come meanwhile wait and take this render.
    let mut last = lock(&published.last);
    if let Some(s) = last.as_ref().filter(|s| s.at.elapsed() < PUBLISH_MAX_AGE) {
        return s.clone();
    }
    let renders = published.renders.fetch_add(1, Ordering::Relaxed) + 1;
    let s = render(rooms, renders);
    *last = Some(s.clone());
    s
}

/// Prometheus text for the rooms and the process, and the counts.
fn render(rooms: &Rooms, renders: u64) -> Snapshot {
    use std::fmt::Write;
    let at = Instant::now();
    let list: Vec<Arc<Room>> = lock(&rooms.inner.rooms).values().cloned().collect();
    let players: usize = list.iter().map(|r| r.published_players()).sum();
    let mut s = String::new();
    let head = |s: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    let inner = &rooms.inner;
    // Taken apart from the list below: a lock guard made in a `for`'s head lives to the end
    // of the loop, and edge_sum takes the same lock.
    let edge_links: usize = lock(&inner.edges).iter().map(|e| e.links()).sum::<usize>()
        + list
            .iter()
            .filter_map(|r| r.rtc.as_ref())
            .map(|e| e.links())
            .sum::<usize>();
    for (name, kind, help, v) in [
        (
            "doomlink_rooms",
            "gauge",
            "Dedicated rooms running.",
            list.len() as f64,
        ),
        (
            "doomlink_players",
            "gauge",
            "Players in dedicated rooms.",
            players as f64,
        ),
        (
            "doomlink_metrics_renders_total",
            "counter",
            "Times the rooms were visited for these figures (at most four a second, however often they are asked for).",
            renders as f64,
        ),
        (
            "doomlink_rooms_created_total",
            "counter",
            "Dedicated rooms opened.",
            inner.created_total.load(Ordering::Relaxed) as f64,
        ),
        (
            "doomlink_webrtc_edge_links",
            "gauge",
            "WebRTC links at the rooms' edges (connecting, up, or closing).",
            edge_links as f64,
        ),
        (
            "doomlink_webrtc_edge_datagrams_in_total",
            "counter",
            "UDP datagrams the rooms' WebRTC port received (STUN, DTLS, SCTP; every room).",
            edge_sum(inner, |c| &c.datagrams_in),
        ),
        (
            "doomlink_webrtc_edge_datagrams_out_total",
            "counter",
            "UDP datagrams the rooms' WebRTC port sent.",
            edge_sum(inner, |c| &c.datagrams_out),
        ),
        (
            "doomlink_webrtc_edge_unknown_dropped_total",
            "counter",
            "Datagrams dropped at the rooms' WebRTC port: from an address no link knows, and not a binding request for one.",
            edge_sum(inner, |c| &c.unknown_dropped),
        ),
        (
            "doomlink_webrtc_edge_send_failed_total",
            "counter",
            "Datagrams the rooms' WebRTC port could not send (socket buffer full).",
            edge_sum(inner, |c| &c.send_failed),
        ),
        (
            "doomlink_webrtc_edge_addrs_refused_total",
            "counter",
            "Datagrams dropped at the rooms' WebRTC port: from a new address for a link that holds its most addresses.",
            edge_sum(inner, |c| &c.addrs_refused),
        ),
        (
            "doomlink_webrtc_edge_send_queue_overflows_total",
            "counter",
            "Links failed because their peer stopped acknowledging what the room sent.",
            edge_sum(inner, |c| &c.send_queue_overflows),
        ),
        (
            "doomlink_rooms_failed_total",
            "counter",
            "Dedicated rooms closed because their guest trapped, I_Errored or ended.",
            inner.failed_total.load(Ordering::Relaxed) as f64,
        ),
        (
            "doomlink_games_total",
            "counter",
            "Games started in dedicated rooms (a standing room starts one after each ends).",
            inner.games_total.load(Ordering::Relaxed) as f64,
        ),
        (
            "doomlink_players_refused_total",
            "counter",
            "Joiners turned away because their room was full.",
            inner.refused_players_total.load(Ordering::Relaxed) as f64,
        ),
        (
            "doomlink_draining",
            "gauge",
            "1 while the service drains (SIGTERM).",
            inner.draining.load(Ordering::Relaxed) as u8 as f64,
        ),
    ] {
        head(&mut s, name, kind, help);
        let _ = writeln!(s, "{name} {v}");
    }
    if let Some((cpu, rss)) = process_figures() {
        head(
            &mut s,
            "process_cpu_seconds_total",
            "counter",
            "CPU time of the whole service.",
        );
        let _ = writeln!(s, "process_cpu_seconds_total {cpu}");
        head(
            &mut s,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of the service.",
        );
        let _ = writeln!(s, "process_resident_memory_bytes {rss}");
    }
    // Per room, labelled by room id.
    type Fig = (&'static str, &'static str, &'static str);
    const PER_ROOM: [Fig; 14] = [
        (
            "doomlink_room_players",
            "gauge",
            "Players in the room (WebRTC and LAN).",
        ),
        (
            "doomlink_room_datagrams_in_total",
            "counter",
            "Game datagrams from the room's players.",
        ),
        (
            "doomlink_room_datagrams_out_total",
            "counter",
            "Game datagrams to the room's players.",
        ),
        (
            "doomlink_room_bytes_in_total",
            "counter",
            "Payload bytes from the room's players.",
        ),
        (
            "doomlink_room_bytes_out_total",
            "counter",
            "Payload bytes to the room's players.",
        ),
        (
            "doomlink_room_drops_total",
            "counter",
            "Datagrams dropped: invalid, unroutable, full send queues, full guest socket queues, from LAN peers the room did not take.",
        ),
        (
            "doomlink_room_rtt_seconds",
            "gauge",
            "Mean smoothed round-trip time to the room's players.",
        ),
        (
            "doomlink_room_rtt_max_seconds",
            "gauge",
            "Largest smoothed round-trip time to a player of the room.",
        ),
        (
            "doomlink_room_guest_cpu_seconds_total",
            "counter",
            "CPU time of the room's Chocolate Doom guest threads.",
        ),
        (
            "doomlink_room_lan_players",
            "gauge",
            "Players in the room over the LAN transport (its lan_port); also in doomlink_room_players.",
        ),
        (
            "doomlink_room_lan_datagrams_in_total",
            "counter",
            "Game datagrams from the room's LAN players; also in doomlink_room_datagrams_in_total.",
        ),
        (
            "doomlink_room_lan_datagrams_out_total",
            "counter",
            "Game datagrams to the room's LAN players; also in doomlink_room_datagrams_out_total.",
        ),
        (
            "doomlink_room_lan_bytes_in_total",
            "counter",
            "Payload bytes from the room's LAN players; also in doomlink_room_bytes_in_total.",
        ),
        (
            "doomlink_room_lan_bytes_out_total",
            "counter",
            "Payload bytes to the room's LAN players; also in doomlink_room_bytes_out_total.",
        ),
    ];
    let figures: Vec<(String, [f64; 14])> = list
        .iter()
        .map(|r| {
            let links = r.hub.published_links();
            let mut f = [0.0; 14];
            f[0] = links.iter().filter(|l| l.addr.is_some()).count() as f64;
            let mut rtts: Vec<f64> = links
                .iter()
                .filter_map(|l| l.stats.rtt.map(|d| d.as_secs_f64()))
                .collect();
            if let Some(lan) = &r.lan {
                let n = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64;
                let published = lan.published();
                f[9] = published.players as f64;
                f[10] = n(&lan.dgrams_in);
                f[11] = n(&lan.dgrams_out);
                f[12] = n(&lan.bytes_in);
                f[13] = n(&lan.bytes_out);
                f[0] += f[9];
                f[1] += f[10];
                f[2] += f[11];
                f[3] += f[12];
                f[4] += f[13];
                f[5] += (n(&lan.refused) as u64 + published.drops) as f64;
                rtts.extend(published.rtts);
            }
            for l in links.iter() {
                f[1] += l.stats.dgrams_in as f64;
                f[2] += l.stats.dgrams_out as f64;
                f[3] += l.stats.dgram_bytes_in as f64;
                f[4] += l.stats.dgram_bytes_out as f64;
                f[5] += (l.stats.drops() + l.send_queue_drops) as f64;
            }
            f[5] += r.sink.queue_drops() as f64;
            if !rtts.is_empty() {
                f[6] = rtts.iter().sum::<f64>() / rtts.len() as f64;
                f[7] = rtts.iter().cloned().fold(0.0, f64::max);
            }
            f[8] = r.cpu_seconds();
            (r.id.clone(), f)
        })
        .collect();
    for (i, (name, kind, help)) in PER_ROOM.iter().enumerate() {
        head(&mut s, name, kind, help);
        for (id, f) in &figures {
            let _ = writeln!(s, "{name}{{room=\"{id}\"}} {}", f[i]);
        }
    }
    let name = "doomlink_room_tic_delay_seconds";
    head(
        &mut s,
        name,
        "histogram",
        "Delay of a tic through the service: the game datagram completing a tic in, to the server's next game datagram out.",
    );
    for r in &list {
        let mut acc = 0;
        for (i, b) in r.tics.buckets.iter().enumerate() {
            acc += b.load(Ordering::Relaxed);
            let le = TIC_BUCKETS
                .get(i)
                .map(|b| b.to_string())
                .unwrap_or_else(|| "+Inf".into());
            let _ = writeln!(s, "{name}_bucket{{room=\"{}\",le=\"{le}\"}} {acc}", r.id);
        }
        let _ = writeln!(
            s,
            "{name}_sum{{room=\"{}\"}} {}\n{name}_count{{room=\"{}\"}} {acc}",
            r.id,
            r.tics.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
            r.id
        );
    }
    Snapshot {
        at,
        text: s.into(),
        rooms: list.len(),
        players,
    }
}

/// A counter summed over the rooms' WebRTC edges.
pub(crate) fn edge_sum(
    inner: &Inner,
    f: impl Fn(&doomlink_net::webrtc::mux::MuxCounters) -> &AtomicU64,
) -> f64 {
    let shared: u64 = lock(&inner.edges)
        .iter()
        .map(|e| f(e.counters()).load(Ordering::Relaxed))
        .sum();
    (shared + f(&inner.room_edge_counters).load(Ordering::Relaxed)) as f64
}

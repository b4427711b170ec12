//! A link that dies silently (its TURN relay vanishes mid-game: no Bye, no close, just no more
//! packets) is noticed and reported within 10 s, and the game goes on for the others.

mod common;

use std::time::{Duration, Instant};

use common::*;
use doomlink_net::identity::Identity;
use doomlink_net::online::manual::{ManualHost, ManualJoin};
use doomlink_net::online::{host_room, join_room, HostOptions, JoinOptions};
use doomlink_net::rendezvous::Limits;
use doomlink_net::webrtc::node::{NodeEvent, WebRtcNode};
use doomlink_net::webrtc::peer::{PathKind, RtcOptions};
use doomlink_net::{CloseReason, Event};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silently_dead_link_is_reported_within_10_s_and_the_game_goes_on() {
    init_tracing();
    // The game's rendezvous; the hub and one healthy client meet there.
    let rv = TestRendezvous::start(Limits::default()).await;
    let mut opts = HostOptions::new(rv.host_port(), Identity::ephemeral().unwrap());
    opts.rtc = RtcOptions::loopback();
    let mut room = host_room(opts).await.unwrap();
    let hub_in = Inbox::new();
    let (hub, mut hub_ev) = WebRtcNode::hub(cfg("hub"), hub_in.clone());
    let invite = room.invite.clone();
    let (joined, j) = tokio::join!(
        join_room(
            &invite,
            JoinOptions {
                name: "alive".into(),
                rtc: RtcOptions::loopback(),
                tls: Default::default(),
            }
        ),
        room.next_joiner()
    );
    hub.add_link(j.unwrap().unwrap().link).unwrap();
    let alive_in = Inbox::new();
    let (alive, mut alive_ev) = WebRtcNode::client(cfg("alive"), alive_in.clone());
    alive.add_link(joined.unwrap().link).unwrap();
    let alive_addr = wait_joined(&mut alive_ev).await;

    // The victim reaches the hub only through a second service's TURN relay (manual codes,
    // relay-only): killing that service kills the victim's path and nothing else.
    let doomed = TestRendezvous::start(Limits::default()).await;
    let relay_room = host_room(HostOptions::new(
        doomed.host_port(),
        Identity::ephemeral().unwrap(),
    ))
    .await
    .unwrap();
    let victim_rtc = RtcOptions {
        relay_only: true,
        ice_servers: relay_room.ice.clone(),
        ..RtcOptions::loopback()
    };
    let host_side = ManualHost::start(&RtcOptions::loopback()).await.unwrap();
    let join_side = ManualJoin::start(host_side.offer_code(), &victim_rtc)
        .await
        .unwrap();
    let answer = join_side.answer_code().to_owned();
    let (h, v) = tokio::join!(host_side.accept(&answer), join_side.connect());
    let (h, v) = (h.unwrap(), v.unwrap());
    assert_eq!(v.path().await.unwrap().kind, PathKind::Relayed);
    let victim_link = hub.add_link(h).unwrap();
    let (victim, mut victim_ev) = WebRtcNode::client(cfg("victim"), Inbox::new());
    victim.add_link(v).unwrap();
    wait_joined(&mut victim_ev).await;
    assert_eq!(hub.links().len(), 2);

    // The relay goes away without a word.
    let died = Instant::now();
    drop(relay_room);
    doomed.stop.shutdown();
    let closed = wait_event(
        &mut hub_ev,
        Duration::from_secs(12),
        |e| matches!(e, NodeEvent::Session(Event::LinkClosed { link, .. }) if *link == victim_link),
    )
    .await;
    let took = died.elapsed();
    let Some(NodeEvent::Session(Event::LinkClosed { reason, .. })) = closed else {
        panic!("the dead link was never reported");
    };
    assert!(
        took <= Duration::from_secs(10) + Duration::from_millis(500),
        "noticed after {took:?}"
    );
    assert!(
        matches!(reason, CloseReason::TimedOut | CloseReason::TransportClosed),
        "{reason:?}"
    );
    eprintln!("dead link reported after {took:?} ({reason:?})");
    // The healthy client hears that the victim left, and keeps playing.
    assert!(
        wait_event(&mut alive_ev, Duration::from_secs(3), |e| matches!(
            e,
            NodeEvent::Session(Event::PeerLeft { .. })
        ))
        .await
        .is_some()
    );
    datagrams_flow(&alive, hub.local_addr().unwrap(), 2342, &hub_in, 30).await;
    datagrams_flow(&hub, alive_addr, 6000, &alive_in, 30).await;
}

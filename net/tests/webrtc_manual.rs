//! Manual offer/answer codes between two sessions over real WebRTC on 127.0.0.1, with no
//! rendezvous at all.

mod common;

use std::time::Duration;

use common::*;
use doomlink_net::online::manual::{ManualHost, ManualJoin};
use doomlink_net::webrtc::node::{NodeEvent, WebRtcNode};
use doomlink_net::webrtc::peer::{PathKind, RtcOptions};
use doomlink_net::Event;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_codes_connect_two_sessions_on_loopback() {
    init_tracing();
    let opts = RtcOptions::loopback();
    let host = ManualHost::start(&opts).await.expect("offer");
    let offer = host.offer_code().to_owned();
    assert!(
        offer.len() < 160,
        "offer code is {} chars: {offer}",
        offer.len()
    );
    assert!(!offer.contains(char::is_whitespace));

    let join = ManualJoin::start(&offer, &opts).await.expect("answer");
    let answer = join.answer_code().to_owned();
    assert!(answer.len() < 160, "answer code is {} chars", answer.len());

    let (host_link, join_link) = tokio::join!(host.accept(&answer), join.connect());
    let (host_link, join_link) = (
        host_link.expect("host side"),
        join_link.expect("joiner side"),
    );
    let path = join_link.path().await.expect("a selected pair");
    assert_eq!(path.kind, PathKind::Direct, "{path:?}");

    let hub_in = Inbox::new();
    let cli_in = Inbox::new();
    let (hub, mut hub_ev) = WebRtcNode::hub(cfg("alice"), hub_in.clone());
    let (cli, mut cli_ev) = WebRtcNode::client(cfg("bob"), cli_in.clone());
    hub.add_link(host_link).unwrap();
    cli.add_link(join_link).unwrap();
    let addr = wait_joined(&mut cli_ev).await;
    assert!(
        wait_event(&mut hub_ev, Duration::from_secs(5), |e| matches!(
            e,
            NodeEvent::Session(Event::PeerJoined { .. })
        ))
        .await
        .is_some()
    );

    // Datagrams both ways on the unordered channel.
    datagrams_flow(&cli, hub.local_addr().unwrap(), 2342, &hub_in, 50).await;
    datagrams_flow(&hub, addr, 7000, &cli_in, 50).await;
    // Control: chat on the reliable channel.
    hub.with_session(|s, now| s.send_chat(now, "hello bob"))
        .unwrap();
    let chat = wait_event(&mut cli_ev, Duration::from_secs(5), |e| {
        matches!(e, NodeEvent::Session(Event::Chat { .. }))
    })
    .await;
    assert!(
        matches!(chat, Some(NodeEvent::Session(Event::Chat { ref text, .. })) if text == "hello bob"),
        "{chat:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_codes_work_over_ipv6_loopback() {
    init_tracing();
    let opts = RtcOptions {
        bind: vec!["[::1]:0".parse().unwrap()],
        ..RtcOptions::default()
    };
    let host = ManualHost::start(&opts).await.expect("offer");
    let code = doomlink_net::online::manual::ManualCode::decode(host.offer_code()).unwrap();
    assert!(code.candidates.iter().all(|c| c.addr.is_ipv6()), "{code:?}");
    let join = ManualJoin::start(host.offer_code(), &opts)
        .await
        .expect("answer");
    let answer = join.answer_code().to_owned();
    let (h, j) = tokio::join!(host.accept(&answer), join.connect());
    let (h, j) = (h.unwrap(), j.unwrap());
    let path = h.path().await.unwrap();
    assert_eq!(path.kind, PathKind::Direct);
    assert!(path.remote_addr.starts_with("[::1]:"), "{path:?}");
    let hub_in = Inbox::new();
    let (hub, _) = WebRtcNode::hub(cfg("alice"), hub_in.clone());
    let (cli, mut cli_ev) = WebRtcNode::client(cfg("bob"), Inbox::new());
    hub.add_link(h).unwrap();
    cli.add_link(j).unwrap();
    wait_joined(&mut cli_ev).await;
    datagrams_flow(&cli, hub.local_addr().unwrap(), 2342, &hub_in, 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_damaged_code_is_refused_before_connecting() {
    let opts = RtcOptions::loopback();
    let host = ManualHost::start(&opts).await.unwrap();
    // The host's own offer pasted back as an answer.
    let offer = host.offer_code().to_owned();
    let e = host.accept(&offer).await.unwrap_err().to_string();
    assert!(e.contains("where an answer code was expected"), "{e}");
    let e = ManualJoin::start("bm90IGEgY29kZQ", &opts)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("damaged") || e.contains("truncated"), "{e}");
}

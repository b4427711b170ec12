//! The file exchange, driven by hand between a hub and one client with time as an input: a
//! joiner without the game's PWAD fetches it and is welcomed; a joiner told the list that still
//! names other files is refused; and every way a peer can break the exchange closes its link.

use super::super::*;
use crate::relay::wire::{FileData, FileRequest, WadEntry, WadHash, WadSet, MAX_FILE_CHUNK};
use std::time::Duration;

const IWAD: WadHash = [1; 32];
const PWAD: WadHash = [2; 32];
const COMMERCIAL: WadHash = [3; 32];

fn game_wads() -> WadSet {
    WadSet {
        iwad: IWAD,
        pwads: vec![PWAD],
    }
}

/// The PWAD's bytes: longer than a window of requests, so the window moves.
fn pwad_bytes() -> Vec<u8> {
    (0..((REQUESTS_IN_FLIGHT + 1) * REQUEST_LEN as usize + 5000))
        .map(|i| (i * 7 % 251) as u8)
        .collect()
}

fn offer(iwad_offered: bool) -> Vec<WadEntry> {
    vec![
        WadEntry {
            hash: if iwad_offered { IWAD } else { COMMERCIAL },
            size: 1000,
            name: "doom2.wad".into(),
            iwad: true,
            offered: iwad_offered,
        },
        WadEntry {
            hash: PWAD,
            size: pwad_bytes().len() as u64,
            name: "map01.wad".into(),
            iwad: false,
            offered: true,
        },
    ]
}

struct Pair {
    now: Instant,
    hub: Session,
    client: Session,
    hl: LinkId,
    cl: LinkId,
    /// What the client's app was handed: file bytes, in order.
    received: Vec<u8>,
    fetched: Vec<WadHash>,
    listed: Option<Vec<WadEntry>>,
    joined: bool,
    closed: Vec<CloseReason>,
    /// Whether the hub's app answers FileWanted (a hub app that stalls otherwise).
    serve: bool,
}

impl Pair {
    fn new(client_wads: WadSet, offer: Vec<WadEntry>) -> Pair {
        let now = Instant::now();
        let mut cfg = Config::new("host", game_wads());
        cfg.offer = offer;
        let mut hub = Session::hub(cfg, now);
        let mut client = Session::client(Config::new("joiner", client_wads), now);
        let hl = hub.link_up(now).unwrap();
        let cl = client.link_up(now).unwrap();
        let mut p = Pair {
            now,
            hub,
            client,
            hl,
            cl,
            received: Vec::new(),
            fetched: Vec::new(),
            listed: None,
            joined: false,
            closed: Vec::new(),
            serve: true,
        };
        p.run();
        p
    }

    /// Carries frames both ways, and plays both apps, until nothing moves.
    fn run(&mut self) {
        let file = pwad_bytes();
        loop {
            let mut moved = false;
            while let Some(o) = self.client.poll_output() {
                match o {
                    Output::Transmit(t) => {
                        moved = true;
                        self.hub.handle_frame(self.now, self.hl, &t.frame);
                    }
                    Output::Event(Event::HostWads(l)) => self.listed = Some(l),
                    Output::Event(Event::FileData { offset, data, .. }) => {
                        assert_eq!(offset as usize, self.received.len());
                        self.received.extend_from_slice(&data);
                    }
                    Output::Event(Event::FileFetched { hash }) => self.fetched.push(hash),
                    Output::Event(Event::Joined { .. }) => self.joined = true,
                    Output::Event(Event::LinkClosed { reason, .. }) => self.closed.push(reason),
                    _ => {}
                }
            }
            while let Some(o) = self.hub.poll_output() {
                match o {
                    Output::Transmit(t) => {
                        moved = true;
                        self.client.handle_frame(self.now, self.cl, &t.frame);
                    }
                    Output::Event(Event::FileWanted {
                        link,
                        hash,
                        offset,
                        len,
                    }) if self.serve => {
                        assert_eq!(hash, PWAD);
                        let range = offset as usize..offset as usize + len as usize;
                        // Answered in two calls, as an app reading in pieces would.
                        let (a, b) = file[range].split_at(len as usize / 3);
                        self.hub
                            .send_file_data(self.now, link, hash, offset, a)
                            .unwrap();
                        self.hub
                            .send_file_data(self.now, link, hash, offset + a.len() as u64, b)
                            .unwrap();
                    }
                    _ => {}
                }
            }
            if !moved {
                break;
            }
        }
    }

    /// The hub sees `frame` from the client.
    fn client_sends(&mut self, frame: Frame<'_>) {
        self.hub
            .handle_frame(self.now, self.hl, &frame.to_vec().unwrap());
        self.run();
    }

    /// The client sees `frame` from the hub.
    fn hub_sends(&mut self, frame: Frame<'_>) {
        self.client
            .handle_frame(self.now, self.cl, &frame.to_vec().unwrap());
        self.run();
    }

    fn hub_closed(&self) -> bool {
        self.hub.links().next().is_none()
    }
}

fn without_pwad() -> WadSet {
    WadSet {
        iwad: IWAD,
        pwads: vec![],
    }
}

#[test]
fn a_joiner_without_the_pwad_fetches_it_and_is_welcomed() {
    let mut p = Pair::new(without_pwad(), offer(false));
    assert_eq!(p.listed.as_deref(), Some(&offer(false)[..]));
    assert!(!p.joined && p.closed.is_empty(), "waits with the list");
    p.client.fetch_file(p.now, PWAD, 0).unwrap();
    p.run();
    assert_eq!(p.fetched, vec![PWAD]);
    assert!(p.received == pwad_bytes(), "every byte, in order");
    p.client.hello_again(p.now, game_wads()).unwrap();
    p.run();
    assert!(p.joined, "welcomed with the game's WADs");
    assert_eq!(p.hub.roster().count(), 2);
}

#[test]
fn a_joiner_resumes_a_fetch_from_where_an_earlier_one_stopped() {
    let mut p = Pair::new(without_pwad(), offer(false));
    let from = REQUEST_LEN as usize + 123;
    // What an earlier download kept: the host is asked only for the rest.
    p.received = pwad_bytes()[..from].to_vec();
    p.client.fetch_file(p.now, PWAD, from as u64).unwrap();
    p.run();
    assert_eq!(p.fetched, vec![PWAD]);
    assert!(
        p.received == pwad_bytes(),
        "the rest, in order, from `from`"
    );
    // A part as long as the file: fetched, with nothing asked.
    let mut p = Pair::new(without_pwad(), offer(false));
    p.received = pwad_bytes();
    p.client
        .fetch_file(p.now, PWAD, pwad_bytes().len() as u64)
        .unwrap();
    p.run();
    assert_eq!(p.fetched, vec![PWAD]);
    assert!(p.received == pwad_bytes());
    p.client.hello_again(p.now, game_wads()).unwrap();
    p.run();
    assert!(p.joined);
}

#[test]
fn a_joiner_told_the_list_that_still_names_other_wads_is_refused() {
    let mut p = Pair::new(without_pwad(), offer(false));
    p.client.hello_again(p.now, without_pwad()).unwrap();
    p.run();
    assert_eq!(
        p.closed,
        vec![CloseReason::ByeReceived(ByeReason::WadMismatch)]
    );
    assert!(p.hub_closed());
}

#[test]
fn a_hub_that_offers_nothing_refuses_at_once_as_before() {
    let p = Pair::new(without_pwad(), Vec::new());
    assert!(p.listed.is_none());
    assert_eq!(
        p.closed,
        vec![CloseReason::ByeReceived(ByeReason::WadMismatch)]
    );
}

#[test]
fn only_offered_files_can_be_fetched() {
    let mut p = Pair::new(without_pwad(), offer(false));
    // The app's own mistake: an error, nothing sent.
    assert_eq!(
        p.client.fetch_file(p.now, COMMERCIAL, 0),
        Err(SessionError::Files(FileError::NotOffered))
    );
    // A hostile client asking anyway is told Bye and closed.
    p.client_sends(Frame::FileRequest(FileRequest {
        hash: COMMERCIAL,
        offset: 0,
        len: 10,
    }));
    assert!(p.hub_closed());
    assert_eq!(
        p.closed,
        vec![CloseReason::ByeReceived(ByeReason::ProtocolError)]
    );
}

#[test]
fn a_request_before_the_list_or_outside_the_file_closes_the_link() {
    // Before the list: the client's Hello matched nothing yet; use a fresh hub link.
    let now = Instant::now();
    let mut cfg = Config::new("host", game_wads());
    cfg.offer = offer(false);
    let mut hub = Session::hub(cfg, now);
    let hl = hub.link_up(now).unwrap();
    let req = Frame::FileRequest(FileRequest {
        hash: PWAD,
        offset: 0,
        len: 10,
    });
    hub.handle_frame(now, hl, &req.to_vec().unwrap());
    assert!(hub.links().next().is_none(), "no list was sent: refused");

    let mut p = Pair::new(without_pwad(), offer(false));
    let size = pwad_bytes().len() as u64;
    p.client_sends(Frame::FileRequest(FileRequest {
        hash: PWAD,
        offset: size - 5,
        len: 10,
    }));
    assert!(p.hub_closed(), "a range past the end");
}

#[test]
fn more_requests_in_flight_than_allowed_close_the_link() {
    let mut p = Pair::new(without_pwad(), offer(false));
    p.serve = false;
    for i in 0..REQUESTS_IN_FLIGHT as u64 {
        p.client_sends(Frame::FileRequest(FileRequest {
            hash: PWAD,
            offset: i * 10,
            len: 10,
        }));
        assert!(!p.hub_closed());
    }
    p.client_sends(Frame::FileRequest(FileRequest {
        hash: PWAD,
        offset: 100,
        len: 10,
    }));
    assert!(p.hub_closed());
}

#[test]
fn the_client_keeps_at_most_the_window_in_flight() {
    let mut p = Pair::new(without_pwad(), offer(false));
    p.serve = false;
    p.client.fetch_file(p.now, PWAD, 0).unwrap();
    let asked: Vec<FileRequest> = std::iter::from_fn(|| p.client.poll_output())
        .filter_map(|o| match o {
            Output::Transmit(t) => match Frame::parse(&t.frame).unwrap() {
                Frame::FileRequest(r) => Some(r),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(asked.len(), REQUESTS_IN_FLIGHT);
    assert_eq!(asked[0].offset, 0);
    assert_eq!(asked[1].offset, u64::from(REQUEST_LEN));
    assert!(asked.iter().all(|r| r.len == REQUEST_LEN));
}

#[test]
fn bytes_out_of_order_or_unasked_close_the_link() {
    // Unasked: no fetch in progress.
    let mut p = Pair::new(without_pwad(), offer(false));
    p.hub_sends(Frame::FileData(FileData {
        hash: PWAD,
        offset: 0,
        data: &[1, 2, 3],
    }));
    assert_eq!(
        p.closed,
        vec![CloseReason::Refused(ByeReason::ProtocolError)]
    );

    // Out of order: the hub skips ahead.
    let mut p = Pair::new(without_pwad(), offer(false));
    p.serve = false;
    p.client.fetch_file(p.now, PWAD, 0).unwrap();
    p.run();
    p.hub_sends(Frame::FileData(FileData {
        hash: PWAD,
        offset: 5,
        data: &[1, 2, 3],
    }));
    assert_eq!(
        p.closed,
        vec![CloseReason::Refused(ByeReason::ProtocolError)]
    );
    assert!(p.fetched.is_empty() && p.received.is_empty());
}

#[test]
fn the_hub_app_cannot_send_what_was_not_asked_for() {
    let mut p = Pair::new(without_pwad(), offer(false));
    let (now, hl) = (p.now, p.hl);
    assert_eq!(
        p.hub.send_file_data(now, hl, PWAD, 0, &[0; 10]),
        Err(SessionError::Files(FileError::NotRequested))
    );
    p.serve = false;
    p.client_sends(Frame::FileRequest(FileRequest {
        hash: PWAD,
        offset: 0,
        len: 10,
    }));
    assert_eq!(
        p.hub.send_file_data(now, hl, PWAD, 0, &[0; 11]),
        Err(SessionError::Files(FileError::TooMuch))
    );
    assert!(p.hub.send_file_data(now, hl, PWAD, 0, &[0; 10]).is_ok());
}

#[test]
fn a_chunk_never_exceeds_the_frame_limit() {
    let mut p = Pair::new(without_pwad(), offer(false));
    p.serve = false;
    p.client_sends(Frame::FileRequest(FileRequest {
        hash: PWAD,
        offset: 0,
        len: MAX_FILE_REQUEST,
    }));
    let (now, hl) = (p.now, p.hl);
    p.hub
        .send_file_data(now, hl, PWAD, 0, &pwad_bytes()[..MAX_FILE_REQUEST as usize])
        .unwrap();
    let sizes: Vec<usize> = std::iter::from_fn(|| p.hub.poll_output())
        .filter_map(|o| match o {
            Output::Transmit(t) => Some(t.frame.len()),
            _ => None,
        })
        .collect();
    assert_eq!(
        sizes.len(),
        (MAX_FILE_REQUEST as usize).div_ceil(MAX_FILE_CHUNK)
    );
    assert!(sizes
        .iter()
        .all(|&n| n <= crate::relay::wire::MAX_CONTROL_FRAME_LEN));
}

#[test]
fn a_fetching_link_lives_while_bytes_come_and_dies_when_they_stop() {
    let mut p = Pair::new(without_pwad(), offer(false));
    let timeout = p.client.config().link_timeout;
    // Long past the handshake's deadline, but heard from just now: alive.
    p.now += timeout + Duration::from_secs(5);
    p.client.fetch_file(p.now, PWAD, 0).unwrap();
    p.run();
    p.hub.handle_timeout(p.now);
    p.client.handle_timeout(p.now);
    p.run();
    assert!(!p.hub_closed() && p.closed.is_empty());
    // Then silence for the link timeout: both ends give up.
    p.now += timeout + Duration::from_millis(1);
    p.hub.handle_timeout(p.now);
    p.client.handle_timeout(p.now);
    p.run();
    assert!(p.hub_closed());
    assert_eq!(p.closed, vec![CloseReason::TimedOut]);
}

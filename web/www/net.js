// Joining a doomlink game from the page, as the desktop joins one: the invite link's rendezvous
// over a WebSocket (signaling), an RTCPeerConnection to the host with the desktop's two
// negotiated data channels, and the relay session between the channels and the guest. The link,
// the signaling messages, the fingerprint checks and the session are net's own Rust code
// (doomlink_web.js, web/src/net.rs); this file is the browser's transport around them.
import init, {
  PageSession, parseInvite, encodeSignal, decodeSignal, checkOfferFingerprint, checkCertificate,
  freeIwad, parseLobby,
} from './doomlink_web.js';
// The desktop's screens (the lobby panel, the network overlay, the letterbox): a module of their
// own, which the guest's worker does not load.
import initScreens, { NetScreens, gameRect as letterbox } from './doomlink_web_screens.js';
import { keptPwad, keepPwad } from './iwads.js';

// Chocolate Doom's port: the host's server listens on it, as on the desktop.
export const GAME_PORT = 2342;
// How long joining may take (signaling, ICE, DTLS, both channels), as the desktop's joiner.
const CONNECT_MS = 12000;
// How long the host may take to welcome us once linked.
const WELCOME_MS = 15000;
// Datagram frames buffered in the channel before new ones are dropped (a late game packet is
// worse than a lost one).
const MAX_DGRAM_BUFFERED = 256 * 1024;

// Round trips kept for a benchmark (a game's 1 s pings fill this in a day).
const MAX_RTT_SAMPLES = 100000;

let ready = null;
const wasmReady = () => (ready ??= init());
let screensReady = null;
const screensWasm = () => (screensReady ??= initScreens());

// The channels as the desktop creates them (net/src/webrtc/peer.rs, channel_init): negotiated,
// fixed ids, so neither side waits for the other to announce them.
const CHANNELS = {
  datagram: ['doomlink-datagram', { negotiated: true, id: 0, ordered: false, maxRetransmits: 0 }],
  control: ['doomlink-control', { negotiated: true, id: 1, ordered: true }],
};

// A /dev/lobby record of the page's guest, read as the desktop reads it (net's LobbyReader):
// { state, expected, controller, you, players, maxPlayers, names: [[name, address]…],
// checks: [[what, matches]…] }, or undefined. Call after joinGame (the module is loaded).
export const readLobby = (record) => parseLobby(record);

// Where the game picture goes in a window of winW×winH device pixels, for frames of
// frameW×frameH, with `scaling` ('integer', 'fit', 'smooth'): the desktop's letterbox,
// [x, y, w, h] in device pixels.
export async function gameRect(winW, winH, frameW, frameH, scaling) {
  await screensWasm();
  return Array.from(letterbox(winW, winH, frameW, frameH, scaling));
}

// A netgame's screens drawn on `canvas` (web-screens/src/netgame.rs): the desktop's lobby panel
// while the game waits to start, then its network overlay. `onAction(kind, text)` hears the
// lobby's 'start', 'leave' and 'chat' (with the line). Resolves to the screens' handle.
export async function startNetScreens(canvas, onAction) {
  await screensWasm();
  return NetScreens.start(canvas, onAction);
}

// Parses `link` (either form): its parts, or a one-line Error saying what is wrong with it.
export async function readInvite(link) {
  await wasmReady();
  return parseInvite(link);
}

// A message from the rendezvous, through the protocol's strict decoder; null (and `fail(error)`)
// for anything else.
function received(data, fail) {
  try {
    return JSON.parse(decodeSignal(String(data)));
  } catch (e) {
    fail(e);
    return null;
  }
}

// What the invite's room plays, asked of its rendezvous with the link's secret before joining:
// { iwad (SHA-256 hex; '' when the host did not say: an older host), iwadFile (its file name),
// free ({ file, title } when it is a free IWAD, else undefined) }. Rejects with a one-line Error.
export async function peekGame(link) {
  await wasmReady();
  const invite = parseInvite(link);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${invite.tls ? 'wss' : 'ws'}://${invite.rendezvous}/ws`);
    let done = false;
    const finish = (error, game) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ws.onclose = null;
      ws.close();
      if (error) reject(error); else resolve(game);
    };
    const timer = setTimeout(
      () => finish(new Error(`no answer from the rendezvous at ${invite.rendezvous}`)), CONNECT_MS);
    ws.onerror = () => finish(new Error(`cannot reach the rendezvous at ${invite.rendezvous}`));
    ws.onclose = () => finish(new Error('the rendezvous closed the connection'));
    ws.onopen = () => ws.send(encodeSignal(JSON.stringify(
      { t: 'peek_game', room: invite.room, secret: invite.secret })));
    ws.onmessage = ({ data }) => {
      const msg = received(data, finish);
      if (!msg) return;
      if (msg.t === 'game') {
        finish(null, { iwad: msg.iwad, iwadFile: msg.iwad_file,
          free: msg.iwad ? freeIwad(msg.iwad) : undefined });
      } else if (msg.t === 'error') {
        finish(new Error(`the rendezvous refused: ${msg.message}`));
      } else {
        finish(new Error(`the rendezvous answered ${msg.t}`));
      }
    };
  });
}

// Joins the game of invite `link` as `name`, with the IWAD whose SHA-256 is `iwadHash`
// (Uint8Array). `status(text)` hears each step; `pingMs`: how often the session pings the host
// (default 1000; each round trip is kept in `game.rttSamples`, milliseconds, for a benchmark). Resolves once the host has welcomed us, to the
// game: { hub (the host's address in the game's network), peers (names), files ({ files, args,
// fetched }: the host's PWADs for the guest to load, and the names of those fetched now rather
// than kept in this browser), attach(player) (routes
// the guest's datagrams both ways), rttMs(), leave(), closed (a promise of the reason the game's
// link closed), events (a callback slot: chat, peers joining and leaving) }. Rejects with a
// one-line Error: a bad or expired link, the rendezvous's refusal, a host whose certificate is
// not the link's, a host that cannot be reached, another IWAD.
export async function joinGame({ link, name, iwadHash, status = () => {}, pingMs }) {
  await wasmReady();
  const invite = parseInvite(link);
  status('Asking the rendezvous for the room…');
  const { pc, datagram, control } = await connect(invite, name, status);
  status('Connected; waiting for the host to let us in…');
  return startSession({ pc, datagram, control, name, iwadHash, pingMs, status });
}

// Signaling and WebRTC up to both channels open, with the host's certificate checked.
function connect(invite, name, status) {
  return new Promise((resolve, reject) => {
    const scheme = invite.tls ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${invite.rendezvous}/ws`);
    let pc = null;
    let channels = null;
    let done = false;
    const pending = [];
    const send = (msg) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(encodeSignal(JSON.stringify(msg)));
    };
    const finish = (error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // The rendezvous has done its job either way.
      send({ t: 'leave' });
      ws.close();
      if (error) {
        pc?.close();
        reject(error instanceof Error ? error : new Error(String(error)));
      } else {
        resolve({ pc, ...channels });
      }
    };
    const timer = setTimeout(() => finish(new Error(pc?.remoteDescription
      ? `the host could not be reached over UDP within ${CONNECT_MS / 1000} s (a firewall may block it)`
      : `no answer from the host within ${CONNECT_MS / 1000} s`)), CONNECT_MS);
    const opened = () => {
      if (channels.datagram.readyState !== 'open' || channels.control.readyState !== 'open') return;
      // The browser checked the certificate against the description, and the description
      // against the link; check what DTLS actually received too, as the desktop does.
      try {
        const certs = pc.sctp?.transport?.getRemoteCertificates?.() ?? [];
        if (certs.length > 0) checkCertificate(new Uint8Array(certs[0]), invite.fingerprint);
      } catch (e) {
        finish(e);
        return;
      }
      finish(null);
    };
    ws.onerror = () => finish(new Error(`cannot reach the rendezvous at ${invite.rendezvous}`));
    ws.onclose = () => finish(new Error('the rendezvous closed the connection'));
    ws.onopen = () => send({ t: 'join', room: invite.room, secret: invite.secret, name });
    ws.onmessage = async ({ data }) => {
      const msg = received(data, finish);
      if (!msg) return;
      try {
        if (msg.t === 'joined') {
          status('Connecting to the host…');
          pc = new RTCPeerConnection({
            iceServers: msg.ice.map((s) => ({
              urls: s.urls, username: s.username || undefined, credential: s.credential || undefined,
            })),
          });
          channels = {};
          for (const [which, [label, init]] of Object.entries(CHANNELS)) {
            const dc = pc.createDataChannel(label, init);
            dc.binaryType = 'arraybuffer';
            dc.onopen = opened;
            channels[which] = dc;
          }
          pc.onicecandidate = ({ candidate }) => {
            if (!candidate || !candidate.candidate) return;
            send({ t: 'signal', peer: 0, data: { candidate: {
              candidate: candidate.candidate, sdpMid: candidate.sdpMid ?? undefined,
              sdpMLineIndex: candidate.sdpMLineIndex ?? undefined,
            } } });
          };
          pc.onconnectionstatechange = () => {
            if (pc.connectionState === 'failed') {
              finish(new Error('the host could not be reached over UDP (ICE failed)'));
            }
          };
        } else if (msg.t === 'signal' && msg.data.sdp?.type === 'offer') {
          // Before the browser sees it: a description that names another certificate than the
          // link's is refused with both fingerprints.
          checkOfferFingerprint(msg.data.sdp.sdp, invite.fingerprint);
          await pc.setRemoteDescription(msg.data.sdp);
          await pc.setLocalDescription(await pc.createAnswer());
          send({ t: 'signal', peer: 0, data: { sdp: { type: 'answer', sdp: pc.localDescription.sdp } } });
          for (const c of pending.splice(0)) await pc.addIceCandidate(c);
        } else if (msg.t === 'signal' && msg.data.candidate) {
          if (pc?.remoteDescription) await pc.addIceCandidate(msg.data.candidate);
          else pending.push(msg.data.candidate);
        } else if (msg.t === 'error') {
          finish(new Error(`the rendezvous refused: ${msg.message}`));
        } else if (msg.t === 'closed') {
          finish(new Error(`the room closed: ${msg.reason}`));
        }
      } catch (e) {
        finish(e);
      }
    };
  });
}

const mb = (bytes) => (bytes / 1e6).toFixed(1);

// The host's files as the guest loads them, as the desktop does (play/src/guest.rs): each at
// /pwad/<i>/<name>, DEHACKED patches with -deh, the others with -file, in the host's order.
// { files: { guest path: Uint8Array }, args: [...] }.
function mountedFiles(list) {
  const files = {};
  const wads = [];
  const dehs = [];
  list.forEach(({ name, data }, i) => {
    const path = `/pwad/${i}/${name}`;
    files[path] = data;
    (/\.(deh|bex)$/i.test(name) ? dehs : wads).push(path);
  });
  const args = [];
  if (wads.length) args.push('-file', ...wads);
  if (dehs.length) args.push('-deh', ...dehs);
  return { files, args };
}

// The relay session on a connected link: resolves once the host welcomed us. A host whose game
// has PWADs the page lacks lists them first: those kept in this browser are used, the rest are
// fetched (and kept); `game.files` ({ files, args, fetched }) is what the guest must load then
// (empty otherwise); `status` hears the download's progress.
function startSession({ pc, datagram, control, name, iwadHash, pingMs, status }) {
  const session = new PageSession(name, iwadHash, pingMs);
  let player = null;
  let timer = null;
  let closedWith = null;
  let shownAt = 0;
  const game = { events: () => {}, rttSamples: [], files: { files: {}, args: [], fetched: [] } };
  let pongs = 0;
  let welcomed;
  const welcome = new Promise((resolve, reject) => { welcomed = { resolve, reject }; });
  let ended;
  game.closed = new Promise((resolve) => { ended = resolve; });

  // Everything the session wants done, then its next timer.
  const drain = () => {
    for (let out = session.poll(); out !== undefined; out = session.poll()) {
      switch (out.kind) {
        case 'transmit': {
          const dc = out.control ? control : datagram;
          if (dc.readyState !== 'open') break;
          if (!out.control && dc.bufferedAmount > MAX_DGRAM_BUFFERED) break;
          dc.send(out.frame);
          break;
        }
        case 'deliver':
          player?.deliver(out.srcIp, out.srcPort, out.dstPort, out.data);
          break;
        case 'joined':
          game.hub = out.hub;
          game.peers = out.peers;
          welcomed.resolve(game);
          break;
        case 'files':
          // The PWADs this browser kept are used as they are; the rest come from the host.
          haveFiles(out.files).catch((e) => welcomed.reject(e));
          break;
        case 'file_progress':
          game.progressed?.();
          if (performance.now() - shownAt > 250 || out.received === out.size) {
            shownAt = performance.now();
            status(`Downloading ${out.name} from the host: ${mb(out.received)} of ${mb(out.size)} MB`);
          }
          break;
        case 'files_ready':
          game.files = mountedFiles(out.files);
          game.files.fetched = out.files.filter((f) => f.fetched).map((f) => f.name);
          for (const f of out.files) if (f.fetched) keepPwad(f.sha256, f.data);
          status('Waiting for the host to let us in…');
          break;
        case 'closed':
          closedWith ??= out.why;
          welcomed.reject(new Error(`the host closed the link: ${out.why}`));
          ended(out.why);
          break;
        default:
          game.events(out);
      }
    }
    if (session.pongs() !== pongs && game.rttSamples.length < MAX_RTT_SAMPLES) {
      pongs = session.pongs();
      game.rttSamples.push(session.rttLastMs());
    }
    clearTimeout(timer);
    const ms = session.nextTimeoutMs();
    if (ms >= 0 && closedWith === null) {
      timer = setTimeout(() => { session.timeout(); drain(); }, ms);
    }
  };

  // The host's PWADs: those kept in this browser handed to the session, then the rest fetched.
  const haveFiles = async (files) => {
    const missing = [];
    for (const f of files) {
      const kept = await keptPwad(f.sha256);
      if (!(kept && session.provide(f.sha256, kept))) missing.push(f);
    }
    if (missing.length) {
      const bytes = missing.reduce((n, f) => n + f.size, 0);
      status(`Downloading ${missing.map((f) => f.name).join(', ')} from the host (${mb(bytes)} MB)…`);
    }
    session.fetchMissing();
    drain();
  };

  // A frame says which it is: both channels feed the session alike.
  datagram.onmessage = control.onmessage = ({ data }) => {
    session.frame(new Uint8Array(data));
    drain();
  };
  const down = () => { session.linkDown(); drain(); };
  control.onclose = down;
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'failed' || pc.connectionState === 'closed') down();
  };

  Object.assign(game, {
    attach(p) {
      player = p;
    },
    // The guest's datagram (from startDoom's `network`).
    send(d) {
      session.fromGuest(d.srcPort, d.dstIp, d.dstPort, new Uint8Array(d.data));
      drain();
    },
    rttMs: () => session.rttMs(),
    // How the link to the host goes, as the desktop says it: 'direct', or 'relayed (TURN)'
    // when the connected candidate pair goes through a TURN server; '' before it is known.
    async path() {
      const stats = await pc.getStats();
      for (const s of stats.values()) {
        if (s.type !== 'transport' || !s.selectedCandidatePairId) continue;
        const pair = stats.get(s.selectedCandidatePairId);
        const local = pair && stats.get(pair.localCandidateId);
        const remote = pair && stats.get(pair.remoteCandidateId);
        if (!local || !remote) return '';
        return local.candidateType === 'relay' || remote.candidateType === 'relay'
          ? 'relayed (TURN)' : 'direct';
      }
      return '';
    },
    chat(text) {
      session.chat(text);
      drain();
    },
    leave() {
      session.close();
      drain();
      setTimeout(() => pc.close(), 200);
    },
  });

  // The host has WELCOME_MS to let us in, counted again from each piece of a download.
  let limit = null;
  const wait = () => {
    clearTimeout(limit);
    limit = setTimeout(
      () => welcomed.reject(new Error(`the host did not let us in within ${WELCOME_MS / 1000} s`)),
      WELCOME_MS,
    );
  };
  game.progressed = wait;
  session.linkUp();
  wait();
  drain();
  return welcome.finally(() => clearTimeout(limit));
}

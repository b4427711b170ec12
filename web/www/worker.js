// A wasm32-wasi guest (Chocolate Doom) in a Web Worker, its imports served by doomlink's kernel
// (doomlink_web.js). The page (doom.js) sends one `start` message; the worker posts `frame`,
// `dgram`, `pcm` and `lobby` messages while the guest runs and one `exit` (or `error`) message
// at its end.
//
// The worker's thread is the guest's: it never returns to the event loop while the guest runs,
// so everything the page sends after `start` comes through `shared`, an Int32Array over a
// SharedArrayBuffer (layout in doom.js: wake counter, input ring, frames drawn). The kernel calls
// the globals below (web/src/lib.rs names them).
import init, { WebProcess } from './doomlink_web.js';
import { instantiate, runToExit } from './guest.js';
import { SLOT, INPUT_SLOTS, INPUT_AT, MAX_FRAMES_AHEAD, NET_SLOTS, NET_SLOT_BYTES } from './shared.js';

let shared = null;
let netRing = null;
let framesPosted = 0;

// A blocking wait of the guest's: until the page bumps the wake counter past `seen` (read
// before the kernel last looked at the page's queues), or `ms` pass.
globalThis.doomlinkWakeSeen = () => Atomics.load(shared, SLOT.wake);
globalThis.doomlinkPark = (seen, ms) => {
  Atomics.wait(shared, SLOT.wake, seen, Math.max(0, ms));
};

// A finished frame: a copy goes to the page unless it is behind (then the frame is dropped,
// as a display drops frames it cannot show).
globalThis.doomlinkFrame = (width, height, rgba) => {
  if (framesPosted - Atomics.load(shared, SLOT.framesDrawn) >= MAX_FRAMES_AHEAD) return;
  framesPosted += 1;
  const copy = rgba.slice();
  postMessage({ type: 'frame', width, height, rgba: copy.buffer }, [copy.buffer]);
};

// Whole 16-byte events from the page's input ring into `into`: the bytes moved.
globalThis.doomlinkInput = (into) => {
  const written = Atomics.load(shared, SLOT.inputWritten);
  let read = Atomics.load(shared, SLOT.inputRead);
  const view = new DataView(into.buffer, into.byteOffset, into.byteLength);
  let n = 0;
  while (read < written && n + 16 <= into.length) {
    const at = INPUT_AT + (read % INPUT_SLOTS) * 4;
    for (let i = 0; i < 4; i++) view.setInt32(n + 4 * i, Atomics.load(shared, at + i), true);
    read += 1;
    n += 16;
  }
  Atomics.store(shared, SLOT.inputRead, read);
  return n;
};

globalThis.doomlinkInputPending = () =>
  Atomics.load(shared, SLOT.inputRead) < Atomics.load(shared, SLOT.inputWritten);

// A datagram the guest sent to the network: a copy to the page, which holds the network.
globalThis.doomlinkSend = (srcPort, dstIp, dstPort, data) => {
  const copy = data.slice();
  postMessage({ type: 'dgram', srcPort, dstIp: dstIp >>> 0, dstPort, data: copy.buffer }, [copy.buffer]);
};

// PCM for the page's audio output, and how much of it the output has consumed.
globalThis.doomlinkPcm = (data) => {
  const copy = data.slice();
  postMessage({ type: 'pcm', data: copy.buffer }, [copy.buffer]);
};
globalThis.doomlinkPcmPlayed = () => Atomics.load(shared, SLOT.audioPlayed) >>> 0;

// A whole lobby record of the guest's, for the page's lobby panel.
globalThis.doomlinkLobby = (text) => postMessage({ type: 'lobby', text });
// The command the page's lobby panel left (0: none), taken.
globalThis.doomlinkLobbyCommand = () => Atomics.exchange(shared, SLOT.lobbyCommand, 0);

globalThis.doomlinkNetPending = () =>
  Atomics.load(shared, SLOT.netRead) < Atomics.load(shared, SLOT.netWritten);

// The oldest datagram record the page queued, into `into`: its length (0: none).
globalThis.doomlinkTakeDatagram = (into) => {
  const read = Atomics.load(shared, SLOT.netRead);
  if (read >= Atomics.load(shared, SLOT.netWritten)) return 0;
  const at = (read % NET_SLOTS) * NET_SLOT_BYTES;
  const len = new DataView(netRing.buffer).getUint32(at, true);
  const n = Math.min(len, into.length);
  into.set(netRing.subarray(at + 4, at + 4 + n));
  Atomics.store(shared, SLOT.netRead, read + 1);
  return n;
};

onmessage = async ({ data }) => {
  if (data.type !== 'start') return;
  let process = null;
  try {
    shared = new Int32Array(data.shared);
    netRing = new Uint8Array(data.net);
    await init();
    const module = await WebAssembly.compile(await (await fetch(data.wasm)).arrayBuffer());
    process = new WebProcess(data.args, data.env ?? [], true);
    for (const [path, bytes] of Object.entries(data.files ?? {})) {
      process.mount(path, new Uint8Array(bytes));
    }
    if (data.screen) process.add_screen();
    if (data.input) process.add_input();
    if (data.audioRate) process.add_audio(data.audioRate);
    if (data.lobby) process.add_lobby();
    const instance = await instantiate(module, process);
    const started = performance.now();
    const status = runToExit(instance);
    const ms = performance.now() - started;
    // The /data files the page asked for (a recorded demo), where the guest made them.
    const files = {};
    for (const name of data.collect ?? []) {
      try {
        files[name] = process.data_file(name);
      } catch {
        // Not made: the page sees it missing.
      }
    }
    postMessage({ type: 'exit', status, ms, output: process.output(), files });
  } catch (e) {
    postMessage({ type: 'error', message: String(e), output: process ? process.output() : '' });
  }
};

// Chocolate Doom (doom.wasm) in this page: the guest runs in a Web Worker (worker.js) with
// doomlink's kernel, its frames drawn on a canvas, the page's keyboard and mouse fed to its
// /dev/input through shared memory (shared.js). The page must be cross-origin isolated
// (COOP/COEP headers) for SharedArrayBuffer and Atomics.wait.
import {
  SLOT, INPUT_SLOTS, INPUT_AT, SHARED_INTS, NET_SLOTS, NET_SLOT_BYTES, NET_RING_BYTES,
} from './shared.js';
import { startAudio } from './audio.js';

// Doom's key codes (Chocolate Doom's doomkeys.h) by KeyboardEvent.code; letters, digits and
// punctuation are their lower-case ASCII.
const KEY = {
  ArrowRight: 0xae, ArrowLeft: 0xac, ArrowUp: 0xad, ArrowDown: 0xaf,
  Escape: 27, Enter: 13, NumpadEnter: 13, Tab: 9, Backspace: 0x7f, Space: 32, Pause: 0xff,
  ShiftLeft: 0xb6, ShiftRight: 0xb6, ControlLeft: 0x9d, ControlRight: 0x9d,
  AltLeft: 0xb8, AltRight: 0xb8, CapsLock: 0xba, NumLock: 0xc5, ScrollLock: 0xc6,
  Home: 0xc7, End: 0xcf, PageUp: 0xc9, PageDown: 0xd1, Insert: 0xd2, Delete: 0xd3,
  Minus: 0x2d, Equal: 0x3d, Comma: 0x2c, Period: 0x2e, Slash: 0x2f, Backslash: 0x5c,
  Semicolon: 0x3b, Quote: 0x27, Backquote: 0x60, BracketLeft: 0x5b, BracketRight: 0x5d,
  F12: 0xd8,
};
// F11 is left to the browser: full screen, as F11 is in the desktop's window.
for (let i = 0; i < 10; i++) KEY[`F${i + 1}`] = 0xbb + i;
for (let i = 0; i < 10; i++) KEY[`Digit${i}`] = 0x30 + i;
for (let c = 0; c < 26; c++) KEY[`Key${String.fromCharCode(65 + c)}`] = 0x61 + c;

const EV_KEYDOWN = 0;
const EV_KEYUP = 1;
const EV_MOUSE = 2;

// Starts doom.wasm with argv `args` and `files` ({ guest path: ArrayBuffer }, mounted
// read-only: the IWAD). With a `canvas` the guest gets /dev/fb0 and /dev/input, and the canvas
// takes the keyboard and, once clicked, the mouse. `collect` names /data files to read back at
// the end (a recorded demo). `network(datagram, player)` gets each datagram the guest sends
// beyond 127/8 ({ srcPort, dstIp, dstPort, data }: dstIp a u32, data an ArrayBuffer); answers go
// back with `player.deliver(srcIp, srcPort, dstPort, bytes)`. `audio`: the guest gets /dev/dsp,
// played through an AudioWorklet (`player.audio` once it runs). `lobby(record)`: the guest gets
// /dev/lobby, and each lobby record it writes (assets/chocolate-doom/LOBBY.md) comes here;
// `player.lobbyCommand('start' | 'quit')` gives it the lobby's commands. Returns the player:
// { exited, frames, send, deliver, lobbyCommand, stop }; `exited` resolves to { status, ms,
// output, files } when the guest ends.
export function startDoom({
  canvas = null, wasm = 'doom.wasm', args, env = [], files = {}, collect = [], network = null,
  audio = false, lobby = null,
}) {
  const shared = new Int32Array(new SharedArrayBuffer(SHARED_INTS * 4));
  const netRing = new Uint8Array(new SharedArrayBuffer(NET_RING_BYTES));
  const player = {};
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  const frames = { count: 0 };
  const ctx = canvas ? canvas.getContext('2d') : null;

  const exited = new Promise((resolve, reject) => {
    worker.onmessage = ({ data }) => {
      if (data.type === 'frame') {
        if (canvas.width !== data.width || canvas.height !== data.height) {
          canvas.width = data.width;
          canvas.height = data.height;
        }
        const pixels = new Uint8ClampedArray(data.rgba);
        ctx.putImageData(new ImageData(pixels, data.width, data.height), 0, 0);
        frames.count += 1;
        Atomics.add(shared, SLOT.framesDrawn, 1);
      } else if (data.type === 'pcm') {
        player.audio.post(data.data);
      } else if (data.type === 'dgram') {
        if (network) network(data, player);
      } else if (data.type === 'lobby') {
        lobby(data.text);
      } else if (data.type === 'exit') {
        worker.terminate();
        resolve(data);
      } else if (data.type === 'error') {
        worker.terminate();
        reject(new Error(`${data.message}\n${data.output}`));
      }
    };
    worker.onerror = (e) => reject(new Error(e.message || 'the worker failed to start'));
  });

  // One event into the ring (dropped when the guest has not kept up with 256 of them), then
  // the guest's wait is woken.
  const send = (type, data1, data2 = 0, data3 = 0) => {
    const written = Atomics.load(shared, SLOT.inputWritten);
    if (written - Atomics.load(shared, SLOT.inputRead) >= INPUT_SLOTS) return;
    const at = INPUT_AT + (written % INPUT_SLOTS) * 4;
    Atomics.store(shared, at, type);
    Atomics.store(shared, at + 1, data1);
    Atomics.store(shared, at + 2, data2);
    Atomics.store(shared, at + 3, data3);
    Atomics.store(shared, SLOT.inputWritten, written + 1);
    Atomics.add(shared, SLOT.wake, 1);
    Atomics.notify(shared, SLOT.wake);
  };

  // One datagram for the guest's socket on `dstPort`, from srcIp:srcPort (srcIp a u32), into the
  // ring (dropped and counted when the ring is full or it does not fit a slot, as a network
  // drops), then the guest's wait is woken.
  const deliver = (srcIp, srcPort, dstPort, bytes) => {
    const data = new Uint8Array(bytes);
    const written = Atomics.load(shared, SLOT.netWritten);
    const full = written - Atomics.load(shared, SLOT.netRead) >= NET_SLOTS;
    if (full || 8 + data.length > NET_SLOT_BYTES - 4) {
      Atomics.add(shared, SLOT.netDropped, 1);
      return false;
    }
    const at = (written % NET_SLOTS) * NET_SLOT_BYTES;
    const view = new DataView(netRing.buffer, at, NET_SLOT_BYTES);
    view.setUint32(0, 8 + data.length, true);
    view.setUint32(4, srcIp >>> 0, true);
    view.setUint16(8, srcPort, true);
    view.setUint16(10, dstPort, true);
    netRing.set(data, at + 12);
    Atomics.store(shared, SLOT.netWritten, written + 1);
    Atomics.add(shared, SLOT.wake, 1);
    Atomics.notify(shared, SLOT.wake);
    return true;
  };

  // The lobby's command for the guest, read when it next looks (about every 20 ms).
  const lobbyCommand = (command) => {
    Atomics.store(shared, SLOT.lobbyCommand, { start: 1, quit: 2 }[command] ?? 0);
    Atomics.add(shared, SLOT.wake, 1);
    Atomics.notify(shared, SLOT.wake);
  };

  if (canvas) attachInput(canvas, send);
  // Stereo frames the audio output has consumed.
  const audioPlayed = () => Atomics.load(shared, SLOT.audioPlayed) >>> 0;
  Object.assign(player, {
    exited, frames, send, deliver, audioPlayed, lobbyCommand, stop: () => worker.terminate(),
  });
  (async () => {
    // The output's own rate is the guest's: no resampling on the way.
    player.audio = audio ? await startAudio(shared) : null;
    const rate = player.audio?.rate;
    worker.postMessage({
      type: 'start',
      shared: shared.buffer,
      net: netRing.buffer,
      wasm: new URL(wasm, location.href).href,
      args,
      env: rate ? [...env, `DOOMLINK_AUDIO_RATE=${rate}`] : env,
      files,
      collect,
      screen: canvas !== null,
      input: canvas !== null,
      audioRate: rate ?? 0,
      lobby: lobby !== null,
    });
  })().catch((e) => worker.onerror({ message: `no audio output: ${e}` }));
  return player;
}

// The keyboard (while the canvas has focus) and the mouse (grabbed by a click, through pointer
// lock; Esc releases it, as the browser does) as Doom's events.
function attachInput(canvas, send) {
  canvas.tabIndex = 0;
  const held = new Set();
  const key = (down) => (e) => {
    const code = KEY[e.code];
    if (code === undefined) return;
    e.preventDefault();
    if (down && e.repeat) return;
    if (down) held.add(code);
    else held.delete(code);
    const typed = down && e.key.length === 1 ? e.key.charCodeAt(0) : 0;
    send(down ? EV_KEYDOWN : EV_KEYUP, code, code, typed);
  };
  canvas.addEventListener('keydown', key(true));
  canvas.addEventListener('keyup', key(false));
  // A key held when the page loses focus would stay down in the game.
  canvas.addEventListener('blur', () => {
    for (const code of held) send(EV_KEYUP, code);
    held.clear();
  });
  let buttons = 0;
  const locked = () => document.pointerLockElement === canvas;
  canvas.addEventListener('click', () => {
    if (!locked()) canvas.requestPointerLock?.();
  });
  canvas.addEventListener('mousemove', (e) => {
    if (locked()) send(EV_MOUSE, buttons, e.movementX * 4, -e.movementY * 4);
  });
  const button = (down) => (e) => {
    if (!locked()) return;
    // Doom's bits: 1 left (fire), 2 right (strafe), 4 middle (forward).
    const bit = [1, 4, 2][e.button] ?? 0;
    buttons = down ? buttons | bit : buttons & ~bit;
    send(EV_MOUSE, buttons, 0, 0);
  };
  canvas.addEventListener('mousedown', button(true));
  canvas.addEventListener('mouseup', button(false));
}

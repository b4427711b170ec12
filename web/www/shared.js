// The shared memory between a page and its guest's worker: an Int32Array over one
// SharedArrayBuffer (counters and the input ring) and a byte ring of datagrams in another. The
// page writes input events and datagrams and bumps the wake counter (Atomics.notify); the
// worker reads them, parks on the counter, and learns which frames were drawn.
export const SLOT = {
  wake: 0, // bumped (and notified) by the page: the guest's blocking wait looks again
  inputWritten: 1, // events the page has put in the ring
  inputRead: 2, // events the worker has taken
  framesDrawn: 3, // frames the page has put on its canvas
  netWritten: 4, // datagrams the page has put in the datagram ring
  netRead: 5, // datagrams the worker has taken
  netDropped: 6, // datagrams the page dropped: the ring was full or one was too large
  audioPlayed: 7, // stereo frames the page's audio output has consumed (wrapping at 2^32)
  lobbyCommand: 8, // the lobby panel's command for the guest: 0 none, 1 start, 2 quit
};
export const INPUT_SLOTS = 256; // events the ring holds; the page drops keys past that
export const INPUT_AT = 12; // the ring's first Int32 (4 per event: type, data1, data2, data3)
export const SHARED_INTS = INPUT_AT + INPUT_SLOTS * 4;
export const MAX_FRAMES_AHEAD = 2; // frames posted and not yet drawn before the worker drops one
// The datagram ring: NET_SLOTS slots of NET_SLOT_BYTES, each `u32 length` then the record the
// kernel's host reads (web/src/lib.rs: `u32 src_ip, u16 src_port, u16 dst_port`, LE, then the
// datagram's bytes).
export const NET_SLOTS = 256;
export const NET_SLOT_BYTES = 2048 + 4;
export const NET_RING_BYTES = NET_SLOTS * NET_SLOT_BYTES;

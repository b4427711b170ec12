// The shared memory between a page and its guest's worker: an Int32Array over one
// SharedArrayBuffer. The page writes input events and bumps the wake counter (Atomics.notify);
// the worker reads events, parks on the counter, and learns which frames were drawn.
export const SLOT = {
  wake: 0, // bumped (and notified) by the page: the guest's blocking wait looks again
  inputWritten: 1, // events the page has put in the ring
  inputRead: 2, // events the worker has taken
  framesDrawn: 3, // frames the page has put on its canvas
};
export const INPUT_SLOTS = 256; // events the ring holds; the page drops keys past that
export const INPUT_AT = 8; // the ring's first Int32 (4 per event: type, data1, data2, data3)
export const SHARED_INTS = INPUT_AT + INPUT_SLOTS * 4;
export const MAX_FRAMES_AHEAD = 2; // frames posted and not yet drawn before the worker drops one

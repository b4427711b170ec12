// The files a game needs, kept in this browser. The IWAD: fetched once from the service that serves the
// page (`/play/iwad/<sha256>`: only free IWADs, Freedoom and FreeDM, are ever there), its
// SHA-256 checked before it is kept or used, and kept in the browser's Cache Storage under that
// URL for the next game. Nothing unchecked is kept, and nothing kept is used unchecked.

const STORE = 'doomlink-iwads';

// The URL of the IWAD with this SHA-256 (hex) on the page's own service.
const urlOf = (sha256) => new URL(`iwad/${sha256}`, location.href).href;

export async function sha256Hex(bytes) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(d, (x) => x.toString(16).padStart(2, '0')).join('');
}

const store = () => (self.caches ? caches.open(STORE) : Promise.resolve(null));

// The kept IWAD with this hash (an ArrayBuffer whose hash was checked now), or null. A kept
// copy that does not hash right is dropped.
export async function keptIwad(sha256) {
  const cache = await store();
  const kept = await cache?.match(urlOf(sha256));
  if (!kept) return null;
  const bytes = await kept.arrayBuffer();
  if (await sha256Hex(bytes) === sha256) return bytes;
  await cache.delete(urlOf(sha256));
  return null;
}

// The size in bytes of the IWAD with this hash if the service hands it out, else 0.
export async function offeredIwad(sha256) {
  const r = await fetch(urlOf(sha256), { method: 'HEAD' }).catch(() => null);
  return r?.ok ? Number(r.headers.get('content-length')) || 1 : 0;
}

// Fetches the IWAD with this hash from the service, `progress(loaded, total)` as bytes arrive,
// checks its hash and keeps it. Resolves to { bytes, kept } (kept false: the browser's storage
// refused it, e.g. full; the game plays anyway). Rejects with a one-line Error.
export async function fetchIwad(sha256, progress = () => {}) {
  const r = await fetch(urlOf(sha256), { cache: 'no-store' });
  if (!r.ok) {
    const why = (await r.text()).trim().split('\n')[0];
    throw new Error(`the service did not send the IWAD: ${why || r.status}`);
  }
  const total = Number(r.headers.get('content-length')) || 0;
  const reader = r.body.getReader();
  const parts = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.length;
    progress(loaded, total);
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  if (await sha256Hex(bytes) !== sha256) {
    throw new Error('the IWAD the service sent is not the host\'s (its SHA-256 differs); nothing was kept');
  }
  let kept = false;
  try {
    const cache = await store();
    if (cache) {
      await cache.put(urlOf(sha256), new Response(bytes, {
        headers: { 'content-type': 'application/octet-stream' },
      }));
      kept = true;
    }
  } catch (_) {
    // Full or refused storage: play with it now, fetch it again next time.
  }
  return { bytes: bytes.buffer, kept };
}

// The host's PWADs a game fetched, kept the same way (Cache Storage, under a key by SHA-256 on
// the page's own origin, never fetched from it) so that the next game with them fetches nothing.
const PWADS = 'doomlink-pwads';
const pwadKey = (sha256) => new URL(`pwad/${sha256}`, location.href).href;
const pwadStore = () => (self.caches ? caches.open(PWADS) : Promise.resolve(null));

// The kept PWAD with this hash (a Uint8Array whose hash was checked now), or null.
export async function keptPwad(sha256) {
  const cache = await pwadStore().catch(() => null);
  const kept = await cache?.match(pwadKey(sha256));
  if (!kept) return null;
  const bytes = new Uint8Array(await kept.arrayBuffer());
  if (await sha256Hex(bytes) === sha256) return bytes;
  await cache.delete(pwadKey(sha256));
  return null;
}

// Keeps a PWAD the session fetched and checked; false if the browser's storage refused it.
export async function keepPwad(sha256, bytes) {
  // A copy now: the game may hand the original to its worker before the storage takes it.
  const copy = bytes.slice();
  try {
    const cache = await pwadStore();
    if (!cache) return false;
    await cache.put(pwadKey(sha256), new Response(copy, {
      headers: { 'content-type': 'application/octet-stream' },
    }));
    return true;
  } catch (_) {
    return false;
  }
}

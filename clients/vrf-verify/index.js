// @nsl/vrf-verify: verify ECVRF proofs of the Neo Service Layer (RFC 9381,
// suite ECVRF-P256-SHA256-TAI, suite_string 0x01). Zero dependencies: P-256
// arithmetic with BigInt, SHA-256 from WebCrypto (globalThis.crypto.subtle,
// present in browsers and Node >= 19; Node 18 falls back to node:crypto).
//
// Verification only: everything here works on public data, so the
// arithmetic is plain variable-time BigInt.

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const A = P - 3n;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
const GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n;
const GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n;

/** `suite_string` of ECVRF-P256-SHA256-TAI. */
export const SUITE_STRING = 0x01;
/** Proof length in bytes: Gamma (33) || c (16) || s (32). */
export const PROOF_LEN = 81;
/** The most words the service derives from one output. */
export const MAX_WORDS = 16;

const PT_LEN = 33;
const C_LEN = 16;

/**
 * Thrown for malformed input and for proofs that do not verify.
 * `code` is one of `INVALID_PUBLIC_KEY`, `MALFORMED_PROOF`, `INVALID_PROOF`,
 * `INVALID_INPUT`.
 */
export class VrfError extends Error {
  /**
   * @param {'INVALID_PUBLIC_KEY'|'MALFORMED_PROOF'|'INVALID_PROOF'|'INVALID_INPUT'} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = 'VrfError';
    /** @type {'INVALID_PUBLIC_KEY'|'MALFORMED_PROOF'|'INVALID_PROOF'|'INVALID_INPUT'} */
    this.code = code;
  }
}

// ---- bytes ---------------------------------------------------------------

/**
 * Hex (optionally `0x`-prefixed, either case) to bytes.
 * @param {string} hex
 * @returns {Uint8Array}
 */
export function hexToBytes(hex) {
  if (typeof hex !== 'string') throw new VrfError('INVALID_INPUT', 'expected a hex string');
  const s = hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex;
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new VrfError('INVALID_INPUT', 'not an even-length hex string');
  }
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Bytes to lowercase hex (no prefix).
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function bytesToHex(bytes) {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** @param {Uint8Array|string} v @returns {Uint8Array} */
function toBytes(v) {
  if (typeof v === 'string') return hexToBytes(v);
  if (v instanceof Uint8Array) return v;
  throw new VrfError('INVALID_INPUT', 'expected a Uint8Array or a hex string');
}

/** @param {...Uint8Array} parts @returns {Uint8Array} */
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** @param {Uint8Array} b @returns {bigint} */
function toInt(b) {
  return b.length === 0 ? 0n : BigInt('0x' + bytesToHex(b));
}

/** @param {bigint} x @param {number} len @returns {Uint8Array} */
function fromInt(x, len) {
  return hexToBytes(x.toString(16).padStart(2 * len, '0'));
}

/** @param {Uint8Array} a @param {Uint8Array} b */
function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** @type {SubtleCrypto|undefined} */
let subtle;

/** @param {Uint8Array} data @returns {Promise<Uint8Array>} */
async function sha256(data) {
  if (!subtle) {
    subtle = globalThis.crypto?.subtle ?? (await import('node:crypto')).webcrypto.subtle;
  }
  return new Uint8Array(await subtle.digest('SHA-256', data));
}

// ---- P-256 ---------------------------------------------------------------

/** @param {bigint} x */
const mod = (x) => {
  const r = x % P;
  return r < 0n ? r + P : r;
};

/** @param {bigint} b @param {bigint} e @param {bigint} m */
function powMod(b, e, m) {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

/** @param {bigint} x */
const inv = (x) => powMod(mod(x), P - 2n, P);

/**
 * Jacobian point [X, Y, Z]; Z = 0 is the identity.
 * @typedef {[bigint, bigint, bigint]} Jac
 */

/** @type {Jac} */
const INF = [0n, 1n, 0n];

/** @param {Jac} p @returns {Jac} */
function dbl([x, y, z]) {
  if (z === 0n || y === 0n) return INF;
  const yy = mod(y * y);
  const s = mod(4n * x * yy);
  const zz = mod(z * z);
  const m = mod(3n * (x - zz) * (x + zz)); // a = -3
  const x3 = mod(m * m - 2n * s);
  const y3 = mod(m * (s - x3) - 8n * yy * yy);
  const z3 = mod(2n * y * z);
  return [x3, y3, z3];
}

/** @param {Jac} p @param {Jac} q @returns {Jac} */
function add(p, q) {
  if (p[2] === 0n) return q;
  if (q[2] === 0n) return p;
  const [x1, y1, z1] = p;
  const [x2, y2, z2] = q;
  const z1z1 = mod(z1 * z1);
  const z2z2 = mod(z2 * z2);
  const u1 = mod(x1 * z2z2);
  const u2 = mod(x2 * z1z1);
  const s1 = mod(y1 * z2 * z2z2);
  const s2 = mod(y2 * z1 * z1z1);
  if (u1 === u2) return s1 === s2 ? dbl(p) : INF;
  const h = mod(u2 - u1);
  const r = mod(s2 - s1);
  const hh = mod(h * h);
  const hhh = mod(h * hh);
  const v = mod(u1 * hh);
  const x3 = mod(r * r - hhh - 2n * v);
  const y3 = mod(r * (v - x3) - s1 * hhh);
  const z3 = mod(z1 * z2 * h);
  return [x3, y3, z3];
}

/** @param {Jac} p @returns {Jac} */
const neg = ([x, y, z]) => [x, mod(-y), z];

/** a*P + b*Q (Shamir's trick), variable time. @param {bigint} a @param {Jac} p @param {bigint} b @param {Jac} q @returns {Jac} */
function mul2(a, p, b, q) {
  const pq = add(p, q);
  let r = INF;
  for (let i = 255; i >= 0; i--) {
    r = dbl(r);
    const ba = (a >> BigInt(i)) & 1n;
    const bb = (b >> BigInt(i)) & 1n;
    if (ba && bb) r = add(r, pq);
    else if (ba) r = add(r, p);
    else if (bb) r = add(r, q);
  }
  return r;
}

/** SEC1 compressed encoding; the identity is the single byte 0x00. @param {Jac} p @returns {Uint8Array} */
function compress(p) {
  if (p[2] === 0n) return new Uint8Array([0]);
  const zi = inv(p[2]);
  const zi2 = mod(zi * zi);
  const x = mod(p[0] * zi2);
  const y = mod(p[1] * zi2 * zi);
  return concat(new Uint8Array([y & 1n ? 0x03 : 0x02]), fromInt(x, 32));
}

/** The point with this x and the parity of y, or null. @param {bigint} x @param {boolean} odd @returns {Jac|null} */
function decompressX(x, odd) {
  if (x >= P) return null;
  const rhs = mod(x * x * x + A * x + B);
  const y = powMod(rhs, (P + 1n) / 4n, P); // P = 3 mod 4
  if (mod(y * y) !== rhs) return null;
  const yy = (y & 1n) === (odd ? 1n : 0n) ? y : mod(-y);
  return [x, yy, 1n];
}

/** Compressed SEC1 point (33 bytes) or null. @param {Uint8Array} b @returns {Jac|null} */
function decodeCompressed(b) {
  if (b.length !== PT_LEN || (b[0] !== 0x02 && b[0] !== 0x03)) return null;
  return decompressX(toInt(b.subarray(1)), b[0] === 0x03);
}

/**
 * Parse a SEC1 P-256 public key (33 bytes compressed or 65 uncompressed).
 * @param {Uint8Array|string} publicKey
 * @returns {{ point: Jac, compressed: Uint8Array }}
 */
function parsePublicKey(publicKey) {
  const b = toBytes(publicKey);
  /** @type {Jac|null} */
  let point = null;
  if (b.length === 33) {
    point = decodeCompressed(b);
  } else if (b.length === 65 && b[0] === 0x04) {
    const x = toInt(b.subarray(1, 33));
    const y = toInt(b.subarray(33));
    if (x < P && y < P && mod(y * y) === mod(x * x * x + A * x + B)) point = [x, y, 1n];
  }
  if (!point) {
    throw new VrfError(
      'INVALID_PUBLIC_KEY',
      'invalid VRF public key: expected a P-256 point, 33 bytes (0x02/0x03) or 65 bytes (0x04)',
    );
  }
  return { point, compressed: compress(point) };
}

// ---- ECVRF-P256-SHA256-TAI -------------------------------------------------

/**
 * Decode pi = Gamma || c || s.
 * @param {Uint8Array|string} proof
 */
function decodeProof(proof) {
  const pi = toBytes(proof);
  if (pi.length !== PROOF_LEN) {
    throw new VrfError('MALFORMED_PROOF', 'malformed VRF proof: a proof is exactly 81 bytes');
  }
  const gammaString = pi.subarray(0, PT_LEN);
  const gamma = decodeCompressed(gammaString);
  if (!gamma) {
    throw new VrfError('MALFORMED_PROOF', 'malformed VRF proof: Gamma is not a compressed point on P-256');
  }
  const cString = pi.subarray(PT_LEN, PT_LEN + C_LEN);
  const s = toInt(pi.subarray(PT_LEN + C_LEN));
  if (s >= N) {
    throw new VrfError('MALFORMED_PROOF', 'malformed VRF proof: s is not below the group order');
  }
  return { gamma, gammaString, cString, c: toInt(cString), s };
}

/** try-and-increment with salt = compressed public key. @param {Uint8Array} salt @param {Uint8Array} alpha @returns {Promise<Jac|null>} */
async function encodeToCurve(salt, alpha) {
  for (let ctr = 0; ctr < 256; ctr++) {
    const h = await sha256(concat(new Uint8Array([SUITE_STRING, 0x01]), salt, alpha, new Uint8Array([ctr, 0x00])));
    const p = decompressX(toInt(h), false);
    if (p) return p;
  }
  return null;
}

/** @param {Uint8Array[]} points @returns {Promise<Uint8Array>} */
async function challenge(points) {
  const h = await sha256(concat(new Uint8Array([SUITE_STRING, 0x02]), ...points, new Uint8Array([0x00])));
  return h.subarray(0, C_LEN);
}

/** @param {Uint8Array} gammaString @returns {Promise<Uint8Array>} */
function gammaToHash(gammaString) {
  return sha256(concat(new Uint8Array([SUITE_STRING, 0x03]), gammaString, new Uint8Array([0x00])));
}

/**
 * The output `beta` (32 bytes) a proof carries, WITHOUT checking the proof
 * (use {@link verify}). Throws `VrfError` (`MALFORMED_PROOF`) if the bytes
 * are not a well-formed proof.
 * @param {Uint8Array|string} proof 81 bytes or hex
 * @returns {Promise<Uint8Array>}
 */
export async function proofToHash(proof) {
  const { gammaString } = decodeProof(proof);
  return gammaToHash(gammaString);
}

/**
 * Verify an ECVRF-P256-SHA256-TAI proof (RFC 9381 section 5.3). Resolves
 * to `beta` (32 bytes) when `proof` is the proof of `alpha` under
 * `publicKey`; rejects with a `VrfError` otherwise: code `INVALID_PROOF`
 * for a proof that does not verify, `MALFORMED_PROOF`,
 * `INVALID_PUBLIC_KEY` or `INVALID_INPUT` for bytes that are not what they
 * should be. It never resolves for an invalid proof.
 * @param {Uint8Array|string} publicKey SEC1 P-256 key, bytes or hex
 * @param {Uint8Array|string} alpha the VRF input, bytes or hex
 * @param {Uint8Array|string} proof 81 bytes or hex
 * @returns {Promise<Uint8Array>}
 */
export async function verify(publicKey, alpha, proof) {
  const pk = parsePublicKey(publicKey);
  const alphaBytes = toBytes(alpha);
  const { gamma, gammaString, cString, c, s } = decodeProof(proof);
  const h = await encodeToCurve(pk.compressed, alphaBytes);
  if (!h) throw new VrfError('INVALID_PROOF', 'VRF proof does not verify for this public key and input');
  const negC = (N - c) % N;
  const u = mul2(s, [GX, GY, 1n], negC, pk.point);
  const v = mul2(s, h, negC, gamma);
  const expected = await challenge([pk.compressed, compress(h), gammaString, compress(u), compress(v)]);
  if (!equalBytes(expected, cString)) {
    throw new VrfError('INVALID_PROOF', 'VRF proof does not verify for this public key and input');
  }
  return gammaToHash(gammaString);
}

/**
 * Derive `n` 32-byte words from `beta`: word i = SHA-256(beta || i as u16
 * big-endian), the same words the service and its contracts use.
 * @param {Uint8Array|string} beta 32 bytes or hex
 * @param {number} n 0..65535
 * @returns {Promise<Uint8Array[]>}
 */
export async function words(beta, n) {
  const b = toBytes(beta);
  if (b.length !== 32) throw new VrfError('INVALID_INPUT', 'beta is 32 bytes');
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new VrfError('INVALID_INPUT', 'n must be an integer in 0..65535');
  const out = [];
  for (let i = 0; i < n; i++) out.push(await sha256(concat(b, new Uint8Array([i >> 8, i & 0xff]))));
  return out;
}

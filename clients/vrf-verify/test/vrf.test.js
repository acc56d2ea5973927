// Tests of @nsl/vrf-verify: every ECVRF-P256-SHA256-TAI vector of RFC 9381
// appendix B.1, and tampered inputs refused. Run: node --test test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_WORDS, PROOF_LEN, VrfError, bytesToHex, hexToBytes, proofToHash, verify, words } from '../index.js';

const VECTORS = [
  {
    name: 'example 10 (alpha = "sample")',
    pk: '0360fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6',
    alpha: '73616d706c65',
    pi: '035b5c726e8c0e2c488a107c600578ee75cb702343c153cb1eb8dec77f4b5071b4a53f0a46f018bc2c56e58d383f2305e0975972c26feea0eb122fe7893c15af376b33edf7de17c6ea056d4d82de6bc02f',
    beta: 'a3ad7b0ef73d8fc6655053ea22f9bede8c743f08bbed3d38821f0e16474b505e',
  },
  {
    name: 'example 11 (alpha = "test")',
    pk: '0360fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6',
    alpha: '74657374',
    pi: '034dac60aba508ba0c01aa9be80377ebd7562c4a52d74722e0abae7dc3080ddb56c19e067b15a8a8174905b13617804534214f935b94c2287f797e393eb0816969d864f37625b443f30f1a5a33f2b3c854',
    beta: 'a284f94ceec2ff4b3794629da7cbafa49121972671b466cab4ce170aa365f26d',
  },
  {
    name: 'example 12 (ANSI X9.62 key)',
    pk: '03596375e6ce57e0f20294fc46bdfcfd19a39f8161b58695b3ec5b3d16427c274d',
    alpha:
      '4578616d706c65207573696e67204543445341206b65792066726f6d20417070656e646978204c2e342e32206f6620414e53492e58392d36322d32303035',
    pi: '03d03398bf53aa23831d7d1b2937e005fb0062cbefa06796579f2a1fc7e7b8c667d091c00b0f5c3619d10ecea44363b5a599cadc5b2957e223fec62e81f7b4825fc799a771a3d7334b9186bdbee87316b1',
    beta: '90871e06da5caa39a3c61578ebb844de8635e27ac0b13e829997d0d95dd98c19',
  },
];

// The uncompressed form of the example 10/11 public key (RFC 6979 A.2.5).
const PK10_UNCOMPRESSED =
  '0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299';

const ORDER = 'ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551';
const FIELD_PRIME = 'ffffffff00000001000000000000000000000000ffffffffffffffffffffffff';

/** @param {Promise<unknown>} promise @param {string} code */
async function rejectsWith(promise, code) {
  await assert.rejects(promise, (e) => e instanceof VrfError && e.code === code);
}

/** Flip bit `bit` of a hex string. @param {string} hex @param {number} bit */
function flipBit(hex, bit) {
  const b = hexToBytes(hex);
  b[bit >> 3] ^= 1 << (bit & 7);
  return bytesToHex(b);
}

test('RFC 9381 B.1: every published proof verifies to the published beta', async () => {
  for (const v of VECTORS) {
    assert.equal(bytesToHex(await verify(v.pk, v.alpha, v.pi)), v.beta, v.name);
    assert.equal(bytesToHex(await verify(hexToBytes(v.pk), hexToBytes(v.alpha), hexToBytes(v.pi))), v.beta, v.name);
    assert.equal(bytesToHex(await proofToHash(v.pi)), v.beta, v.name);
  }
});

test('an uncompressed public key is the same key', async () => {
  const v = VECTORS[0];
  assert.equal(bytesToHex(await verify(PK10_UNCOMPRESSED, v.alpha, '0x' + v.pi)), v.beta);
});

test('proofs do not verify for another example input or key', async () => {
  for (const a of VECTORS) {
    for (const b of VECTORS) {
      if (a === b) continue;
      await rejectsWith(verify(b.pk, b.alpha, a.pi), 'INVALID_PROOF');
    }
  }
});

test('every flipped bit of the proof is refused', async () => {
  const v = VECTORS[1];
  for (let bit = 0; bit < PROOF_LEN * 8; bit++) {
    await assert.rejects(verify(v.pk, v.alpha, flipBit(v.pi, bit)), (e) => {
      return e instanceof VrfError && (e.code === 'INVALID_PROOF' || e.code === 'MALFORMED_PROOF');
    }, `bit ${bit}`);
  }
});

test('a flipped bit of alpha or of the key is refused', async () => {
  const v = VECTORS[2];
  for (let bit = 0; bit < 16; bit++) {
    await rejectsWith(verify(v.pk, flipBit(v.alpha, bit * 13), v.pi), 'INVALID_PROOF');
  }
  await rejectsWith(verify(v.pk, v.alpha + '00', v.pi), 'INVALID_PROOF');
  await rejectsWith(verify(v.pk, '', v.pi), 'INVALID_PROOF');
  for (const bit of [0, 8, 100, 200, 263]) {
    await assert.rejects(verify(flipBit(v.pk, bit), v.alpha, v.pi), (e) => {
      return e instanceof VrfError && (e.code === 'INVALID_PROOF' || e.code === 'INVALID_PUBLIC_KEY');
    }, `key bit ${bit}`);
  }
});

test('s at or above the group order is refused', async () => {
  const v = VECTORS[0];
  const gammaC = v.pi.slice(0, 2 * 49);
  await rejectsWith(verify(v.pk, v.alpha, gammaC + ORDER), 'MALFORMED_PROOF');
  await rejectsWith(verify(v.pk, v.alpha, gammaC + 'ff'.repeat(32)), 'MALFORMED_PROOF');
  await rejectsWith(proofToHash(gammaC + ORDER), 'MALFORMED_PROOF');
  // q - 1 parses, and does not verify.
  const below = ORDER.slice(0, 62) + '50';
  await rejectsWith(verify(v.pk, v.alpha, gammaC + below), 'INVALID_PROOF');
});

test('non-canonical or invalid Gamma is refused', async () => {
  const v = VECTORS[0];
  const rest = v.pi.slice(66);
  for (const gamma of ['02' + FIELD_PRIME, '03' + 'ff'.repeat(32), '04' + v.pi.slice(2, 66), '00'.repeat(33)]) {
    await rejectsWith(verify(v.pk, v.alpha, gamma + rest), 'MALFORMED_PROOF');
  }
  // An x with no point on the curve.
  let offCurve = null;
  for (let i = 0; i < 256 && !offCurve; i++) {
    const candidate = '02' + v.pi.slice(2, 64) + i.toString(16).padStart(2, '0');
    try {
      await proofToHash(candidate + rest);
    } catch {
      offCurve = candidate;
    }
  }
  assert.ok(offCurve);
  await rejectsWith(verify(v.pk, v.alpha, offCurve + rest), 'MALFORMED_PROOF');
});

test('malformed inputs are refused with clear codes', async () => {
  const v = VECTORS[0];
  await rejectsWith(verify(v.pk, v.alpha, v.pi.slice(0, 160)), 'MALFORMED_PROOF');
  await rejectsWith(verify(v.pk, v.alpha, v.pi + '00'), 'MALFORMED_PROOF');
  await rejectsWith(verify(v.pk, v.alpha, v.pi.slice(1)), 'INVALID_INPUT');
  await rejectsWith(verify(v.pk, 'zz', v.pi), 'INVALID_INPUT');
  await rejectsWith(verify('02' + FIELD_PRIME, v.alpha, v.pi), 'INVALID_PUBLIC_KEY');
  await rejectsWith(verify('00', v.alpha, v.pi), 'INVALID_PUBLIC_KEY');
  await rejectsWith(verify(v.pk.slice(0, 64), v.alpha, v.pi), 'INVALID_PUBLIC_KEY');
  await rejectsWith(verify('04' + PK10_UNCOMPRESSED.slice(2, 66) + '01'.repeat(32), v.alpha, v.pi), 'INVALID_PUBLIC_KEY');
  // @ts-expect-error deliberately wrong type
  await rejectsWith(verify(42, v.alpha, v.pi), 'INVALID_INPUT');
});

test('words: SHA-256(beta || i as u16 big-endian), same golden values as the Rust crate', async () => {
  const beta = VECTORS[0].beta;
  const w = await words(beta, MAX_WORDS);
  assert.equal(w.length, 16);
  assert.equal(bytesToHex(w[0]), 'd238a7d14c09a86e017eb57b9317b3ea08fe54657ee091b4aaac96cf3b1fd574');
  assert.equal(bytesToHex(w[1]), '707ab132db433089d21a57247edf6134ec2c5ecd6b5f8293993380176db876d8');
  assert.equal(bytesToHex(w[15]), 'da417010696cd2ffab4a2c095c51bb3581ead51b57ba5b4aeccfea2d97163cfe');
  assert.deepEqual(await words(beta, 0), []);
  await rejectsWith(words(beta.slice(2), 1), 'INVALID_INPUT');
  await rejectsWith(words(beta, -1), 'INVALID_INPUT');
  await rejectsWith(words(beta, 65536), 'INVALID_INPUT');
});

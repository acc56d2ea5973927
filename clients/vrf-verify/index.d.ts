// Types of @nsl/vrf-verify (hand-written; the module is plain JavaScript).

/** `suite_string` of ECVRF-P256-SHA256-TAI (0x01). */
export declare const SUITE_STRING: number;
/** Proof length in bytes (81). */
export declare const PROOF_LEN: number;
/** The most words the service derives from one output (16). */
export declare const MAX_WORDS: number;

export type VrfErrorCode = 'INVALID_PUBLIC_KEY' | 'MALFORMED_PROOF' | 'INVALID_PROOF' | 'INVALID_INPUT';

/** Thrown for malformed input and for proofs that do not verify. */
export declare class VrfError extends Error {
  readonly code: VrfErrorCode;
  constructor(code: VrfErrorCode, message: string);
}

/** Bytes or a hex string (optionally 0x-prefixed). */
export type BytesLike = Uint8Array | string;

/** Resolves to beta (32 bytes) if valid; rejects with VrfError otherwise. */
export declare function verify(publicKey: BytesLike, alpha: BytesLike, proof: BytesLike): Promise<Uint8Array>;
/** beta of a proof WITHOUT verifying it. */
export declare function proofToHash(proof: BytesLike): Promise<Uint8Array>;
/** word i = SHA-256(beta || i as u16 big-endian), i in 0..n. */
export declare function words(beta: BytesLike, n: number): Promise<Uint8Array[]>;
export declare function hexToBytes(hex: string): Uint8Array;
export declare function bytesToHex(bytes: Uint8Array): string;

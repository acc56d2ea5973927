// Generates Neo N3 test vectors with neon-js (@cityofzion/neon-core) and prints them as JSON.
// The neo crate's test `neon_vectors` runs this script and recomputes every value in Rust.
// Inputs are fixed here; outputs come only from neon-js.
import { tx, sc, u, wallet } from "@cityofzion/neon-core";

const WIFS = [
  // neo-go internal/keytestcases/testcases.go and pkg/wallet/regenerate_test.go privnetWIFs.
  "L1QqQJnpBwbsPGAuutuzPTac8piqvbR1HRjrY5qHup48TBCBFe4g",
  "L2QTooFoDFyRFTxmtiVHt5CfsXfVnexdbENGDkkrrgTTryiLsPMG",
  "KxyjQ8eUa4FHt3Gvioyt1Wz29cTUrE4eTqX3yFSk1YFCsPL8uNsY",
  "KzfPUYDC9n2yf4fK5ro4C8KMcdeXtFuEnStycbZgX3GomiUsvX6W",
  "L2oEXKRAAMiPEZukwR5ho2S6SMeQLhcK9mF71ZnF7GvT8dU4Kkgz",
];
// Private keys made from fixed seeds, to cover more points (odd/even Y, small X...).
const SEED_KEYS = ["nsl-1", "nsl-2", "nsl-3", "nsl-4", "nsl-5", "nsl-6"].map((s) =>
  wallet.getWIFFromPrivateKey(u.sha256(u.str2hexstring(s))),
);
const ALL_WIFS = [...WIFS, ...SEED_KEYS];
const accounts = ALL_WIFS.map((w) => new wallet.Account(w));

const keys = accounts.map((a) => ({
  wif: a.WIF,
  privateKey: a.privateKey,
  publicKey: a.publicKey,
  publicKeyUnencoded: wallet.getPublicKeyUnencoded(a.publicKey),
  scriptHash: a.scriptHash, // big-endian hex, as neon-js writes hashes
  address: a.address,
  verificationScript: wallet.getVerificationScriptFromPublicKey(a.publicKey),
}));

const multisigSpecs = [
  [1, [0]],
  [2, [0, 1, 2]],
  [3, [2, 3, 4, 0]],
  [4, [5, 6, 7, 8, 9, 10]],
  [1, [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]],
];
// neon-js keeps keys in the order given; Neo nodes sort them by (X, Y). Sort here, independently of
// the Rust code: fixed-width hex of the uncompressed coordinates compares like the numbers.
const neoOrder = (a, b) => {
  const ua = wallet.getPublicKeyUnencoded(a).slice(2);
  const ub = wallet.getPublicKeyUnencoded(b).slice(2);
  return ua < ub ? -1 : ua > ub ? 1 : 0;
};
const multisig = multisigSpecs.map(([m, idx]) => {
  const pubs = idx.map((i) => accounts[i].publicKey);
  const sorted = [...pubs].sort(neoOrder);
  const script = wallet.constructMultiSigVerificationScript(m, sorted);
  const hash = wallet.getScriptHashFromVerificationScript(script);
  return { m, publicKeys: pubs, script, scriptHash: hash, address: wallet.getAddressFromScriptHash(hash) };
});

// NEP-2 with fast scrypt parameters (the standard ones are covered by neo-go's vectors).
const FAST = { n: 256, r: 1, p: 1 };
const nep2 = [];
for (const [i, pass] of [[0, "neon"], [5, "pässwörd"], [6, ""], [7, "我的密码"]]) {
  nep2.push({ wif: accounts[i].WIF, passphrase: pass, scrypt: FAST, encrypted: await wallet.encrypt(accounts[i].WIF, pass, FAST) });
}

// Wallet signMessage envelope: 01 00 01 f0 || varint(len) || salt+message || 00 00, payload as
// UTF-8 (neon-core's str2hexstring keeps only the low byte of each UTF-16 unit, so not used here).
function signMessage(account, salt, message) {
  const payload = Buffer.from(salt + message, "utf8").toString("hex");
  const envelope = "010001f0" + u.num2VarInt(payload.length / 2) + payload + "0000";
  return { publicKey: account.publicKey, salt, message, envelope, signature: wallet.sign(envelope, account.privateKey) };
}
const messages = [
  signMessage(accounts[0], "0123456789abcdef0123456789abcdef", "Sign in to NSL"),
  signMessage(accounts[5], "", "without salt"),
  signMessage(accounts[6], "fedcba9876543210fedcba9876543210", "x".repeat(300)),
  signMessage(accounts[1], "00112233445566778899aabbccddeeff", "ünïcødé ✓"),
];

// Contract-call scripts. Arguments use a neutral form that the Rust test maps to `Arg`.
function toParam(a) {
  switch (a.t) {
    case "null": return sc.ContractParam.any(null);
    case "bool": return sc.ContractParam.boolean(a.v);
    case "int": return sc.ContractParam.integer(a.v);
    case "str": return sc.ContractParam.string(a.v);
    case "bytes": return sc.ContractParam.byteArray(u.HexString.fromHex(a.v, true));
    case "hash160": return sc.ContractParam.hash160(a.v);
    case "pubkey": return sc.ContractParam.publicKey(a.v);
    case "array": return sc.ContractParam.array(...a.v.map(toParam));
    default: throw new Error("unknown arg " + a.t);
  }
}
const NEO = "ef4073a0f2b305a38ec4050e4d3d28bc40ea63f5";
const GAS = "d2a4cff31913016155e38e474a2c06d08be276cf";
const callSpecs = [
  { hash: NEO, method: "symbol", flags: 15, args: [] },
  { hash: GAS, method: "transfer", flags: 15, args: [
    { t: "hash160", v: accounts[0].scriptHash }, { t: "hash160", v: accounts[1].scriptHash },
    { t: "int", v: "100000000" }, { t: "null" } ] },
  { hash: NEO, method: "ints", flags: 5, args: [-1, 0, 16, 17, -2, 127, 128, -128, -129, 255, 256, 32767, 32768,
    -32769, 65535, 2147483647, 2147483648, -2147483649, "9223372036854775807", "9223372036854775808",
    "-9223372036854775809", "170141183460469231731687303715884105727", "170141183460469231731687303715884105728",
    "-170141183460469231731687303715884105729",
    "57896044618658097711785492504343953926634992332820282019728792003956564819967",
    "-57896044618658097711785492504343953926634992332820282019728792003956564819968"].map((v) => ({ t: "int", v: String(v) })) },
  { hash: GAS, method: "mixed", flags: 1, args: [
    { t: "bool", v: true }, { t: "bool", v: false }, { t: "str", v: "héllo" }, { t: "bytes", v: "00ff10" },
    { t: "bytes", v: "ab".repeat(300) }, { t: "pubkey", v: accounts[2].publicKey },
    { t: "array", v: [{ t: "int", v: "1" }, { t: "array", v: [] }, { t: "str", v: "" }] } ] },
];
const calls = callSpecs.map((c) => ({
  ...c,
  script: sc.createScript({ scriptHash: c.hash, operation: c.method, args: c.args.map(toParam), callFlags: c.flags }),
}));

// Transactions: built by neon-js from RPC JSON fields, signed by neon-js.
const MAGIC = 860833102; // N3 MainNet
const transferScript = calls[1].script;
function buildTx(fields) {
  const t = new tx.Transaction({
    version: 0,
    nonce: fields.nonce,
    systemFee: fields.systemFee,
    networkFee: fields.networkFee,
    validUntilBlock: fields.validUntilBlock,
    script: fields.script,
    signers: fields.signers.map((s) => tx.Signer.fromJson(s)),
  });
  // The constructor ignores `attributes`; set them afterwards.
  t.attributes = fields.attributes.map((a) => tx.TransactionAttribute.fromJson(a));
  return t;
}
const transactions = [];
{
  const t = buildTx({
    nonce: 1234567890, systemFee: "997775", networkFee: "1230610", validUntilBlock: 5000000,
    script: transferScript,
    signers: [{ account: "0x" + accounts[0].scriptHash, scopes: "CalledByEntry" }],
    attributes: [],
  });
  const unsigned = t.serialize(false);
  t.sign(accounts[0], MAGIC);
  transactions.push({ magic: MAGIC, signedBy: [0], json: t.toJson(), unsigned, hash: t.hash(), signed: t.serialize(true) });
}
{
  const rules = [
    { action: "Allow", condition: { type: "And", expressions: [
      { type: "Not", expression: { type: "CalledByEntry" } },
      { type: "Or", expressions: [
        { type: "ScriptHash", hash: "0x" + NEO },
        { type: "Group", group: accounts[3].publicKey },
        { type: "CalledByContract", hash: "0x" + GAS },
        { type: "CalledByGroup", group: accounts[4].publicKey },
        { type: "Boolean", expression: false },
      ] },
    ] } },
    { action: "Deny", condition: { type: "Boolean", expression: true } },
  ];
  const t = buildTx({
    nonce: 0xffffffff, systemFee: "100000000000", networkFee: "0", validUntilBlock: 1,
    script: calls[3].script,
    signers: [
      { account: "0x" + accounts[5].scriptHash, scopes: "CalledByEntry, CustomContracts, CustomGroups",
        allowedcontracts: ["0x" + NEO, "0x" + GAS], allowedgroups: [accounts[6].publicKey] },
      { account: "0x" + accounts[6].scriptHash, scopes: "WitnessRules", rules },
      { account: "0x" + accounts[7].scriptHash, scopes: "Global" },
      { account: "0x" + accounts[8].scriptHash, scopes: "None" },
    ],
    attributes: [
      { type: "HighPriority" },
      { type: "OracleResponse", id: 42, code: "Success", result: Buffer.from("{\"price\":1}").toString("base64") },
    ],
  });
  const unsigned = t.serialize(false);
  for (const i of [5, 6, 7, 8]) t.sign(accounts[i], 56753);
  transactions.push({ magic: 56753, signedBy: [5, 6, 7, 8], json: t.toJson(), unsigned, hash: t.hash(), signed: t.serialize(true) });
}
{
  // 3-of-4 multisig sender (multisig[2]); signatures by three of its keys given in a scrambled order.
  const ms = multisig[2];
  const t = buildTx({
    nonce: 7, systemFee: "0", networkFee: "5000000", validUntilBlock: 100,
    script: calls[0].script,
    signers: [{ account: "0x" + ms.scriptHash, scopes: "CalledByEntry" }],
    attributes: [],
  });
  const unsigned = t.serialize(false);
  const msg = t.getMessageForSigning(56753);
  const signers = [4, 0, 3];
  const sigs = signers.map((i) => wallet.sign(msg, accounts[i].privateKey));
  t.addWitness(tx.Witness.buildMultiSig(msg, sigs, ms.script));
  transactions.push({ magic: 56753, signedBy: signers, multisig: 2, json: t.toJson(), unsigned, hash: t.hash(), signed: t.serialize(true) });
}

process.stdout.write(JSON.stringify({ generator: "@cityofzion/neon-core", keys, multisig, nep2, messages, calls, transactions }, null, 1));

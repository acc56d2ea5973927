// Host API prelude: an ES module compiled to bytecode once per process and loaded into every
// execution before the user's module; Rust calls its default export (once) with the native host
// functions. The natives are only ever captured in these closures, never reachable from user
// code. At the end the global object, the builtins and the host API objects are frozen.
let installed = false;
export default function install(hostFetch, hostSecret, hostLog, hostSha256, hostHmac, hostRandom, hostIsArray) {
  if (installed) throw new TypeError("already installed");
  installed = true;
  const O = Object;
  const freeze = O.freeze;
  const defineProperty = O.defineProperty;
  const getOwnPropertyDescriptor = O.getOwnPropertyDescriptor;
  const getPrototypeOf = O.getPrototypeOf;
  const ownKeys = Reflect.ownKeys;
  const jsonStringify = JSON.stringify;
  const jsonParse = JSON.parse;
  const U8 = Uint8Array;
  const AB = ArrayBuffer;
  const Str = String;

  function bytesOrString(value, what) {
    if (typeof value === "string") return value;
    if (value instanceof U8) return value;
    if (value instanceof AB) return new U8(value);
    if (AB.isView(value)) return new U8(value.buffer, value.byteOffset, value.byteLength);
    throw new TypeError(what + " must be a string, Uint8Array, ArrayBuffer or typed array");
  }

  // ---- console ----
  let logFull = false;
  function format(v) {
    if (typeof v === "string") return v;
    if (v instanceof Error) {
      const head = Str(v);
      return typeof v.stack === "string" && v.stack !== "" ? head + "\n" + v.stack : head;
    }
    try {
      const s = jsonStringify(v);
      if (s !== undefined) return s;
    } catch (_) { /* fall through */ }
    try {
      return Str(v);
    } catch (_) {
      return "[unprintable]";
    }
  }
  function logger(level) {
    return function (...args) {
      if (logFull) return;
      let line = "";
      for (let i = 0; i < args.length; i++) line += (i === 0 ? "" : " ") + format(args[i]);
      if (!hostLog(level, line)) logFull = true;
    };
  }
  const console = {
    log: logger("log"),
    info: logger("info"),
    warn: logger("warn"),
    error: logger("error"),
  };

  // ---- fetch ----
  function makeHeaders(flat) {
    const map = new Map();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const k = flat[i];
      const prev = map.get(k);
      map.set(k, prev === undefined ? flat[i + 1] : prev + ", " + flat[i + 1]);
    }
    return freeze({
      get(name) {
        const v = map.get(Str(name).toLowerCase());
        return v === undefined ? null : v;
      },
      has(name) {
        return map.has(Str(name).toLowerCase());
      },
      entries() {
        return [...map.entries()];
      },
    });
  }
  function makeResponse(r) {
    const body = r.body;
    const text = r.text;
    return freeze({
      status: r.status,
      ok: r.status >= 200 && r.status <= 299,
      url: r.url,
      headers: makeHeaders(r.headers),
      text: async () => text,
      json: async () => jsonParse(text),
      bytes: async () => new U8(body),
      arrayBuffer: async () => body.buffer.slice(0),
    });
  }
  async function fetch(url, init) {
    if (init === undefined || init === null) init = {};
    if (typeof init !== "object") throw new TypeError("fetch: init must be an object");
    const method = init.method === undefined ? "GET" : Str(init.method);
    const headers = [];
    const h = init.headers;
    if (h !== undefined && h !== null) {
      if (typeof h !== "object") throw new TypeError("fetch: headers must be an object or an array of pairs");
      if (Array.isArray(h)) {
        for (const pair of h) headers.push(Str(pair[0]), Str(pair[1]));
      } else {
        for (const k of O.keys(h)) headers.push(k, Str(h[k]));
      }
    }
    let body = init.body;
    if (body === undefined || body === null) body = undefined;
    else body = bytesOrString(body, "fetch: body");
    return makeResponse(hostFetch(Str(url), method, headers, body));
  }

  // ---- secrets ----
  const secrets = {
    get(name) {
      if (typeof name !== "string") throw new TypeError("secrets.get: name must be a string");
      return hostSecret(name);
    },
  };

  // ---- crypto ----
  const crypto = {
    sha256(data) {
      return hostSha256(bytesOrString(data, "crypto.sha256: data"));
    },
    hmacSha256(key, data) {
      return hostHmac(bytesOrString(key, "crypto.hmacSha256: key"), bytesOrString(data, "crypto.hmacSha256: data"));
    },
    randomBytes(n) {
      if (typeof n !== "number" || !Number.isInteger(n) || n < 0) {
        throw new RangeError("crypto.randomBytes: n must be a non-negative integer");
      }
      return hostRandom(n);
    },
  };

  for (const [name, value] of [["console", console], ["fetch", fetch], ["secrets", secrets], ["crypto", crypto]]) {
    defineProperty(globalThis, name, { value, writable: false, enumerable: false, configurable: false });
  }

  // ---- guards for generic Array methods whose native loops over `length` never poll the
  // interrupt handler (e.g. `Array.prototype.join.call({ length: 2 ** 32 }, "")` would spin for
  // minutes without allocating): they only accept real arrays (not proxies) of bounded length;
  // the non-mutating ones copy other array-likes first (`Array.from`, which polls or allocates).
  const MAX_ARRAY_LENGTH = 1 << 24;
  const apply = Reflect.apply;
  const arrayFrom = Array.from;
  const isConcatSpreadable = Symbol.isConcatSpreadable;
  function checkArray(name, a) {
    if (a.length > MAX_ARRAY_LENGTH) {
      throw new RangeError("Array.prototype." + name + ": arrays longer than " + MAX_ARRAY_LENGTH + " elements are not supported in the sandbox");
    }
  }
  function guard(name, mutating) {
    const native = Array.prototype[name];
    if (typeof native !== "function") return;
    const wrapper = {
      [name](...args) {
        let self = this;
        if (!hostIsArray(self)) {
          if (mutating) throw new TypeError("Array.prototype." + name + " only works on arrays in the sandbox");
          self = arrayFrom(O(self));
        }
        checkArray(name, self);
        if (name === "concat") {
          for (let i = 0; i < args.length; i++) {
            const a = args[i];
            if (a !== null && typeof a === "object" && (hostIsArray(a) || a[isConcatSpreadable])) {
              if (!hostIsArray(a)) args[i] = arrayFrom(a);
              checkArray(name, args[i]);
            }
          }
        }
        return apply(native, self, args);
      },
    }[name];
    defineProperty(Array.prototype, name, { value: wrapper, writable: true, enumerable: false, configurable: true });
  }
  for (const name of ["join", "toLocaleString", "slice", "concat", "flat", "flatMap", "toReversed", "toSorted", "toSpliced", "with"]) guard(name, false);
  for (const name of ["reverse", "fill", "copyWithin", "sort", "splice", "shift", "unshift"]) guard(name, true);

  // ---- override taming: keep `obj.toString = ...`, `this.name = ...` working on instances
  // although the prototypes that define these properties are frozen.
  function tame(proto, names) {
    for (const name of names) {
      const d = getOwnPropertyDescriptor(proto, name);
      if (d === undefined || !("value" in d)) continue;
      const value = d.value;
      defineProperty(proto, name, {
        get() {
          return value;
        },
        set(v) {
          if (this === proto) throw new TypeError("Cannot assign to read only property '" + Str(name) + "' of a frozen builtin");
          defineProperty(this, name, { value: v, writable: true, enumerable: true, configurable: true });
        },
        enumerable: d.enumerable,
        configurable: false,
      });
    }
  }
  // The properties scripts commonly assign on instances (`this.name = ...` in Error subclasses,
  // own `toString`/`valueOf`, ...).
  tame(O.prototype, ["constructor", "toString", "valueOf", "toLocaleString", "hasOwnProperty"]);
  tame(Function.prototype, ["toString"]);
  tame(Array.prototype, ["toString"]);
  tame(Error.prototype, ["name", "message", "constructor", "toString"]);

  // ---- freeze: the global object, the prototype of every global constructor, the hidden
  // intrinsic prototypes, the prototype chains of all of these, the JSON and Math namespaces and
  // the host API objects. (Each execution has its own runtime, so this guards the host API and
  // the builtins against the script itself; nothing could leak to another execution anyway.)
  delete Atomics.wait; // would block the thread outside the interrupt handler's reach
  delete Atomics.waitAsync;
  defineProperty(globalThis, "performance", { enumerable: false });
  const targets = [globalThis, JSON, Math, console, fetch, secrets, crypto];
  const globalNames = ownKeys(globalThis);
  for (let i = 0; i < globalNames.length; i++) {
    const d = getOwnPropertyDescriptor(globalThis, globalNames[i]);
    const v = d === undefined ? undefined : d.value;
    if (typeof v === "function") {
      const p = getOwnPropertyDescriptor(v, "prototype");
      if (p !== undefined && typeof p.value === "object" && p.value !== null) targets.push(p.value);
    }
  }
  const hidden = [
    () => getPrototypeOf(function* () {}),
    () => getPrototypeOf(function* () {}).prototype,
    () => getPrototypeOf(async function () {}),
    () => getPrototypeOf(async function* () {}),
    () => getPrototypeOf(async function* () {}).prototype,
    () => getPrototypeOf([][Symbol.iterator]()),
    () => getPrototypeOf(new Map()[Symbol.iterator]()),
    () => getPrototypeOf(new Set()[Symbol.iterator]()),
    () => getPrototypeOf(""[Symbol.iterator]()),
    () => getPrototypeOf(/a/g[Symbol.matchAll]("a")),
    () => getPrototypeOf([].values().map((x) => x)),
    () => getPrototypeOf(Iterator.from({ next() { return { done: true }; } })),
    () => getPrototypeOf(Uint8Array),
    () => getPrototypeOf(Uint8Array).prototype,
  ];
  for (let i = 0; i < hidden.length; i++) {
    try {
      const o = hidden[i]();
      if (typeof o === "object" || typeof o === "function") targets.push(o);
    } catch (_) { /* intrinsic not present in this engine */ }
  }
  const seen = new Set();
  for (let i = 0; i < targets.length; i++) {
    let o = targets[i];
    while (o !== null && !seen.has(o)) {
      seen.add(o);
      freeze(o);
      o = getPrototypeOf(o);
    }
  }
}

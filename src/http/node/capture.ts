import { type OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Execution, ResponsePlan } from "../../core/execution.js";
import type { HeaderPair } from "../../store.js";

type Callback = (error?: Error | null) => void;
type WriteArgs = [chunk: unknown, encoding?: unknown, callback?: unknown];
type EndArgs = [chunk?: unknown, encoding?: unknown, callback?: unknown];

/** A write, end or flushHeaders call held while the engine decides how to deliver the response. */
type HeldCall = { kind: "write"; args: WriteArgs } | { kind: "end"; args: EndArgs } | { kind: "flush" };

/**
 * The state of each hooked response. Kept beside the response rather than on it: every
 * property added to an Express response (whose prototype Express swaps per request)
 * costs microseconds, and this runs on every guarded request.
 */
const captures = new WeakMap<ServerResponse, ResponseCapture>();

function captureOf(res: ServerResponse): ResponseCapture {
  return captures.get(res) as ResponseCapture;
}

function hookedEmit(this: ServerResponse, event: string | symbol, ...args: unknown[]): boolean {
  return captureOf(this).emit(event, args);
}

/** The response methods a capture intercepts. */
type Methods = Pick<ServerResponse, "writeHead" | "write" | "end" | "flushHeaders">;
type MethodName = keyof Methods;

/** What each hooked method does once its response's capture is found. */
const INTERCEPTS: Record<
  MethodName,
  (capture: ResponseCapture, res: ServerResponse, args: unknown[]) => unknown
> = {
  writeHead: (capture, _res, [status, ...rest]) => capture.writeHead(status as number, rest),
  write: (capture, _res, args) => capture.intercept({ kind: "write", args: args as WriteArgs }),
  end: (capture, res, args) => {
    capture.intercept({ kind: "end", args: args as EndArgs });
    return res;
  },
  flushHeaders: (capture) => {
    capture.intercept({ kind: "flush" });
  },
};
const METHOD_NAMES = Object.keys(INTERCEPTS) as MethodName[];

// The own-property hooks are made once, not per request: this runs on every guarded
// request, and creating a set of closures each time is measurable.
const OWN_HOOKS = Object.fromEntries(
  METHOD_NAMES.map((name) => {
    const intercept = INTERCEPTS[name];
    return [
      name,
      function (this: ServerResponse, ...args: unknown[]) {
        return intercept(captureOf(this), this, args);
      },
    ];
  }),
) as unknown as Methods;

/** Framework prototypes that dispatch to captures, with the methods their hooks stand in front of. */
const hookedPrototypes = new WeakMap<object, Methods>();

/**
 * Hooks a Node response so the execution sees its status, headers and body.
 *
 * The first `write`, `end` or `flushHeaders` call fixes the status and headers; calls are
 * held (never lost, never reordered) until the execution has chosen a plan. With
 * `store-first` the body is buffered and stored before a byte is sent; with `stream` it
 * flows to the client as written and is captured on the way; with `pass` the response
 * goes out untouched and the hooks are removed.
 */
export function captureResponse(res: ServerResponse, execution: Execution): void {
  const shared = sharedPrototype(res);
  const replaced = shared && !hasOwnMethods(res) ? hookPrototype(shared) : undefined;
  const capture = new ResponseCapture(res, execution, replaced ?? methodsOf(res), replaced !== undefined);
  captures.set(res, capture);
  if (!replaced) Object.assign(res, OWN_HOOKS);
  execution.watchClient(capture);
}

/** Whether something before oncely gave the response its own hooks (which the prototype's cannot stand in front of). */
function hasOwnMethods(res: ServerResponse): boolean {
  for (const name of METHOD_NAMES) if (Object.hasOwn(res, name)) return true;
  return false;
}

/**
 * The prototype right below `ServerResponse.prototype` in the response's chain: the one
 * a framework shares between all its responses (`express.response`, which every Express
 * app's and mounted sub-app's response prototype inherits from), or a subclass's.
 * Undefined for a plain Node response.
 *
 * Express gives each response its own hidden class by swapping its prototype, so every
 * property added to one costs a copy of its layout; hooking the shared prototype once
 * instead saves that on every request. The hooks sit above every app-level prototype, so
 * a sub-app that swaps the prototype again on the way in or out keeps them.
 */
function sharedPrototype(res: ServerResponse): object | undefined {
  let proto: object | null = Object.getPrototypeOf(res);
  if (proto === ServerResponse.prototype) return undefined;
  while (proto !== null) {
    const parent: object | null = Object.getPrototypeOf(proto);
    if (parent === ServerResponse.prototype) return proto;
    proto = parent;
  }
  return undefined;
}

/**
 * Installs, once, hooks on a shared prototype that route calls for a response captured
 * on the prototype to its capture, and every other call to the method they replaced.
 */
function hookPrototype(proto: object): Methods {
  const known = hookedPrototypes.get(proto);
  if (known) return known;
  const replaced = methodsOf(proto as ServerResponse);
  hookedPrototypes.set(proto, replaced);
  for (const name of METHOD_NAMES) {
    const intercept = INTERCEPTS[name];
    const original = replaced[name] as (...args: unknown[]) => unknown;
    Object.defineProperty(proto, name, {
      configurable: true,
      writable: true,
      value: function (this: ServerResponse, ...args: unknown[]) {
        const capture = captures.get(this);
        return capture?.interceptsOnPrototype ? intercept(capture, this, args) : original.apply(this, args);
      },
    });
  }
  return replaced;
}

function methodsOf(target: ServerResponse): Methods {
  const { writeHead, write, end, flushHeaders } = target;
  return { writeHead, write, end, flushHeaders };
}

/** The state of one hooked response. */
class ResponseCapture {
  readonly #res: ServerResponse;
  readonly #execution: Execution;
  /** The methods as they were before hooking (possibly another middleware's own hooks). */
  readonly #original: Methods;
  readonly #emit: ServerResponse["emit"];
  /** Hooked through its shared prototype, else through own properties. */
  readonly #onPrototype: boolean;
  #plan: ResponsePlan | undefined;
  #held: HeldCall[] | undefined;
  #ended = false;
  /** While the store is behind, the socket's own 'drain' must not wake the handler. */
  #storeBehind = false;
  /** A write was answered "wait" while the plan was being chosen. */
  #drainOwed = false;
  /** Bytes of `write` calls before a store-first `end`. */
  #buffered: Buffer[] | undefined;

  constructor(res: ServerResponse, execution: Execution, original: Methods, onPrototype: boolean) {
    this.#res = res;
    this.#execution = execution;
    this.#original = original;
    this.#emit = res.emit;
    this.#onPrototype = onPrototype;
  }

  /** Whether the shared prototype's hooks must route this response's calls here (not its own hooks). */
  get interceptsOnPrototype(): boolean {
    return this.#onPrototype;
  }

  writeHead(status: number, rest: unknown[]): ServerResponse {
    const res = this.#res;
    if (this.#plan !== undefined)
      return this.#original.writeHead.call(res, status, ...(rest as [OutgoingHttpHeaders]));
    // Apply now, send later: the status and headers are not final until the plan is known.
    res.statusCode = status;
    const [reasonOrHeaders, maybeHeaders] = rest;
    if (typeof reasonOrHeaders === "string") res.statusMessage = reasonOrHeaders;
    applyHeaders(res, typeof reasonOrHeaders === "string" ? maybeHeaders : reasonOrHeaders);
    return res;
  }

  intercept(call: HeldCall): boolean {
    if (call.kind === "end") {
      if (this.#ended) return true;
      this.#ended = true;
    }
    if (this.#plan === undefined && !this.#held) this.#decide(call);
    if (this.#plan !== undefined) return this.#deliver(call);
    // Until the plan is known nothing may pile up: a writer that honours backpressure waits.
    this.#held?.push(call);
    this.#drainOwed = call.kind === "write";
    return !this.#drainOwed;
  }

  emit(event: string | symbol, args: unknown[]): boolean {
    if (event === "drain" && this.#storeBehind) return false;
    return this.#emit.call(this.#res, event, ...args);
  }

  /** The client went away before the handler ended the response. */
  get abandoned(): boolean {
    return !this.#ended && this.#res.destroyed;
  }

  /** Asks the execution for a plan: adopted at once, or calls are held until it comes. */
  #decide(first: HeldCall): void {
    const res = this.#res;
    const plan = this.#execution.respond(res.statusCode, headerPairs(res), knownLength(res, first));
    // Meant for oncely, never for the client.
    res.removeHeader(this.#execution.storeHeader);
    if (typeof plan === "string") {
      this.#adopt(plan);
      return;
    }
    this.#held = [];
    plan.then(
      (pass) => this.#planned(pass),
      (error: unknown) => res.destroy(error instanceof Error ? error : new Error(String(error))),
    );
  }

  #adopt(plan: ResponsePlan): void {
    this.#plan = plan;
    if (plan === "pass") this.#detach();
  }

  #planned(plan: ResponsePlan): void {
    const res = this.#res;
    this.#adopt(plan);
    const calls = this.#held ?? [];
    this.#held = undefined;
    for (const call of calls) this.#deliver(call);
    // Writes made while the plan was open were told to wait; wake the writer unless the
    // store or the socket has asked it to wait longer.
    if (this.#drainOwed && !this.#ended && !this.#storeBehind && !res.writableNeedDrain) {
      this.#emit.call(res, "drain");
    }
  }

  /**
   * Lets go of the response once nothing more is to be captured: its calls go straight
   * to the methods it had. Done as soon as possible, not left to the garbage collector:
   * every capture still in the WeakMap makes each collection slower.
   */
  #detach(): void {
    const res = this.#res;
    captures.delete(res);
    if (!this.#onPrototype) Object.assign(res, this.#original);
    if (res.emit !== this.#emit) res.emit = this.#emit;
  }

  /**
   * Hands the held-back end to Node, then lets go of the response. Not the other way
   * round: letting go puts back the methods from before oncely, and Node's `end` calls
   * `writeHead`, which must still reach hooks added after oncely (as on-headers adds).
   */
  #end(args: unknown[]): void {
    this.#original.end.apply(this.#res, args as never);
    this.#detach();
  }

  #deliver(call: HeldCall): boolean {
    const res = this.#res;
    if (call.kind === "flush") {
      this.#original.flushHeaders.call(res);
      return true;
    }
    if (this.#plan === "pass") {
      if (call.kind === "write") return this.#original.write.apply(res, call.args as never);
      this.#original.end.apply(res, call.args as never);
      return true;
    }
    const { chunk, encoding, callback } = normalise(call.args);
    const bytes = chunk === undefined ? undefined : toBuffer(chunk, encoding);
    return this.#plan === "store-first" ? this.#storeFirst(call, bytes, callback) : this.#stream(call, bytes);
  }

  #storeFirst(
    call: HeldCall & { kind: "write" | "end" },
    bytes: Buffer | undefined,
    callback: Callback | undefined,
  ): boolean {
    if (bytes) this.#execution.write(bytes);
    if (call.kind === "write") {
      // A copy: the callback tells the writer it may reuse its buffer.
      if (bytes) {
        this.#buffered ??= [];
        this.#buffered.push(Buffer.from(bytes));
      }
      if (callback) process.nextTick(callback);
      return true;
    }
    // A body sent in one end() goes out as given: Node then writes a string body in one
    // piece with the headers.
    let args = call.args as unknown[];
    if (this.#buffered) {
      const body = Buffer.concat(bytes ? [...this.#buffered, bytes] : this.#buffered);
      args = callback ? [body, callback] : [body];
    }
    void this.#execution.finish().then(() => this.#end(args));
    return true;
  }

  #stream(call: HeldCall & { kind: "write" | "end" }, bytes: Buffer | undefined): boolean {
    const res = this.#res;
    const accepted = bytes ? this.#execution.write(bytes) : true;
    if (call.kind === "end") {
      // The end goes out once the record is complete: a client that got the whole body
      // and retries at once must meet the replay, not a key still in flight.
      void this.#execution.finish().then(() => this.#end(call.args));
      return true;
    }
    const flowing = this.#original.write.apply(res, call.args as never);
    if (!accepted && !this.#storeBehind) {
      this.#storeBehind = true;
      // Hooked only now: emit is hot, and most responses never outrun the store.
      if (res.emit === this.#emit) res.emit = hookedEmit as ServerResponse["emit"];
      this.#execution.onDrain(() => {
        this.#storeBehind = false;
        if (!res.writableNeedDrain) this.#emit.call(res, "drain");
      });
    }
    return flowing && accepted;
  }
}

function normalise(args: WriteArgs | EndArgs): {
  chunk: unknown;
  encoding: BufferEncoding | undefined;
  callback: Callback | undefined;
} {
  const [first, second, third] = args;
  if (typeof first === "function")
    return { chunk: undefined, encoding: undefined, callback: first as Callback };
  if (typeof second === "function")
    return { chunk: first, encoding: undefined, callback: second as Callback };
  return {
    chunk: first ?? undefined,
    encoding: typeof second === "string" ? (second as BufferEncoding) : undefined,
    callback: typeof third === "function" ? (third as Callback) : undefined,
  };
}

function toBuffer(chunk: unknown, encoding: BufferEncoding | undefined): Buffer {
  if (typeof chunk === "string") return Buffer.from(chunk, encoding ?? "utf8");
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError("response chunks must be strings, Buffers or Uint8Arrays");
}

/** The body length when it is known before the first byte: a Content-Length header, or a single `end(body)`. */
function knownLength(res: ServerResponse, first: HeldCall): number | undefined {
  const declared = res.getHeader("content-length");
  if (declared !== undefined) {
    const length = Number(declared);
    return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
  }
  if (first.kind !== "end" || res.getHeader("transfer-encoding") !== undefined) return undefined;
  const { chunk, encoding } = normalise(first.args);
  if (chunk === undefined) return 0;
  return typeof chunk === "string"
    ? Buffer.byteLength(chunk, encoding ?? "utf8")
    : (chunk as Uint8Array).byteLength;
}

function headerPairs(res: ServerResponse): HeaderPair[] {
  const pairs: HeaderPair[] = [];
  for (const name of res.getHeaderNames()) {
    const value = res.getHeader(name);
    if (Array.isArray(value)) for (const item of value) pairs.push([name, item]);
    else if (value !== undefined) pairs.push([name, String(value)]);
  }
  return pairs;
}

/** Applies headers given to `writeHead` (an object or a flat `[name, value, …]` list) through the header API. */
function applyHeaders(res: ServerResponse, headers: unknown): void {
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2)
      res.appendHeader(String(headers[i]), String(headers[i + 1]));
  } else if (headers && typeof headers === "object") {
    for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) {
      if (value !== undefined) res.setHeader(name, value);
    }
  }
}

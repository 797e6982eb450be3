/**
 * `oncely/nestjs`: idempotency for NestJS on its Express platform, as an interceptor and
 * an `@Idempotent()` decorator.
 *
 * - Global: `{ provide: APP_INTERCEPTOR, useValue: new IdempotencyInterceptor({ store }) }`
 *   among a module's providers (or `app.useGlobalInterceptors(...)`).
 * - Per controller or route: `@UseInterceptors(new IdempotencyInterceptor({ store }))`.
 * - `@Idempotent(false)` opts a controller or route out; with `global: false`, only
 *   controllers and routes marked `@Idempotent()` are guarded.
 *
 * Nest parses JSON bodies before interceptors run: create the app with `rawBody: true` so
 * the fingerprint covers the exact body bytes (else the parsed body is fingerprinted as JSON).
 * A keyed body Nest left unparsed (another content type, read by the handler) and larger than
 * `maxRequestBodyBytes` streams to the handler, hashed as Node receives it, up to
 * `maxUploadBytes`.
 *
 * @example
 * import { Controller, Module, Post } from "@nestjs/common";
 * import { APP_INTERCEPTOR, NestFactory } from "@nestjs/core";
 * import { createStore } from "oncely";
 * import { IdempotencyInterceptor } from "oncely/nestjs";
 *
 * @Controller("orders")
 * class OrdersController {
 *   @Post() create() { return { id: 1 }; }
 * }
 * const store = await createStore("memory:");
 * @Module({
 *   controllers: [OrdersController],
 *   providers: [{ provide: APP_INTERCEPTOR, useValue: new IdempotencyInterceptor({ store }) }],
 * })
 * class AppModule {}
 * const app = await NestFactory.create(AppModule, { rawBody: true });
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type CallHandler, type ExecutionContext, type NestInterceptor, SetMetadata } from "@nestjs/common";
import { Reflector } from "@nestjs/core";
import { from, type Observable, of, switchMap, throwError } from "rxjs";
import { catchError } from "rxjs/operators";
import { createEngine, type IdempotencyEngine } from "../../core/engine.js";
import type { IdempotencyOptions } from "../../core/options.js";
import { handlerStreamer, type UploadStreamer } from "../../http/node/body-stream.js";
import { guardRequest } from "../../http/node/guard.js";

export type { IdempotencyOptions } from "../../core/options.js";

/** The metadata key `@Idempotent()` sets. */
export const IDEMPOTENT = "oncely:idempotent";

/**
 * Marks a controller or a route as guarded (`@Idempotent()`, needed when the interceptor
 * has `global: false`) or not (`@Idempotent(false)`). A route's mark wins over its
 * controller's.
 */
export function Idempotent(guarded = true): MethodDecorator & ClassDecorator {
  return SetMetadata(IDEMPOTENT, guarded);
}

/** Options of the interceptor: the engine's, plus which routes are guarded. */
export interface NestIdempotencyOptions extends IdempotencyOptions {
  /**
   * Guard every route the interceptor applies to (routes opt out with `@Idempotent(false)`),
   * or, when false, only those marked `@Idempotent()`.
   * @default true
   */
  global?: boolean;
}

/**
 * The idempotency interceptor. A guarded request runs its handler once per key; retries
 * get the stored response back with `X-Idempotency-Replayed: true`; refusals (409, 422,
 * 400) are problem+json. A handler that throws releases the key, and the error goes on
 * to Nest's exception filters.
 */
export class IdempotencyInterceptor implements NestInterceptor {
  readonly #engine: IdempotencyEngine;
  readonly #global: boolean;
  readonly #guarding: { readonly streamer: UploadStreamer };
  readonly #reflector = new Reflector();

  /** @param options engine options; see {@link IdempotencyOptions} for every default */
  constructor(options: NestIdempotencyOptions) {
    const { global = true, ...engineOptions } = options;
    this.#engine = createEngine(engineOptions);
    this.#guarding = { streamer: handlerStreamer(this.#engine) };
    this.#global = global;
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== "http" || !this.#guarded(context)) return next.handle();
    const http = context.switchToHttp();
    const req = http.getRequest<IncomingMessage>();
    const res = http.getResponse<ServerResponse>();
    if (!this.#engine.guards(req.method ?? "GET")) return next.handle();
    return from(Promise.resolve(guardRequest(this.#engine, req, res, this.#guarding))).pipe(
      switchMap((outcome) => {
        // Answered already, straight on the response: Nest has nothing left to send.
        if (!outcome.next) return of(undefined);
        const { execution } = outcome;
        if (!execution) return next.handle();
        return next
          .handle()
          .pipe(
            catchError((error: unknown) =>
              from(execution.fail()).pipe(switchMap(() => throwError(() => error))),
            ),
          );
      }),
    );
  }

  #guarded(context: ExecutionContext): boolean {
    const marked = this.#reflector.getAllAndOverride<boolean | undefined>(IDEMPOTENT, [
      context.getHandler(),
      context.getClass(),
    ]);
    return marked ?? this.#global;
  }
}

import "reflect-metadata";
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  All,
  BadRequestException,
  Controller,
  HttpCode,
  Module,
  Post,
  Req,
  Res,
  UseInterceptors,
} from "@nestjs/common";
import { APP_INTERCEPTOR, NestFactory } from "@nestjs/core";
import { describe, expect, it } from "vitest";
import { IdempotencyInterceptor, Idempotent } from "../../src/adapters/nestjs/index.js";
import { createStore, type IdempotencyOptions } from "../../src/index.js";
import { describeAdapter } from "../conformance/adapter-behaviour.js";
import type { BehaviourApp } from "../conformance/behaviour-app.js";
import { writeAnswer } from "../conformance/translate.js";
import { newKey, readBody, send, type TestServer } from "../helpers/http.js";

// Decorators applied as plain calls: this repository compiles without experimentalDecorators.
type Decorator = (target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => unknown;
function decorate(target: { prototype: object }, method: string, ...decorators: Decorator[]): void {
  const descriptor = Object.getOwnPropertyDescriptor(target.prototype, method);
  for (const decorator of decorators) decorator(target.prototype, method, descriptor);
}
function param(target: { prototype: object }, method: string, index: number, decorator: ParameterDecorator) {
  decorator(target.prototype, method, index);
}

async function serveNest(module: new () => object): Promise<TestServer> {
  const app = await NestFactory.create(module, { logger: false, rawBody: true, forceCloseConnections: true });
  await app.listen(0, "127.0.0.1");
  const url = (await app.getUrl()).replace("[::1]", "127.0.0.1");
  return { url, port: Number(new URL(url).port), close: () => app.close() };
}

describeAdapter("NestJS", (options: IdempotencyOptions, behaviour: BehaviourApp) => {
  class BehaviourController {
    async handle(req: IncomingMessage & { rawBody?: Buffer }, res: ServerResponse) {
      const body = req.rawBody ?? (await readBody(req));
      await writeAnswer(
        res,
        await behaviour.handle({ method: req.method ?? "GET", path: req.url ?? "/", body }),
      );
    }
  }
  decorate(BehaviourController, "handle", All("{*path}") as Decorator);
  param(BehaviourController, "handle", 0, Req());
  param(BehaviourController, "handle", 1, Res());
  Controller()(BehaviourController);
  class AppModule {}
  Module({
    controllers: [BehaviourController],
    providers: [{ provide: APP_INTERCEPTOR, useValue: new IdempotencyInterceptor(options) }],
  })(AppModule);
  return serveNest(AppModule);
});

describe("NestJS adapter extras", () => {
  it("guards per controller, honours @Idempotent, sends return values, and releases on exceptions", async () => {
    const store = await createStore("memory:");
    let executions = 0;
    class OrdersController {
      create() {
        return { id: ++executions };
      }
      skipped() {
        return { id: ++executions };
      }
      broken() {
        executions++;
        throw new BadRequestException("no such order");
      }
    }
    decorate(OrdersController, "create", Post("create") as Decorator, HttpCode(200) as Decorator);
    decorate(OrdersController, "skipped", Post("skipped") as Decorator, Idempotent(false) as Decorator);
    decorate(OrdersController, "broken", Post("broken") as Decorator);
    UseInterceptors(new IdempotencyInterceptor({ store }))(OrdersController);
    Controller("orders")(OrdersController);

    class OptInController {
      marked() {
        return { id: ++executions };
      }
      unmarked() {
        return { id: ++executions };
      }
    }
    decorate(OptInController, "marked", Post("marked") as Decorator, Idempotent() as Decorator);
    decorate(OptInController, "unmarked", Post("unmarked") as Decorator);
    UseInterceptors(new IdempotencyInterceptor({ store, global: false }))(OptInController);
    Controller("opt-in")(OptInController);

    class PlainController {
      open() {
        return { id: ++executions };
      }
    }
    decorate(PlainController, "open", Post("open") as Decorator);
    Controller("plain")(PlainController);

    class AppModule {}
    Module({ controllers: [OrdersController, OptInController, PlainController] })(AppModule);
    const server = await serveNest(AppModule);
    try {
      const twice = async (path: string) => {
        const key = newKey();
        const init = { headers: { "idempotency-key": key, "content-type": "application/json" }, body: "{}" };
        const first = await send(`${server.url}${path}`, init);
        const second = await send(`${server.url}${path}`, init);
        return [
          first.status,
          second.status,
          second.headers.get("x-idempotency-replayed"),
          second.text === first.text,
        ];
      };
      expect(await twice("/orders/create")).toEqual([200, 200, "true", true]);
      expect(await twice("/opt-in/marked")).toEqual([201, 201, "true", true]);
      expect(await twice("/orders/skipped")).toEqual([201, 201, null, false]);
      expect(await twice("/opt-in/unmarked")).toEqual([201, 201, null, false]);
      expect(await twice("/plain/open")).toEqual([201, 201, null, false]);
      // A 400 is a stored status, but the thrown exception releases the key.
      expect(await twice("/orders/broken")).toEqual([400, 400, null, true]);
      expect(executions).toBe(2 + 2 * 4);
      const reused = await send(`${server.url}/orders/create`, {
        headers: { "idempotency-key": "fixed", "content-type": "application/json" },
        body: '{"a":1}',
      });
      const mismatch = await send(`${server.url}/orders/create`, {
        headers: { "idempotency-key": "fixed", "content-type": "application/json" },
        body: '{"a":2}',
      });
      expect([reused.status, mismatch.status]).toEqual([200, 422]);
      expect(mismatch.headers.get("content-type")).toBe("application/problem+json");
    } finally {
      await server.close();
      await store.close();
    }
  });
});

// The OpenAPI fragment: valid OpenAPI 3.1 (checked by a maintained validator), merges into a
// service's document, lists every problem type of the code, states the configured rules, and
// describes what a real gateway answers.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultShouldStore } from "../../src/core/options.js";
import { PROBLEM_TYPE_BASE, PROBLEMS } from "../../src/core/problems.js";
import { createGateway, type Gateway } from "../../src/gateway/gateway.js";
import {
  COMPONENT_NAMES,
  idempotencyOpenApi,
  idempotencyOperation,
  type OpenApiObject,
} from "../../src/openapi/index.js";
import { createStore } from "../../src/stores/create-store.js";
import { runCli, startUpstream, type Upstream } from "../gateway/helpers.js";
import { newKey, send } from "../helpers/http.js";
import { claimed, temporaryDirectory } from "../helpers/stores.js";

interface ProblemSchema {
  properties: { type: { enum: string[] }; status: { const: number } };
}

interface StripeSchema {
  properties: { error: { properties: { type: { const: string }; code: { enum: string[] } } } };
}

interface DescribedResponse {
  description: string;
  headers: Record<string, unknown>;
  content: Record<string, { schema: unknown }>;
}

function responses(document: OpenApiObject): Record<string, DescribedResponse> {
  return (document.components as { responses: Record<string, DescribedResponse> }).responses;
}

function problemSchema(response: DescribedResponse): ProblemSchema {
  return response.content["application/problem+json"]?.schema as ProblemSchema;
}

function keyDescription(document: OpenApiObject): string {
  const parameters = (document.components as { parameters: Record<string, { description: string }> })
    .parameters;
  return parameters[COMPONENT_NAMES.keyParameter]?.description ?? "";
}

async function validate(document: OpenApiObject): Promise<void> {
  const result = await new Validator().validate(document);
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  expect(result.valid).toBe(true);
}

describe("the OpenAPI fragment", () => {
  it("is valid OpenAPI 3.1, with defaults and with every problem switched on", async () => {
    await validate(idempotencyOpenApi());
    await validate(idempotencyOpenApi({ required: true, gateway: true, wait: 5000 }));
  });

  it("merges into a service's document: its operations reference the components, and the whole validates", async () => {
    const fragment = idempotencyOpenApi({ required: true, maxUploadBytes: 1 << 30 });
    const operation = idempotencyOperation({ required: true, maxUploadBytes: 1 << 30 });
    const components = fragment.components as Record<string, Record<string, unknown>>;
    const service = {
      openapi: "3.1.0",
      info: { title: "orders", version: "1" },
      paths: {
        "/orders": {
          post: {
            operationId: "createOrder",
            parameters: [...operation.parameters],
            responses: {
              "201": {
                description: "created",
                headers: {
                  [REPLAYED_HEADER]: { $ref: `#/components/headers/${COMPONENT_NAMES.replayedHeader}` },
                },
              },
              ...operation.responses,
            },
          },
        },
      },
      components,
    };
    await validate(service);
    // Every reference the operation makes resolves to a component of the fragment.
    const resolved = new Validator().resolveRefs({ specification: service }) as typeof service;
    const post = resolved.paths["/orders"].post as unknown as {
      parameters: Array<{ name: string }>;
      responses: Record<string, { description?: string }>;
    };
    expect(post.parameters[0]?.name).toBe("Idempotency-Key");
    expect(Object.keys(post.responses).sort()).toEqual(["201", "400", "409", "413", "422", "500", "503"]);
    for (const response of Object.values(post.responses)) expect(response.description).toBeTruthy();
  });

  it("lists every problem type of the code under its status, taken from PROBLEMS (but those of other endpoints)", () => {
    const everything = { required: true, gateway: true, maxUploadBytes: 1 << 30 };
    const listed = Object.values(responses(idempotencyOpenApi(everything))).flatMap((response) => {
      const { type, status } = problemSchema(response).properties;
      return type.enum.map((uri) => [uri, status.const]);
    });
    // Answered by the webhook helpers, the admin endpoints and the dashboard, never by the guarded API.
    const elsewhere = [
      "invalid-event-id",
      "event-in-progress",
      "not-found",
      "method-not-allowed",
      "dashboard-unauthorized",
      "dashboard-read-only",
    ];
    const implemented = Object.entries(PROBLEMS)
      .filter(([slug]) => !elsewhere.includes(slug))
      .map(([slug, { status }]) => [`${PROBLEM_TYPE_BASE}${slug}`, status]);
    expect(listed.sort()).toEqual(implemented.sort());
  });

  it("leaves out the problems the configuration cannot produce", () => {
    const types = (document: OpenApiObject) =>
      Object.values(responses(document)).flatMap((response) => problemSchema(response).properties.type.enum);
    const defaults = types(idempotencyOpenApi());
    expect(defaults).not.toContain(`${PROBLEM_TYPE_BASE}key-required`);
    expect(defaults).not.toContain(`${PROBLEM_TYPE_BASE}upstream-timeout`);
    const lenient = types(idempotencyOpenApi({ mismatch: "ignore", onStoreError: "open" }));
    expect(lenient).not.toContain(`${PROBLEM_TYPE_BASE}key-reused`);
    expect(lenient).not.toContain(`${PROBLEM_TYPE_BASE}store-unavailable`);
    // A record that cannot be read is answered 500 whatever onStoreError says.
    expect(Object.keys(idempotencyOperation({ mismatch: "ignore", onStoreError: "open" }).responses)).toEqual(
      ["400", "409", "500"],
    );
    const bodyless = idempotencyOperation({ fingerprint: { body: false }, maxUploadBytes: 1024 });
    expect(Object.keys(bodyless.responses)).not.toContain("413");
    // A body over maxRequestBodyBytes streams on: 413 only over a cap, or when a key function needs it whole.
    expect(defaults).not.toContain(`${PROBLEM_TYPE_BASE}request-too-large`);
    expect(types(idempotencyOpenApi({ maxUploadBytes: 1024 }))).toContain(
      `${PROBLEM_TYPE_BASE}request-too-large`,
    );
    expect(types(idempotencyOpenApi({ keyJson: "id" }))).toContain(`${PROBLEM_TYPE_BASE}request-too-large`);
  });

  it("states the configured TTL, key rules and scope in its descriptions", () => {
    const defaults = keyDescription(idempotencyOpenApi());
    expect(defaults).toContain("within 24 hours");
    expect(defaults).toContain("At most 128 printable ASCII characters");
    expect(defaults).toContain("SHA-256 hash of the Authorization header");
    expect(defaults).toContain("X-Idempotency-Replayed: true");
    expect(defaults).toContain("Optional");
    const notStored = /Responses with status ([^.]*) are not stored/.exec(defaults)?.[1] ?? "";
    for (let status = 400; status < 600; status++) {
      const listed = notStored.includes(String(status)) || (status >= 500 && notStored.includes("5xx"));
      expect(listed, String(status)).toBe(!defaultShouldStore(status));
    }
    const configured = keyDescription(
      idempotencyOpenApi({
        ttl: 3_600_000,
        maxKeyLength: 64,
        scopeHeader: "X-Api-Key",
        required: true,
        replayHeader: "X-Replayed",
        header: "X-Request-Key",
      }),
    );
    expect(configured).toContain("within 1 hour");
    expect(configured).toContain("At most 64 printable ASCII characters");
    expect(configured).toContain("SHA-256 hash of the X-Api-Key header");
    expect(configured).toContain("X-Replayed: true");
    expect(configured).toContain("Required");
    expect(idempotencyOpenApi({ header: "X-Request-Key" })).toMatchObject({
      components: { parameters: { [COMPONENT_NAMES.keyParameter]: { name: "X-Request-Key" } } },
    });
    expect(keyDescription(idempotencyOpenApi({ scope: () => "tenant" }))).toContain("as the service decides");
    expect(keyDescription(idempotencyOpenApi({ scopeCookie: "sid" }))).toContain(
      "SHA-256 hash of the session cookie sid when the request carries it",
    );
  });

  it("describes the error shape the service answers with: problem+json, Stripe's error object, or its own", async () => {
    const contentTypes = (document: OpenApiObject) =>
      new Set(Object.values(responses(document)).flatMap((response) => Object.keys(response.content)));
    const schema = (document: OpenApiObject) =>
      (document.components as { schemas: Record<string, { description: string }> }).schemas[
        COMPONENT_NAMES.problemSchema
      ]?.description;
    const stripe = idempotencyOpenApi({ errorFormat: "stripe", gateway: true });
    const own = idempotencyOpenApi({ errorFormat: () => ({ oops: true }) });
    await validate(stripe);
    await validate(own);
    expect(contentTypes(idempotencyOpenApi())).toEqual(new Set(["application/problem+json"]));
    expect(contentTypes(stripe)).toEqual(new Set(["application/json"]));
    expect(contentTypes(own)).toEqual(new Set(["application/json"]));
    expect(schema(stripe)).toContain("Stripe-style");
    expect(schema(own)).toContain("errorFormat");
    expect(() => idempotencyOpenApi({ errorFormat: "xml" as never })).toThrow(/errorFormat/);
  });

  it("rejects an option out of range", () => {
    expect(() => idempotencyOpenApi({ ttl: -1 })).toThrow(/options\.ttl/);
  });
});

const REPLAYED_HEADER = "X-Idempotency-Replayed";

describe.each(["problem", "stripe"] as const)(
  "the fragment describes what a real gateway answers in the %s format",
  (errorFormat) => {
    let upstream: Upstream;
    let gateway: Gateway;
    let url: string;
    beforeAll(async () => {
      upstream = await startUpstream();
      const store = await createStore("memory:");
      gateway = createGateway({ upstream: upstream.url, store, required: true, errorFormat });
      url = `http://127.0.0.1:${(await gateway.listen(0, "127.0.0.1")).port}`;
    });
    afterAll(async () => {
      await gateway?.close(0);
      await gateway?.engine.options.store.close();
      await upstream?.close();
    });

    it("every error answered is one the fragment lists under its status, in its shape, with Retry-After where declared", async () => {
      const document = idempotencyOpenApi({ required: true, gateway: true, errorFormat });
      await validate(document);
      const described = responses(document);
      const slow = newKey();
      const inFlight = send(`${url}/orders`, { headers: { "idempotency-key": slow, "x-delay": "1000" } });
      await claimed(gateway.engine.options.store, slow);
      const reused = newKey();
      await send(`${url}/orders`, { headers: { "idempotency-key": reused }, body: "a" });
      const answers = await Promise.all([
        send(`${url}/orders`),
        send(`${url}/orders`, { headers: { "idempotency-key": "" } }),
        send(`${url}/orders`, { headers: { "idempotency-key": slow, "x-delay": "500" } }),
        send(`${url}/orders`, { headers: { "idempotency-key": reused }, body: "b" }),
      ]);
      await inFlight;
      expect(answers.map((answer) => answer.status)).toEqual([400, 400, 409, 422]);
      for (const answer of answers) {
        const response = described[COMPONENT_NAMES.problemResponse(answer.status)];
        expect(response, `status ${answer.status}`).toBeDefined();
        const contentType = answer.headers.get("content-type") ?? "";
        const { schema } = (response as DescribedResponse).content[contentType] ?? {};
        expect(schema, `${answer.status} described as ${contentType}`).toBeDefined();
        const body = answer.json();
        if (errorFormat === "problem") {
          const { properties } = schema as ProblemSchema;
          expect(properties.type.enum).toContain((body as { type: string }).type);
          expect((body as { status: number }).status).toBe(properties.status.const);
        } else {
          const { properties } = (schema as StripeSchema).properties.error;
          const { error } = body as { error: { type: string; code: string; message: string } };
          expect(properties.code.enum).toContain(error.code);
          expect(error.type).toBe(properties.type.const);
          expect(typeof error.message).toBe("string");
        }
        expect(answer.headers.has("retry-after")).toBe(
          "Retry-After" in (response as DescribedResponse).headers,
        );
      }
    });
  },
);

describe("oncely openapi", () => {
  it("prints the fragment of `oncely serve` with the same settings", async () => {
    const run = await runCli(["openapi", "--ttl", "2h", "--required"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const document = JSON.parse(run.stdout) as OpenApiObject;
    await validate(document);
    expect(keyDescription(document)).toContain("within 2 hours");
    expect(Object.keys(responses(document))).toContain(COMPONENT_NAMES.problemResponse(504));
    expect(document).toEqual(idempotencyOpenApi({ ttl: 7_200_000, required: true, gateway: true }));
  });

  it("describes the error format of `oncely serve --error-format`", async () => {
    const run = await runCli(["openapi", "--error-format", "stripe"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(idempotencyOpenApi({ errorFormat: "stripe", gateway: true }));
  });

  it("reads the variables, and answers a bad value with one line and exit code 2", async () => {
    const fromEnv = await runCli(["openapi"], { ONCELY_MAX_KEY_LENGTH: "40" });
    expect(keyDescription(JSON.parse(fromEnv.stdout) as OpenApiObject)).toContain("At most 40 printable");
    const bad = await runCli(["openapi", "--ttl", "soon"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toContain("--ttl");
  });
});

describe("docs/openapi.md", () => {
  const docs = readFileSync(new URL("../../docs/openapi.md", import.meta.url), "utf8");

  it("its code example runs and prints a valid service document", async () => {
    const code = /```ts\n([\s\S]*?)```/.exec(docs)?.[1] ?? "";
    const source = fileURLToPath(new URL("../../src/openapi/index.ts", import.meta.url));
    const file = join(temporaryDirectory(), "example.mts");
    writeFileSync(file, code.replace('"oncely/openapi"', JSON.stringify(source)));
    const run = spawnSync(process.execPath, ["--import", "tsx", file], { encoding: "utf8", timeout: 20_000 });
    expect(run.stderr).toBe("");
    await validate(JSON.parse(run.stdout) as OpenApiObject);
  });

  it("its command prints what the page says", async () => {
    const line = /npx oncely (openapi[^>\n]*?)\s*>/.exec(docs)?.[1] ?? "";
    const run = await runCli(line.split(/\s+/));
    expect(run.code).toBe(0);
    expect(keyDescription(JSON.parse(run.stdout) as OpenApiObject)).toContain("within 1 hour");
  });

  it("names every component the fragment defines", () => {
    const components = idempotencyOpenApi({ required: true, gateway: true }).components as Record<
      string,
      Record<string, unknown>
    >;
    for (const [kind, entries] of Object.entries(components)) {
      for (const name of Object.keys(entries)) {
        // Problem responses after the first are abbreviated: `…409`.
        const status = /^IdempotencyProblem(\d{3})$/.exec(name)?.[1];
        expect(docs, name).toContain(status && status !== "400" ? `\`…${status}\`` : `\`${kind}.${name}`);
      }
    }
  });
});

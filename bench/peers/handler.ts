// The one handler every subject of the comparison runs: an order created after `delayMs` of
// simulated database work, answered 201 with a Location header and a JSON body. Split in
// two so that Powertools, which wraps a function and not an Express route, wraps the very
// same business logic (createOrder) that the Express route runs for everyone else.
import { setTimeout as sleep } from "node:timers/promises";
import type { Request, Response } from "express";

/** What the handler answers, as data. */
export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

let executions = 0;

/** How many times the handler ran in this process: the correctness checks count duplicates with it. */
export function executed(): number {
  return executions;
}

/** The business logic: creates an order and says what to answer. */
export async function createOrder(body: { sku?: unknown }, delayMs: number): Promise<Answer> {
  executions++;
  const id = executions;
  if (delayMs > 0) await sleep(delayMs);
  return {
    status: 201,
    headers: { location: `/orders/${id}` },
    body: { id, sku: body.sku, status: "created" },
  };
}

/** Writes an answer the way an Express handler does. */
export function send(res: Response, answer: Answer): void {
  res.status(answer.status).set(answer.headers).json(answer.body);
}

/** The Express route handler: createOrder, then send. */
export function orderRoute(delayMs: number) {
  return async function postOrder(req: Request, res: Response): Promise<void> {
    send(res, await createOrder((req.body ?? {}) as { sku?: unknown }, delayMs));
  };
}

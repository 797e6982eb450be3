/**
 * The Redis store's subscriber connection, on which it hears the changes of records that
 * duplicates wait for.
 *
 * @module
 */
import type { Subscription, SubscriptionEvents } from "../store-notifier.js";

/** The part of an ioredis `Redis` or `Cluster` the subscriber uses. */
interface SubscriberConnection {
  readonly status: string;
  connect(): Promise<void>;
  subscribe(channel: string): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  once(event: string, listener: (...args: unknown[]) => void): unknown;
  disconnect(): void;
}

/** The part of the store's client the subscriber needs: ioredis' `duplicate`, and a cluster's masters. */
export interface SubscriberSource {
  duplicate?(): unknown;
  nodes?(role: "master"): SubscriberSource[];
}

/** True when `client` can make a connection of its own to subscribe on (ioredis' `duplicate`). */
export function canSubscribe(client: SubscriberSource): boolean {
  return typeof client.duplicate === "function";
}

/**
 * Opens a connection with the settings of `client` (its `duplicate()`), subscribes it to
 * `channel` and resolves once the subscription is confirmed. A message on the channel is
 * reported with `events.wake`; the connection closing (a network failure, `CLIENT KILL`,
 * a restart) with `events.lost`, after which the caller opens a new one rather than
 * rely on ioredis' reconnection, which would not say when messages were missed.
 */
export async function subscribeOn(
  client: SubscriberSource,
  channel: string,
  events: SubscriptionEvents,
): Promise<Subscription> {
  const duplicate = subscriberNode(client).duplicate?.();
  if (!isSubscriberConnection(duplicate))
    throw new TypeError("duplicate() did not give an ioredis connection");
  const connection = duplicate;
  // Reported to callers through `lost` and rejected promises; without a listener ioredis
  // would also print every failure.
  connection.on("error", () => {});
  connection.on("message", (from, message) => {
    if (from === channel && typeof message === "string") events.wake(message);
  });
  try {
    if (connection.status === "wait") await connection.connect();
    else if (connection.status !== "ready") await ready(connection);
    await connection.subscribe(channel);
  } catch (error) {
    connection.disconnect();
    throw error;
  }
  // Registered once subscribed: a connection that never opened is reported by the rejection.
  connection.once("close", events.lost);
  return {
    close: async () => connection.disconnect(),
  };
}

/**
 * Where to subscribe: a standalone client itself; on a cluster, one master picked at
 * random (a cluster forwards every PUBLISH to all its nodes). A plain connection to that
 * node rather than the cluster's own subscriber, which moves to another node after a
 * failure without telling anyone that messages were missed in between.
 */
function subscriberNode(client: SubscriberSource): SubscriberSource {
  const masters = client.nodes?.("master") ?? [];
  return masters[Math.floor(Math.random() * masters.length)] ?? client;
}

/** Resolves when a connecting client is ready; rejects if it closes first. */
function ready(connection: SubscriberConnection): Promise<void> {
  return new Promise((resolve, reject) => {
    connection.once("ready", () => resolve());
    connection.once("close", () => reject(new Error("the Redis subscriber connection closed")));
  });
}

function isSubscriberConnection(value: unknown): value is SubscriberConnection {
  if (typeof value !== "object" || value === null) return false;
  return ["connect", "subscribe", "on", "once", "disconnect"].every(
    (method) => typeof Reflect.get(value, method) === "function",
  );
}

import type { ClaimInput, ClaimResult, IdempotencyStore } from "../store.js";

/**
 * Merges the claims that duplicates of one key send at the same moment, as a burst of
 * retries does, and as waiting duplicates do when a store wakes them all together: a
 * thousand duplicates woken by one completion send one claim, not a thousand that would
 * queue for the store's connections.
 *
 * A claim joins one of the same scope, key and fingerprint already on its way, and takes
 * its answer when that answer is a record (completed, or still in flight), which any claim
 * sent meanwhile could have got too. An `acquired` answer belongs to its sender alone (the
 * lease is its token's), so the others claim for themselves then, as they do when the shared
 * claim fails.
 */
export class SharedClaims {
  readonly #pending = new Map<string, Promise<ClaimResult>>();

  claim(store: IdempotencyStore, input: ClaimInput): Promise<ClaimResult> {
    const id = `${input.scope.length}:${input.scope}${input.key.length}:${input.key}${input.fingerprint}`;
    const pending = this.#pending.get(id);
    if (pending) return this.#join(store, input, pending);
    const sent = store.claim(input);
    this.#pending.set(id, sent);
    const forget = () => {
      if (this.#pending.get(id) === sent) this.#pending.delete(id);
    };
    sent.then(forget, forget);
    return sent;
  }

  async #join(
    store: IdempotencyStore,
    input: ClaimInput,
    pending: Promise<ClaimResult>,
  ): Promise<ClaimResult> {
    const shared = await pending.catch(() => undefined);
    return shared && shared.outcome !== "acquired" ? shared : store.claim(input);
  }
}

import { base64url } from "./bytes.js";

// 128 random bits per process: tokens of two processes (or of one process before and
// after a restart) never collide, and nobody outside can predict one.
const processPrefix = base64url(globalThis.crypto.getRandomValues(new Uint8Array(16)));
let issued = 0;

/**
 * A fresh owner token for a claim: this process's random prefix and a counter. Cheaper
 * than a UUID per claim, which builds its string from sixteen pieces on every guarded
 * request; tokens are only ever compared for equality, inside the store.
 */
export function newOwnerToken(): string {
  issued += 1;
  return `${processPrefix}.${issued.toString(36)}`;
}

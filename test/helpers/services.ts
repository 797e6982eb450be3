import { describe, it } from "vitest";

/**
 * The URL of a test service from `variable`, or undefined after registering, in its
 * place, the suite {@link unavailable} describes.
 */
export function serviceUrl(variable: string, subject: string): string | undefined {
  const url = process.env[variable];
  if (url) return url;
  unavailable(subject, `${variable} is not set`);
  return undefined;
}

/**
 * Registers, in place of a suite that cannot run, a skipped suite that says why, or,
 * under `ONCELY_REQUIRE_SERVICES=1` (CI), a failing test.
 */
export function unavailable(subject: string, reason: string): void {
  if (process.env.ONCELY_REQUIRE_SERVICES === "1") {
    describe(subject, () => {
      it("has what it needs", () => {
        throw new Error(`${subject} cannot run: ${reason}, and ONCELY_REQUIRE_SERVICES=1 requires it`);
      });
    });
  } else {
    describe.skip(`${subject}: skipped because ${reason}`, () => {
      it("has what it needs", () => {});
    });
  }
}

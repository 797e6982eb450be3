/**
 * A monthly conversion quota per API key, kept in memory (a restart of the demo resets it).
 *
 * The demo API counts a conversion when it performs one. Behind the gateway a replay never
 * reaches the API, so replays are free without the API knowing anything about keys.
 */
export class MonthlyQuota {
  readonly limit: number;
  readonly #now: () => Date;
  /** Conversions used this month, by API key. */
  #used = new Map<string, number>();
  #period: string;

  /**
   * @param limit conversions per API key per calendar month (UTC)
   * @param now the clock, for tests
   */
  constructor(limit: number, now: () => Date = () => new Date()) {
    this.limit = limit;
    this.#now = now;
    this.#period = period(now());
  }

  /** The usage of `apiKey` in the current month. */
  usage(apiKey: string): QuotaUsage {
    this.#rollOver();
    const used = this.#used.get(apiKey) ?? 0;
    const now = this.#now();
    const resetsAt = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString();
    return {
      period: this.#period,
      limit: this.limit,
      used,
      remaining: Math.max(0, this.limit - used),
      resetsAt,
    };
  }

  /** Counts one conversion for `apiKey`; false (and nothing counted) when its quota is used up. */
  consume(apiKey: string): boolean {
    this.#rollOver();
    const used = this.#used.get(apiKey) ?? 0;
    if (used >= this.limit) return false;
    this.#used.set(apiKey, used + 1);
    return true;
  }

  #rollOver(): void {
    const current = period(this.#now());
    if (current !== this.#period) {
      this.#period = current;
      this.#used = new Map();
    }
  }
}

/** An API key's quota in one month. */
export interface QuotaUsage {
  /** `YYYY-MM`, UTC. */
  readonly period: string;
  readonly limit: number;
  readonly used: number;
  readonly remaining: number;
  /** When the next month starts, ISO 8601. */
  readonly resetsAt: string;
}

function period(date: Date): string {
  return date.toISOString().slice(0, 7);
}

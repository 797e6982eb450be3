import { NotSerializableError } from "./errors.js";

/** How {@link toJsonText} treats the parts where JSON is lossy. */
interface JsonMode {
  /** Write object keys sorted, so that equal data always gives equal text (for hashing). */
  readonly sortKeys: boolean;
  /**
   * Accept `undefined` array items (written as `null`). A stored result must not hold one
   * (it would come back as `null`), but a call's arguments may: they are only hashed.
   */
  readonly undefinedItems: boolean;
  /** The advice every {@link NotSerializableError} ends with. */
  readonly remedy: string;
}

/**
 * Writes `value` as JSON text, refusing anything JSON would silently change: functions,
 * symbols, bigints, `NaN` and `±Infinity`, class instances such as `Date`, `Map` or
 * `Error`, and circular references. A duplicate is thereby guaranteed to get back a value
 * equal to what the first execution returned (object properties that are `undefined`
 * are the one exception: they are left out, which reads back the same).
 *
 * @param path names the value in error messages, e.g. `result` or `arguments`
 * @throws {NotSerializableError} naming the first offending place, e.g. `result.items[2]`
 */
export function toJsonText(value: unknown, path: string, mode: JsonMode): string {
  const ancestors = new Set<object>();

  const write = (item: unknown, at: string): string => {
    switch (typeof item) {
      case "string":
        return JSON.stringify(item);
      case "boolean":
        return String(item);
      case "number":
        if (!Number.isFinite(item)) throw new NotSerializableError(at, `is ${item}`, mode.remedy);
        return JSON.stringify(item);
      case "object":
        if (item === null) return "null";
        if (ancestors.has(item)) throw new NotSerializableError(at, "is a circular reference", mode.remedy);
        ancestors.add(item);
        try {
          return Array.isArray(item) ? writeArray(item, at) : writeObject(item, at);
        } finally {
          // Only ancestors count: the same object twice side by side is fine in JSON.
          ancestors.delete(item);
        }
      default:
        throw new NotSerializableError(at, `is ${describe(item)}`, mode.remedy);
    }
  };

  const writeArray = (items: readonly unknown[], at: string): string => {
    const parts: string[] = [];
    for (let index = 0; index < items.length; index++) {
      const item = items[index];
      if (item === undefined && !mode.undefinedItems) {
        throw new NotSerializableError(`${at}[${index}]`, "is undefined", mode.remedy);
      }
      parts.push(item === undefined ? "null" : write(item, `${at}[${index}]`));
    }
    return `[${parts.join(",")}]`;
  };

  const writeObject = (object: object, at: string): string => {
    const prototype = Object.getPrototypeOf(object);
    if (prototype !== Object.prototype && prototype !== null) {
      throw new NotSerializableError(at, `is ${describe(object)}, not a plain object`, mode.remedy);
    }
    const entries = Object.entries(object).filter(([, item]) => item !== undefined);
    if (mode.sortKeys) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${write(item, `${at}.${key}`)}`).join(",")}}`;
  };

  return write(value, path);
}

function describe(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "object" && value !== null) {
    const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } }).constructor?.name;
    return name ? article(name) : "an object with a foreign prototype";
  }
  return article(typeof value);
}

function article(noun: string): string {
  return /^[aeiou]/i.test(noun) ? `an ${noun}` : `a ${noun}`;
}

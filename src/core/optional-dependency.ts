/**
 * Loading of optional peer dependencies (database drivers, the demo's converters), which
 * are imported only when a feature needs them.
 * @module
 */
import { MissingDependencyError } from "./errors.js";

/**
 * Imports an optional peer dependency. When the package is not installed, throws
 * {@link MissingDependencyError} saying what to install; any other failure (a package that
 * is there but breaks while loading, or misses a dependency of its own) is thrown as is.
 *
 * @param packageName the npm package `importer` imports
 * @param feature what needs it, for the message: "The Redis store"
 * @param importer `() => import("the-package")`: a literal import, so bundlers and type checkers see it
 * @example
 * const { default: pg } = await importOptional("pg", "The PostgreSQL store", () => import("pg"));
 */
export async function importOptional<T>(
  packageName: string,
  feature: string,
  importer: () => Promise<T>,
): Promise<T> {
  try {
    return await importer();
  } catch (error) {
    if (notFound(error) && !resolvable(packageName)) {
      throw new MissingDependencyError(packageName, feature, { cause: error });
    }
    throw error;
  }
}

/** Whether a failed import failed for want of a module: ESM and CommonJS name it differently. */
function notFound(error: unknown): boolean {
  const { code } = (error ?? {}) as { code?: unknown };
  return code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
}

/**
 * Whether the package itself can be found from here. Asked rather than read from the
 * error's message: a package that is installed but lacks one of its own dependencies
 * fails with the same code, and must not be reported as missing.
 */
function resolvable(packageName: string): boolean {
  try {
    import.meta.resolve(packageName);
    return true;
  } catch {
    return false;
  }
}

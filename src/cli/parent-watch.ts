/**
 * Stopping the gateway when the npm process that started it goes away.
 * @module
 */

/** How often the parent process is checked. */
const CHECK_INTERVAL_MS = 500;

/**
 * Calls `onOrphaned` once when this process is handed to another parent, if it was started
 * through npm (`npx oncely serve`, `npm start`): npm runs the command in a shell, and when npm
 * gets SIGTERM it ends without passing the signal on, so the gateway would outlive it. A
 * gateway started directly (a process manager running `node_modules/.bin/oncely serve`) gets
 * the signals itself and does not watch its parent. The check never keeps the process alive.
 */
export function onParentGone(onOrphaned: () => void, env: NodeJS.ProcessEnv = process.env): void {
  if (env.npm_command === undefined) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onOrphaned();
  }, CHECK_INTERVAL_MS);
  timer.unref();
}

/**
 * The dashboard page: one self-contained HTML document (style and script inline, no request
 * to anywhere but its own API), served with a Content-Security-Policy that allows exactly
 * its own script.
 * @module
 */
import { createHash } from "node:crypto";
import { PAGE_SCRIPT } from "./page-script.js";
import { PAGE_STYLE } from "./page-style.js";

const BODY = `
<header><h1>oncely</h1><span>idempotency layer</span><span class="status" id="status">loading…</span></header>
<main>
  <form id="login" class="hidden"><label for="token">Dashboard token</label>
    <input type="password" id="token" autocomplete="off"><button>Open</button></form>
  <section>
    <h2>Replay rate</h2>
    <div class="warning" id="rate-warning" role="alert"></div>
    <div class="rate">
      <div><div class="value" id="rate-value">–</div><div class="empty">replays ÷ (executions + replays), last 2 minutes</div></div>
      <svg id="rate-chart" viewBox="0 0 300 80" preserveAspectRatio="none">
        <rect class="band" id="rate-band" x="0" y="0" width="300" height="64"></rect>
        <line class="limit" id="rate-limit" x1="0" x2="300" y1="64" y2="64"></line>
      </svg>
    </div>
  </section>
  <section><h2>Events per second</h2><div class="charts" id="charts"></div></section>
  <div class="grid2">
    <section><h2>In flight</h2>
      <table id="in-flight"><thead><tr><th>key</th><th>scope</th><th>lease age</th><th>lease left</th></tr></thead><tbody></tbody></table>
    </section>
    <section><h2>Look a key up</h2>
      <form id="lookup"><input type="text" id="lookup-key" placeholder="Idempotency-Key" autocomplete="off">
        <label><input type="checkbox" id="lookup-body"> show the stored body</label><button>Look up</button></form>
      <div id="lookup-result"></div>
    </section>
  </div>
  <div class="grid2">
    <section><h2>Latest records</h2><p class="empty" id="records-note"></p>
      <table id="latest"><thead><tr><th>key</th><th>outcome</th><th>status</th><th>size</th><th>created</th></tr></thead><tbody></tbody></table>
    </section>
    <section><h2>Recent events</h2>
      <table id="recent"><thead><tr><th>time</th><th>event</th><th>status</th><th>key</th><th>request</th></tr></thead><tbody></tbody></table>
    </section>
  </div>
  <section class="hidden" data-write><h2>Maintenance</h2>
    <button type="button" class="danger" id="purge">Purge expired records</button> <span id="purge-result"></span>
  </section>
</main>`;

/** The page's HTML. */
export const PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>oncely dashboard</title><meta name="referrer" content="no-referrer">
<style>${PAGE_STYLE}</style></head>
<body>${BODY}
<script>${PAGE_SCRIPT}</script>
</body></html>`;

const hash = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

/** Allows the page's own style and script and requests to its own origin, nothing else. */
export const PAGE_CSP = [
  "default-src 'none'",
  `script-src ${hash(PAGE_SCRIPT)}`,
  `style-src ${hash(PAGE_STYLE)}`,
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

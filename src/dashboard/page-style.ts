/** The dashboard page's stylesheet: no external font or asset, light and dark. */
export const PAGE_STYLE = `
:root { color-scheme: light dark; --fg: #1d2230; --muted: #5c6478; --bg: #f6f7fb; --card: #fff;
  --line: #dde1ea; --accent: #2f6fde; --warn: #c2410c; --warn-bg: #fff1e6; --ok: #15803d; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9f2; --muted: #9aa3b8; --bg: #11141b;
  --card: #1a1f2a; --line: #2c3342; --accent: #6ea0ff; --warn: #fb923c; --warn-bg: #3a2414; --ok: #4ade80; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 16px; padding: 14px 24px; border-bottom: 1px solid var(--line); background: var(--card); }
header h1 { font-size: 18px; margin: 0; }
header .status { color: var(--muted); margin-left: auto; }
main { padding: 16px 24px; display: grid; gap: 16px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
section h2 { font-size: 14px; margin: 0 0 8px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 12px; }
.chart { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.chart .head { display: flex; justify-content: space-between; align-items: baseline; }
.chart .name { font-weight: 600; }
.chart .total { font-variant-numeric: tabular-nums; color: var(--muted); }
.chart svg { width: 100%; height: 60px; display: block; }
.chart polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
.rate { display: flex; gap: 24px; align-items: center; }
.rate .value { font-size: 28px; font-weight: 700; font-variant-numeric: tabular-nums; }
.rate svg { flex: 1; height: 80px; }
.rate .band { fill: var(--warn-bg); }
.rate .limit { stroke: var(--warn); stroke-dasharray: 4 3; }
.rate polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
.warning { display: none; padding: 8px 12px; border-radius: 6px; background: var(--warn-bg); color: var(--warn); font-weight: 600; }
.warn .warning { display: block; }
.warn .rate .value { color: var(--warn); }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td.key, td.scope { font-family: ui-monospace, Menlo, Consolas, monospace; max-width: 24ch; overflow: hidden; text-overflow: ellipsis; }
td.scope { max-width: 16ch; }
th { color: var(--muted); font-weight: 600; }
.empty { color: var(--muted); padding: 6px 8px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
form { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
input[type=text], input[type=password] { font: inherit; padding: 5px 8px; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); min-width: 28ch; }
button { font: inherit; padding: 5px 12px; border: 1px solid var(--accent); border-radius: 4px; background: var(--accent); color: #fff; cursor: pointer; }
button.danger { border-color: var(--warn); background: var(--warn); }
pre { white-space: pre-wrap; word-break: break-all; background: var(--bg); padding: 8px; border-radius: 4px; max-height: 320px; overflow: auto; }
.hidden { display: none; }
.error { color: var(--warn); }
`;

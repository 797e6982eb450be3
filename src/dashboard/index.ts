/**
 * `oncely/dashboard`: an operations page for the idempotency layer (events per second, the
 * replay rate, records in flight, the latest records, a key lookup) and its JSON API, to
 * mount in your own server. `oncely serve --dashboard-token` serves the same page.
 * @module
 */
export { type ActivitySnapshot, EVENT_KINDS, type EventKind, type RecentEvent } from "./activity.js";
export { REPLAY_WARNING_RATE } from "./api.js";
export { createDashboard, type Dashboard, type DashboardOptions } from "./dashboard.js";
export { type RecordDetail, type RecordsOverview, type RecordView, scopeLabel } from "./records.js";

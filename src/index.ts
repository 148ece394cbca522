/** Worker entry: wires the app's fetch handler and the cron handlers, nothing else. */
import { createApp } from "./app.ts";
import type { Bindings } from "./config/env.ts";
import { scheduled } from "./scheduled/index.ts";

const app = createApp();

export default {
  fetch: app.fetch,
  scheduled,
} satisfies ExportedHandler<Bindings>;

/** Worker entry: wires the app's fetch handler, nothing else. */
import { createApp } from "./app.ts";
import type { Bindings } from "./config/env.ts";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Bindings>;

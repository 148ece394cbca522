/**
 * Debian's Prometheus and Pushgateway on loopback for tests (`.ci/run` installs them):
 * a Pushgateway the router pushes to, a Prometheus scraping it every second, and the
 * HTTP API's instant query.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { freePort, waitForPort } from "../../scripts/local/services.ts";

export type Monitoring = {
  pushgatewayUrl: string;
  prometheusUrl: string;
  /** One instant query; the result vector as label sets and numbers. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  close(): Promise<void>;
};

export async function startMonitoring(): Promise<Monitoring> {
  const dir = mkdtempSync(`${tmpdir()}/tiergate-prometheus-`);
  const [gatewayPort, prometheusPort] = [await freePort(), await freePort()];
  const children: ChildProcess[] = [];
  const run = (command: string, args: string[]): void => {
    const child = spawn(command, args, { stdio: "ignore" });
    children.push(child);
  };
  run("prometheus-pushgateway", [`--web.listen-address=127.0.0.1:${gatewayPort}`]);
  writeFileSync(
    `${dir}/prometheus.yml`,
    [
      "global: { scrape_interval: 1s, evaluation_interval: 1s }",
      "scrape_configs:",
      "  - job_name: pushgateway",
      "    honor_labels: true",
      `    static_configs: [{ targets: ["127.0.0.1:${gatewayPort}"] }]`,
      "",
    ].join("\n"),
  );
  run("prometheus", [`--config.file=${dir}/prometheus.yml`, `--storage.tsdb.path=${dir}/data`, `--web.listen-address=127.0.0.1:${prometheusPort}`]);
  await Promise.all([waitForPort(gatewayPort), waitForPort(prometheusPort)]);
  const prometheusUrl = `http://127.0.0.1:${prometheusPort}`;
  return {
    pushgatewayUrl: `http://127.0.0.1:${gatewayPort}`,
    prometheusUrl,
    async query(expr) {
      const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await response.json()) as {
        status: string;
        error?: string;
        data: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      if (body.status !== "success") throw new Error(`${expr}: ${body.error}`);
      return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    async close() {
      for (const child of children) child.kill("SIGTERM");
      await new Promise((resolve) => setTimeout(resolve, 200));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

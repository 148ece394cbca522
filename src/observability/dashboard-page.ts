/**
 * The live dashboard's page and script, served by the worker itself (no external
 * request: uPlot is bundled). The page asks for the admin key once (kept in the tab's
 * sessionStorage), polls /dashboard/data, and draws from the deltas between polls:
 * requests per second by tier, overhead p50/p99, the cache hit ratio, prompt tokens
 * per second by usage class and the share read from the providers' caches, spend and
 * savings, and each provider's and model's circuit.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tiergate</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/uplot.css">
<link rel="stylesheet" href="/dashboard/style.css">
</head>
<body>
<header><h1>tiergate</h1><span id="status">connecting…</span></header>
<form id="login" hidden><label>Admin key <input id="key" type="password" autocomplete="off"></label><button>Open</button></form>
<main id="board" hidden>
  <section class="figures">
    <div><span id="rps">–</span><small>requests/s</small></div>
    <div><span id="p50">–</span><small>overhead p50</small></div>
    <div><span id="p99">–</span><small>overhead p99</small></div>
    <div><span id="hit">–</span><small>cache hit ratio</small></div>
    <div><span id="cache-read">–</span><small>input read from provider caches</small></div>
    <div><span id="spend">–</span><small>spend</small></div>
    <div><span id="saved">–</span><small>saved vs. top tier</small></div>
  </section>
  <section class="charts">
    <figure><figcaption>Requests per second, by tier</figcaption><div id="chart-tiers"></div></figure>
    <figure><figcaption>Router overhead (ms)</figcaption><div id="chart-overhead"></div></figure>
    <figure><figcaption>Cache hit ratio</figcaption><div id="chart-hits"></div></figure>
    <figure><figcaption>Spend and savings (USD, cumulative)</figcaption><div id="chart-money"></div></figure>
    <figure><figcaption>Input tokens per second, by usage class</figcaption><div id="chart-classes"></div></figure>
  </section>
  <section><h2>Providers and models</h2><table id="circuits"><thead><tr><th>circuit</th><th>state</th></tr></thead><tbody></tbody></table></section>
</main>
<script src="/dashboard/uplot.js"></script>
<script src="/dashboard/app.js"></script>
</body>
</html>
`;

export const DASHBOARD_CSS = `
body { font: 14px system-ui, sans-serif; margin: 0; background: #0f1115; color: #e6e6e6; }
header { display: flex; align-items: baseline; gap: 1rem; padding: 0.8rem 1.2rem; border-bottom: 1px solid #2a2e37; }
h1 { font-size: 1.2rem; margin: 0; } h2 { font-size: 1rem; margin: 1rem 0 0.5rem; }
#status { color: #9aa0aa; }
form, main { padding: 1rem 1.2rem; }
.figures { display: grid; grid-template-columns: repeat(7, 1fr); gap: 0.8rem; }
.figures div { background: #181b22; border-radius: 6px; padding: 0.7rem; }
.figures span { display: block; font-size: 1.5rem; font-variant-numeric: tabular-nums; }
.figures small { color: #9aa0aa; }
.charts { display: grid; grid-template-columns: repeat(2, 1fr); gap: 0.8rem; margin-top: 0.8rem; }
figure { margin: 0; background: #181b22; border-radius: 6px; padding: 0.6rem; }
figcaption { color: #9aa0aa; margin-bottom: 0.3rem; }
table { border-collapse: collapse; } td, th { padding: 0.2rem 0.8rem 0.2rem 0; text-align: left; }
.closed { color: #5fd18b; } .half_open { color: #e5c15c; } .open { color: #f06b6b; }
.u-legend { color: #e6e6e6; }
`;

export const DASHBOARD_JS = `(() => {
  "use strict";
  const every = Number(new URLSearchParams(location.search).get("every")) || 2000;
  const snapshots = [];
  const series = { t: [], tiers: {}, p50: [], p99: [], hit: [], spend: [], saved: [], uncached: [], read: [], write: [], write1h: [] };
  const charts = {};
  const $ = (id) => document.getElementById(id);
  const key = () => sessionStorage.getItem("tiergate-admin-key") || "";

  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem("tiergate-admin-key", $("key").value.trim());
    $("login").hidden = true;
    poll();
  });

  function askForKey(message) {
    $("status").textContent = message;
    $("login").hidden = false;
  }

  async function poll() {
    if (!key()) return askForKey("needs the admin key");
    const response = await fetch("/dashboard/data", { headers: { authorization: "Bearer " + key() }, cache: "no-store" });
    if (response.status === 401 || response.status === 403) {
      sessionStorage.removeItem("tiergate-admin-key");
      return askForKey("that key was refused; the admin key, please");
    }
    if (!response.ok) {
      $("status").textContent = "data unavailable (" + response.status + "), retrying";
    } else {
      add(await response.json());
      $("status").textContent = "live, every " + every / 1000 + " s";
      $("board").hidden = false;
    }
    setTimeout(poll, every);
  }

  function quantile(buckets, q) {
    const total = buckets.at(-1)[1];
    if (total <= 0) return null;
    const rank = q * total;
    let previous = [0, 0];
    for (const bucket of buckets) {
      if (bucket[1] >= rank) {
        if (!Number.isFinite(bucket[0])) return previous[0] * 1000;
        const within = bucket[1] - previous[1];
        const share = within === 0 ? 1 : (rank - previous[1]) / within;
        return (previous[0] + (bucket[0] - previous[0]) * share) * 1000;
      }
      previous = bucket;
    }
    return null;
  }

  function add(now) {
    const before = snapshots.at(-1);
    snapshots.push(now);
    if (snapshots.length > 300) snapshots.shift();
    const hits = now.cache.HIT || 0, misses = now.cache.MISS || 0;
    $("hit").textContent = hits + misses === 0 ? "–" : ((100 * hits) / (hits + misses)).toFixed(1) + "%";
    $("cache-read").textContent = now.tokens.input === 0 ? "–" : (100 * now.cache_read_ratio).toFixed(1) + "%";
    $("spend").textContent = "$" + now.spend_usd.toFixed(4);
    $("saved").textContent = "$" + now.savings_usd.toFixed(4);
    circuits(now.circuits);
    if (before === undefined) return;
    const seconds = (now.at - before.at) / 1000;
    series.t.push(now.at / 1000);
    let total = 0;
    for (const tier of new Set([...Object.keys(series.tiers), ...Object.keys(now.requests_by_tier)])) {
      series.tiers[tier] ??= series.t.slice(0, -1).map(() => 0);
      const rate = ((now.requests_by_tier[tier] || 0) - (before.requests_by_tier[tier] || 0)) / seconds;
      series.tiers[tier].push(rate);
      total += rate;
    }
    const delta = now.overhead_buckets.map((bucket, i) => [bucket[0], bucket[1] - (before.overhead_buckets[i] ? before.overhead_buckets[i][1] : 0)]);
    const p50 = quantile(delta, 0.5), p99 = quantile(delta, 0.99);
    series.p50.push(p50);
    series.p99.push(p99);
    series.hit.push(hits + misses === 0 ? null : hits / (hits + misses));
    series.spend.push(now.spend_usd);
    series.saved.push(now.savings_usd);
    // The classes are parts of the input: what they leave of it was billed at the full input price.
    const perSecond = (name) => (now.tokens[name] - before.tokens[name]) / seconds;
    const read = perSecond("cache_read"), write = perSecond("cache_write"), write1h = perSecond("cache_write_1h");
    series.uncached.push(Math.max(0, perSecond("input") - read - write - write1h));
    series.read.push(read);
    series.write.push(write);
    series.write1h.push(write1h);
    const lists = [series.t, series.p50, series.p99, series.hit, series.spend, series.saved, series.uncached, series.read, series.write, series.write1h];
    if (series.t.length > 300) for (const list of [...lists, ...Object.values(series.tiers)]) list.shift();
    $("rps").textContent = total.toFixed(1);
    $("p50").textContent = p50 === null ? "–" : p50.toFixed(2) + " ms";
    $("p99").textContent = p99 === null ? "–" : p99.toFixed(2) + " ms";
    draw("chart-tiers", Object.keys(series.tiers).map((tier) => ({ label: "tier " + tier, values: series.tiers[tier] })));
    draw("chart-overhead", [{ label: "p50", values: series.p50 }, { label: "p99", values: series.p99 }]);
    draw("chart-hits", [{ label: "hit ratio", values: series.hit }]);
    draw("chart-money", [{ label: "spend", values: series.spend }, { label: "saved", values: series.saved }]);
    draw("chart-classes", [
      { label: "uncached", values: series.uncached },
      { label: "cache read", values: series.read },
      { label: "cache write 5m", values: series.write },
      { label: "cache write 1h", values: series.write1h },
    ]);
  }

  const COLOURS = ["#5fa8f0", "#f0a35f", "#5fd18b", "#d15fbf", "#e5c15c", "#9aa0aa"];
  function draw(id, lines) {
    const data = [series.t, ...lines.map((line) => line.values)];
    const chart = charts[id];
    if (chart && chart.series.length === lines.length + 1) return chart.setData(data);
    if (chart) chart.destroy();
    const element = $(id);
    charts[id] = new uPlot({
      width: Math.max(300, element.clientWidth || 520),
      height: 200,
      series: [{}, ...lines.map((line, i) => ({ label: line.label, stroke: COLOURS[i % COLOURS.length], width: 2, spanGaps: true }))],
      axes: [{ stroke: "#9aa0aa", grid: { stroke: "#2a2e37" } }, { stroke: "#9aa0aa", grid: { stroke: "#2a2e37" } }],
    }, data, element);
  }

  function circuits(list) {
    const body = document.querySelector("#circuits tbody");
    body.replaceChildren(...list.map((circuit) => {
      const row = document.createElement("tr");
      const name = document.createElement("td");
      name.textContent = circuit.target;
      const state = document.createElement("td");
      state.textContent = circuit.state.replace("_", "-");
      state.className = circuit.state;
      row.append(name, state);
      return row;
    }));
  }

  poll();
})();
`;

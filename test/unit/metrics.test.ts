import { describe, expect, it } from "vitest";
import { LatencyHistogram, formatValue, renderPrometheus, summarySamples, Tally, type MetricFamily } from "../../src/core/metrics.js";
import { parsePrometheus } from "../helpers/prometheus.js";

describe("Tally", () => {
  it("counts by key with errors, late failures included; keys sorted", () => {
    const t = new Tally();
    t.count("getData");
    t.count("create");
    t.count("create", true);
    t.count("getData");
    t.fail("getData");
    expect(t.toJSON()).toEqual({ create: { count: 2, errors: 1 }, getData: { count: 2, errors: 1 } });
    expect(Object.keys(t.toJSON())).toEqual(["create", "getData"]);
    expect(t.total).toBe(4);
  });
});

describe("LatencyHistogram", () => {
  it("is empty at first", () => {
    expect(new LatencyHistogram().summary()).toEqual({ count: 0, sum: 0, min: 0, avg: 0, p50: 0, p90: 0, p99: 0, max: 0 });
  });

  it("is exact for integers below 64", () => {
    const h = new LatencyHistogram();
    for (let v = 1; v <= 60; v++) h.record(v);
    const s = h.summary();
    expect(s).toMatchObject({ count: 60, sum: 1830, min: 1, max: 60, avg: 30.5 });
    expect(s.p50).toBe(30);
    expect(s.p90).toBe(54);
    expect(s.p99).toBe(60);
    expect(h.quantile(0)).toBe(1);
    expect(h.quantile(1)).toBe(60);
  });

  it("is within 1.6 % above, with exact count, sum, min and max", () => {
    const h = new LatencyHistogram();
    const values: number[] = [];
    for (let i = 0; i < 10_000; i++) values.push(Math.round(Math.exp(Math.random() * 12)));
    for (const v of values) h.record(v);
    values.sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.99]) {
      const exact = values[Math.ceil(q * values.length) - 1];
      const got = h.quantile(q);
      expect(Math.abs(got - exact), `q${q}: ${got} vs ${exact}`).toBeLessThanOrEqual(Math.max(1, exact / 60));
    }
    expect(h.count).toBe(10_000);
    expect(h.sum).toBe(values.reduce((a, b) => a + b, 0));
    expect(h.min).toBe(values[0]);
    expect(h.max).toBe(values[values.length - 1]);
  });

  it("one slow outlier shows at max and p99 only when it is 1 % of the values", () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 99; i++) h.record(2);
    h.record(5000);
    expect(h.summary()).toMatchObject({ p50: 2, p90: 2, p99: 2, max: 5000 });
    h.record(5000);
    expect(h.quantile(0.99)).toBeGreaterThan(4900);
  });

  it("clamps negative, infinite and huge values; stays bounded", () => {
    const h = new LatencyHistogram();
    h.record(-5);
    h.record(Number.NaN);
    h.record(Infinity);
    h.record(1e300);
    expect(h.min).toBe(0);
    expect(h.max).toBe(2 ** 40);
    expect(h.count).toBe(4);
    expect(h.quantile(0.99)).toBe(2 ** 40);
  });
});

describe("Prometheus text format", () => {
  const families: MetricFamily[] = [
    { name: "ek_things", help: "Things.\nSecond line with a \\ backslash.", type: "gauge", samples: [{ value: 3 }] },
    {
      name: "ek_requests_total",
      help: "Requests.",
      type: "counter",
      samples: [
        { labels: { op: "create" }, value: 2 },
        { labels: { op: 'we"ird\\va\nlue' }, value: 1 },
      ],
    },
    {
      name: "ek_latency_seconds",
      help: "Latency.",
      type: "summary",
      samples: summarySamples([{ labels: { kind: "write" }, summary: { count: 2, sum: 30, min: 10, avg: 15, p50: 10, p90: 20, p99: 20, max: 20 } }], 1 / 1000),
    },
  ];

  it("renders HELP and TYPE before each family's samples, common labels first, escaped", () => {
    const out = renderPrometheus(families, { namespace: "demo" });
    expect(out).toBe(
      [
        "# HELP ek_things Things.\\nSecond line with a \\\\ backslash.",
        "# TYPE ek_things gauge",
        'ek_things{namespace="demo"} 3',
        "# HELP ek_requests_total Requests.",
        "# TYPE ek_requests_total counter",
        'ek_requests_total{namespace="demo",op="create"} 2',
        'ek_requests_total{namespace="demo",op="we\\"ird\\\\va\\nlue"} 1',
        "# HELP ek_latency_seconds Latency.",
        "# TYPE ek_latency_seconds summary",
        'ek_latency_seconds{namespace="demo",kind="write",quantile="0.5"} 0.01',
        'ek_latency_seconds{namespace="demo",kind="write",quantile="0.9"} 0.02',
        'ek_latency_seconds{namespace="demo",kind="write",quantile="0.99"} 0.02',
        'ek_latency_seconds_sum{namespace="demo",kind="write"} 0.03',
        'ek_latency_seconds_count{namespace="demo",kind="write"} 2',
        "",
      ].join("\n"),
    );
  });

  it("round-trips through a strict parser", () => {
    const parsed = parsePrometheus(renderPrometheus(families, { namespace: "demo" }));
    expect(parsed.types).toEqual({ ek_things: "gauge", ek_requests_total: "counter", ek_latency_seconds: "summary" });
    expect(parsed.help.ek_things).toBe("Things.\nSecond line with a \\ backslash.");
    const weird = parsed.samples.find((s) => s.name === "ek_requests_total" && s.labels.op !== "create")!;
    expect(weird.labels).toEqual({ namespace: "demo", op: 'we"ird\\va\nlue' });
    expect(parsed.samples.filter((s) => s.family === "ek_latency_seconds").map((s) => s.name)).toEqual([
      "ek_latency_seconds",
      "ek_latency_seconds",
      "ek_latency_seconds",
      "ek_latency_seconds_sum",
      "ek_latency_seconds_count",
    ]);
  });

  it("formats special values as Prometheus does", () => {
    expect([NaN, Infinity, -Infinity, 0, 12, 0.25, 1e-7].map(formatValue)).toEqual(["NaN", "+Inf", "-Inf", "0", "12", "0.25", "1e-7"]);
  });

  it("refuses names the format does not allow, and a family rendered twice", () => {
    const g = (name: string, labels?: Record<string, string>): MetricFamily => ({ name, help: "h", type: "gauge", samples: [{ labels, value: 1 }] });
    expect(() => renderPrometheus([g("1bad")])).toThrow(/metric name/);
    expect(() => renderPrometheus([g("bad-name")])).toThrow(/metric name/);
    expect(() => renderPrometheus([g("ok", { "bad-label": "x" })])).toThrow(/label name/);
    expect(() => renderPrometheus([g("ok", { __reserved: "x" })])).toThrow(/label name/);
    expect(() => renderPrometheus([g("ok"), g("ok")])).toThrow(/twice/);
  });
});

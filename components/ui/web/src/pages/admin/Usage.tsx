// LLM usage and cost per day (a uPlot chart and a table), with the
// tenant's quotas and what is left of them.
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { admin } from "../../api/lode";
import type { UsageReport } from "../../api/types";
import { Choice, Empty, Loaded, PageTitle, Table, useLoad } from "../../ui/bits";

export function UsagePage() {
  const [days, setDays] = useState(30);
  const report = useLoad(() => {
    const to = new Date();
    const from = new Date(to.getTime() - (days - 1) * 86_400_000);
    return admin.usage(iso(from), iso(to));
  }, [days]);
  return (
    <section>
      <PageTitle>Usage</PageTitle>
      <Choice
        label="Period"
        value={days}
        options={[
          [7, "Last 7 days"],
          [30, "Last 30 days"],
          [90, "Last 90 days"],
        ]}
        onChange={setDays}
      />
      <Loaded state={report} what="usage">
        {(r) => <Report r={r} />}
      </Loaded>
    </section>
  );
}

function iso(d: Date): string {
  return d.toISOString().slice(0, 10);
}

function Report({ r }: { r: UsageReport }) {
  const perDay = new Map<string, { cost: number; tokens: number; requests: number }>();
  for (const row of r.data) {
    const d = perDay.get(row.day) ?? { cost: 0, tokens: 0, requests: 0 };
    d.cost += row.cost_usd;
    d.tokens += row.input_tokens + row.output_tokens;
    d.requests += row.requests;
    perDay.set(row.day, d);
  }
  // Every day of the period, zero where nothing was used, so the chart's
  // axis is the period asked for.
  const days = daysBetween(r.from, r.to);
  return (
    <>
      <div class="stats">
        <Stat label="Requests" value={r.requests.toLocaleString()} />
        <Stat label="Failures" value={r.failures.toLocaleString()} />
        <Stat label="Tokens" value={(r.input_tokens + r.output_tokens).toLocaleString()} />
        <Stat label="Cost" value={`$${r.cost_usd.toFixed(4)}`} />
      </div>
      <section class="card" aria-labelledby="chart-title">
        <h2 id="chart-title">Cost and tokens per day</h2>
        {perDay.size === 0 ? (
          <Empty>No LLM calls in this period.</Empty>
        ) : (
          <Chart
            days={days}
            cost={days.map((d) => perDay.get(d)?.cost ?? 0)}
            tokens={days.map((d) => perDay.get(d)?.tokens ?? 0)}
          />
        )}
      </section>
      {r.data.length > 0 && (
        <section class="card" aria-labelledby="usage-table-title">
          <h2 id="usage-table-title">By day, provider and model</h2>
          <Table head={["Day", "Provider", "Model", "Requests", "Tokens in / out", "Cost"]}>
            {r.data.map((row) => (
              <tr key={`${row.day}-${row.provider}-${row.model}`}>
                <td>{row.day}</td>
                <td>{row.provider}</td>
                <td>{row.model}</td>
                <td>{row.requests}</td>
                <td>
                  {row.input_tokens} / {row.output_tokens}
                </td>
                <td>${row.cost_usd.toFixed(4)}</td>
              </tr>
            ))}
          </Table>
        </section>
      )}
      <section class="card" aria-labelledby="quota-title">
        <h2 id="quota-title">Quotas</h2>
        <Table head={["Quota", "Used", "Limit", "Left"]}>
          {Object.entries(r.quotas).flatMap(([name, q]) =>
            typeof q === "object" ? (
              <tr key={name}>
                <td>{name.replaceAll("_", " ")}</td>
                <td>{q.used.toLocaleString()}</td>
                <td>{q.limit.toLocaleString()}</td>
                <td>{q.remaining.toLocaleString()}</td>
              </tr>
            ) : (
              []
            ),
          )}
        </Table>
      </section>
    </>
  );
}

/** `from` to `to` (YYYY-MM-DD, UTC), both included. */
function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  const end = Date.parse(`${to}T00:00:00Z`);
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= end && out.length < 400; t += 86_400_000) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

function Stat({ label, value }: { label: string; value: string }) {
  return (
    <div class="stat card">
      <div class="muted small">{label}</div>
      <div class="big">{value}</div>
    </div>
  );
}

function Chart({ days, cost, tokens }: { days: string[]; cost: number[]; tokens: number[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const xs = days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
    const plot = new uPlot(
      {
        width: Math.max(300, el.clientWidth),
        height: 260,
        series: [
          {},
          {
            label: "Cost (USD)",
            stroke: "#2f5bd3",
            fill: "rgba(47, 91, 211, 0.35)",
            scale: "usd",
            paths: uPlot.paths.bars!({ size: [0.6, 24] }),
            points: { show: false },
            value: (_u, v) => (v == null ? "" : `$${v.toFixed(4)}`),
          },
          { label: "Tokens", stroke: "#c2410c", width: 2, scale: "tokens" },
        ],
        axes: [{}, { scale: "usd", label: "USD" }, { scale: "tokens", side: 1, label: "tokens", grid: { show: false } }],
      },
      [xs, cost, tokens],
      el,
    );
    const resize = () => plot.setSize({ width: Math.max(300, el.clientWidth), height: 260 });
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      plot.destroy();
    };
  }, [days.join(), cost.join(), tokens.join()]);
  return (
    <figure>
      <div ref={box} class="chart" role="img" aria-label={`Cost and tokens per day, ${days[0]} to ${days[days.length - 1]}`} />
      <figcaption class="visually-hidden">The table below lists the same numbers.</figcaption>
    </figure>
  );
}

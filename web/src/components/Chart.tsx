import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import type { ChartData } from "../lib/charts";
import { formatTime, groupDigits } from "../lib/format";

// High-contrast palette (each at least 3:1 against white, distinguishable in common colour-vision deficiencies).
const COLOURS = ["#0b57d0", "#b3261e", "#146c2e", "#8a4b00", "#6d28a8", "#005f73", "#5f6368"];

/** A uPlot chart with its data also as a table (screen readers and keyboards get the same numbers). */
export function Chart({ title, data, axis, right }: { title: string; data: ChartData; axis: string; right?: number[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current || data.x.length === 0) return;
    const width = Math.max(320, Math.min(900, box.current.clientWidth || 640));
    const rightAxis = new Set(right ?? []);
    const plot = new uPlot({
      width,
      height: 260,
      title,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"), // interval starts are UTC, like the tables
      scales: { x: { time: true }, y: {}, y2: {} },
      axes: [{}, { label: axis }, ...(rightAxis.size ? [{ scale: "y2", side: 1, grid: { show: false } }] : [])],
      series: [{}, ...data.series.map((s, i) => ({
        label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2,
        scale: rightAxis.has(i) ? "y2" : "y", spanGaps: false,
      }))],
    }, [data.x, ...data.series.map((s) => s.values)] as uPlot.AlignedData, box.current);
    return () => plot.destroy();
  }, [data, title, axis]);
  if (data.x.length === 0) return <p class="empty">{title}: no readings in this period.</p>;
  return (
    <figure class="chart">
      <div ref={box} aria-hidden="true" />
      <figcaption>
        <details>
          <summary>{title}: data table</summary>
          <table>
            <thead>
              <tr><th scope="col">Interval start</th>{data.series.map((s) => <th scope="col" key={s.label}>{s.label}</th>)}</tr>
            </thead>
            <tbody>
              {data.x.map((x, row) => (
                <tr key={x}>
                  <th scope="row">{formatTime(x)}</th>
                  {data.series.map((s) => <td key={s.label}>{s.values[row] === null ? "–" : groupDigits(s.values[row] as number)}</td>)}
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      </figcaption>
    </figure>
  );
}

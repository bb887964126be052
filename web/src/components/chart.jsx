// A uPlot bar chart of events per bucket.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

export function BarChart({ xs, ys, bucket, height = 150, label = 'events' }) {
  const box = useRef(null);
  const plot = useRef(null);

  useEffect(() => {
    const el = box.current;
    const text = cssVar('--muted', '#8b96a5');
    const grid = cssVar('--grid', 'rgba(128,128,128,0.15)');
    const accent = cssVar('--accent', '#e8a317');
    const hhmm = (v) => {
      const d = new Date(v * 1000);
      return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
    };
    const opts = {
      width: Math.max(el.clientWidth, 200),
      height,
      padding: [8, 8, 0, 0],
      legend: { show: true, live: true },
      cursor: { points: { show: false }, drag: { x: false, y: false } },
      scales: { x: { time: true, range: (u, min, max) => [min, max + bucket] }, y: { range: (u, min, max) => [0, Math.max(max, 4) * 1.1] } },
      axes: [
        { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, font: '11px system-ui, sans-serif', values: (u, splits) => splits.map(hhmm) },
        { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, font: '11px system-ui, sans-serif', size: 44,
          values: (u, splits) => splits.map((v) => (Number.isInteger(v) ? String(v) : '')) },
      ],
      series: [
        { label: 'time', value: (u, v) => (v === null || v === undefined ? '—' : new Date(v * 1000).toLocaleString()) },
        {
          label,
          stroke: accent,
          fill: accent + '99',
          width: 0, // fill only: empty buckets draw nothing
          paths: uPlot.paths.bars({ size: [0.8, 32], align: 1 }),
          points: { show: false },
        },
      ],
    };
    plot.current = new uPlot(opts, [xs, ys], el);
    const ro = new ResizeObserver(() => {
      if (plot.current && el.clientWidth > 0) plot.current.setSize({ width: el.clientWidth, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current.destroy();
      plot.current = null;
    };
  }, [bucket, height]);

  useEffect(() => {
    if (plot.current) plot.current.setData([xs, ys]);
  }, [xs, ys]);

  return <div class="chart" ref={box} />;
}

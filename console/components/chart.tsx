/**
 * A chart with its data as a table: Chart.js draws the canvas (role="img", an aria-label that
 * says what it shows), and a <details> holds the same figures as a table, for screen readers,
 * keyboard users and anyone who wants the numbers. Only the controllers, elements and scales
 * used here are registered, so the bundle carries no other part of Chart.js.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartConfiguration,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from 'chart.js';
import { useEffect, useRef } from 'preact/hooks';

import { t } from '../i18n/index.js';

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
);
Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', 'Liberation Sans', Arial, sans-serif";
Chart.defaults.color = '#1b1f24';
Chart.defaults.locale = 'fr-FR';

/** Colours with ≥ 3:1 contrast on white, told apart by hue and lightness. */
export const CHART_COLOURS = ['#0b5cad', '#b34700', '#1c6b34', '#6b2fa0', '#a3161b'] as const;

export interface ChartSeries {
  readonly label: string;
  readonly values: readonly (number | null)[];
  readonly colour: string;
}

export interface ChartFigureProps {
  /** The id of the figure (tests and anchors). */
  readonly id: string;
  readonly title: string;
  /** What the chart shows, in one sentence: the canvas's aria-label. */
  readonly summary: string;
  readonly kind: 'bar' | 'line';
  readonly stacked?: boolean;
  readonly horizontal?: boolean;
  /** The first column of the table (« Jour », « Liaison »). */
  readonly categoryHeader: string;
  readonly categories: readonly string[];
  readonly series: readonly ChartSeries[];
  /** The axis' unit, e.g. « secondes ». */
  readonly unit?: string;
  /** Counts: the value axis shows whole numbers only. */
  readonly integers?: boolean;
  /** How a value reads in the table and the tooltips. */
  readonly format?: (value: number) => string;
}

export function ChartFigure(props: ChartFigureProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const format = props.format ?? ((v: number) => v.toLocaleString('fr-FR'));
  // Redrawn when the figures change, not at every render of the page.
  const figures = JSON.stringify([props.categories, props.series]);
  useEffect(() => {
    const el = canvas.current;
    if (!el) return;
    const [categoryAxis, valueAxis] = props.horizontal ? ['y', 'x'] : ['x', 'y'];
    const config: ChartConfiguration<'bar' | 'line', (number | null)[], string> = {
      type: props.kind,
      data: {
        labels: [...props.categories],
        datasets: props.series.map((s) => ({
          label: s.label,
          data: [...s.values],
          backgroundColor: s.colour,
          borderColor: s.colour,
          borderWidth: props.kind === 'line' ? 2 : 0,
          spanGaps: true,
        })),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        indexAxis: props.horizontal ? 'y' : 'x',
        plugins: {
          legend: { position: 'bottom' },
          tooltip: {
            callbacks: {
              label: (item) =>
                `${item.dataset.label ?? ''} : ${typeof item.raw === 'number' ? format(item.raw) : '—'}`,
            },
          },
        },
        scales: {
          [categoryAxis]: { stacked: props.stacked ?? false },
          [valueAxis]: {
            stacked: props.stacked ?? false,
            beginAtZero: true,
            ...(props.integers && { ticks: { precision: 0 } }),
            ...(props.unit && { title: { display: true, text: props.unit } }),
          },
        },
      },
    };
    const chart = new Chart(el, config);
    return () => chart.destroy();
  }, [props.kind, props.stacked, props.horizontal, figures, props.unit, props.integers]);
  const height = props.horizontal ? Math.max(160, 60 + 36 * props.categories.length) : 280;
  return (
    <figure class="chart" id={props.id} aria-labelledby={`${props.id}-titre`}>
      <figcaption id={`${props.id}-titre`}>{props.title}</figcaption>
      <div class="chart-canvas" style={{ height: `${height}px` }}>
        <canvas ref={canvas} role="img" aria-label={props.summary} />
      </div>
      <details class="chart-data">
        <summary>{t('rapports.voirDonnees')}</summary>
        <table>
          <caption>{props.title}</caption>
          <thead>
            <tr>
              <th scope="col">{props.categoryHeader}</th>
              {props.series.map((s) => (
                <th scope="col" class="num" key={s.label}>
                  {s.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {props.categories.map((c, i) => (
              <tr key={c}>
                <th scope="row">{c}</th>
                {props.series.map((s) => {
                  const v = s.values[i];
                  return (
                    <td class="num" key={s.label}>
                      {v === null || v === undefined ? '—' : format(v)}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

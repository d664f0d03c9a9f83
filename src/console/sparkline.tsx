import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'
// Bundled by Vite into the console's own stylesheet: nothing is fetched from elsewhere. uPlot sizes its
// elements through the CSSOM (element.style), which style-src 'self' allows: it adds no style attribute or
// <style> element that the CSP would block.
import 'uplot/dist/uPlot.min.css'

export interface SparkSeries {
  label: string
  values: number[]
  /** A CSS colour (#rrggbb). */
  color: string
}

// Counts per interval are bars: a line between two hours would invent the minutes in between. The first
// series is drawn wide, the next ones narrower over it, so that a small count stays visible on a large one.
const BAR_SIZES = [0.9, 0.45, 0.25]

/**
 * A small bar chart without axes, cursor or legend, drawn on a canvas by uPlot. A canvas says nothing to a
 * screen reader: `label` names what it shows and its numbers, and the page shows the same numbers as text.
 */
export function Sparkline(props: { label: string; series: SparkSeries[]; width?: number; height?: number }) {
  const target = useRef<HTMLDivElement>(null)
  const width = props.width ?? 160
  const height = props.height ?? 32
  const key = JSON.stringify(props.series.map((s) => s.values))
  useEffect(() => {
    const length = Math.max(...props.series.map((s) => s.values.length))
    const data: uPlot.AlignedData = [Array.from({ length }, (_, i) => i), ...props.series.map((s) => s.values)]
    const top = Math.max(1, ...props.series.flatMap((s) => s.values))
    const plot = new uPlot(
      {
        width,
        height,
        cursor: { show: false },
        legend: { show: false },
        select: { show: false, left: 0, top: 0, width: 0, height: 0 },
        axes: [{ show: false }, { show: false }],
        // A flat zero line sits at the bottom rather than in the middle of the chart.
        scales: { x: { time: false }, y: { range: [0, top] } },
        series: [
          {},
          ...props.series.map((s, i) => ({ label: s.label, stroke: s.color, fill: s.color, width: 0, points: { show: false }, paths: uPlot.paths.bars!({ size: [BAR_SIZES[i] ?? 0.25] }) })),
        ],
      },
      data,
      target.current!,
    )
    return () => plot.destroy()
  }, [key, width, height])
  return <div class="sparkline" role="img" aria-label={props.label} ref={target} />
}

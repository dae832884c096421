import { formatAiDollars, type HourlySpend } from '@ai-village/control-plane/contract';

const WIDTH = 720;
const HEIGHT = 180;
const BOTTOM = 20;

/** Compute spending per hour as bars (an SVG: nothing to load for one small chart), the current hour last. */
export function SpendChart({ hours }: { hours: HourlySpend[] }) {
  const most = Math.max(1, ...hours.map((hour) => hour.total));
  const barWidth = WIDTH / Math.max(1, hours.length);
  return (
    <svg
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      width="100%"
      role="img"
      aria-label="aiDollars spent on compute per hour"
      data-testid="spend-chart"
    >
      {hours.map((hour, index) => {
        const height = ((HEIGHT - BOTTOM) * hour.total) / most;
        const at = new Date(hour.hour);
        return (
          <g key={hour.hour}>
            <rect
              x={index * barWidth + 1}
              y={HEIGHT - BOTTOM - height}
              width={barWidth - 2}
              height={height}
              fill="#1976d2"
              data-mills={hour.total}
            >
              <title>{`${at.toLocaleString()}: ${formatAiDollars(hour.total)} aiDollars`}</title>
            </rect>
            {index % 3 === 0 && (
              <text x={index * barWidth + barWidth / 2} y={HEIGHT - 5} fontSize="10" textAnchor="middle">
                {String(at.getHours()).padStart(2, '0')}h
              </text>
            )}
          </g>
        );
      })}
      <text x={4} y={12} fontSize="11">
        max {formatAiDollars(most)} aiD/h
      </text>
    </svg>
  );
}

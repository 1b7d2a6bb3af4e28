// ECharts options for each chart of the page, built from the snapshot (src/web/snapshot.ts).
// Series data are the snapshot's own numbers, unrounded: tooltips show them exactly.

const MAX_SERIES = 8

export function formatBytes(value) {
  if (value === null || value === undefined) return '-'
  const units = ['B', 'kB', 'MB', 'GB', 'TB']
  let unit = 0
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`
}

export const exact = value => (value === null || value === undefined ? '-' : value.toLocaleString('en-US'))

export function utcTime(seconds) {
  return new Date(seconds * 1000).toISOString().slice(11, 16)
}

export function utcHour(seconds) {
  return new Date(seconds * 1000).toISOString().slice(0, 13).replace('T', ' ') + 'h'
}

/** The heaviest series by total, then the others summed into one, so that a legend stays readable. */
function heaviest(series) {
  if (series.length <= MAX_SERIES) return series
  const total = s => s.values.reduce((sum, v) => sum + (v ?? 0), 0)
  const sorted = [...series].sort((a, b) => total(b) - total(a))
  const rest = sorted.slice(MAX_SERIES - 1)
  const others = rest[0].values.map((_, i) =>
    rest.every(s => s.values[i] === null) ? null : rest.reduce((sum, s) => sum + (s.values[i] ?? 0), 0)
  )
  return [...sorted.slice(0, MAX_SERIES - 1), { id: `${rest.length} others`, values: others }]
}

const axisBytes = { type: 'value', axisLabel: { formatter: formatBytes } }
const grid = { left: 64, right: 16, top: 36, bottom: 28 }

/** Windows as bars or lines; open windows are shaded and labelled, their values left empty until known. */
export function windowsOption(windows, series, kind, label = id => id) {
  const labels = windows.starts.map(utcTime)
  const firstOpen = windows.starts.length - windows.open
  const shown = heaviest(series)
  return {
    animation: false,
    grid,
    legend: { type: 'scroll', top: 0 },
    tooltip: { trigger: 'axis', valueFormatter: exact },
    xAxis: { type: 'category', data: labels },
    yAxis: axisBytes,
    series: shown.map((s, i) => ({
      id: s.id,
      name: label(s.id),
      type: kind,
      stack: kind === 'bar' ? 'bytes' : undefined,
      showSymbol: false,
      data: s.values,
      // Set on every update, empty too: series are merged by id, and a stale area would stay.
      markArea: {
        silent: true,
        itemStyle: { color: 'rgba(47, 111, 237, 0.08)' },
        label: { show: true, position: 'insideTop', color: '#667085', formatter: 'open' },
        data: i === 0 && windows.open > 0 ? [[{ xAxis: labels[firstOpen] }, { xAxis: labels.at(-1) }]] : []
      }
    }))
  }
}

/** The antennas where they are, each circle sized and coloured by its bytes. */
export function mapOption(antennas) {
  const max = Math.max(1, ...antennas.map(a => a.bytes))
  // Colours span the antennas' own range, so that differences show.
  const min = antennas.length > 1 ? Math.min(...antennas.map(a => a.bytes)) : 0
  return {
    animation: false,
    grid: { left: 56, right: 80, top: 16, bottom: 32 },
    tooltip: { formatter: p => `${p.data.id}<br>${exact(p.data.value[2])} bytes` },
    xAxis: {
      type: 'value',
      name: 'lon',
      scale: true,
      boundaryGap: ['8%', '8%'],
      axisLabel: { formatter: v => v.toFixed(2) }
    },
    yAxis: {
      type: 'value',
      name: 'lat',
      scale: true,
      boundaryGap: ['8%', '8%'],
      axisLabel: { formatter: v => v.toFixed(2) }
    },
    visualMap: {
      min: min < max ? min : 0,
      max,
      dimension: 2,
      right: 0,
      top: 'middle',
      calculable: false,
      inRange: { color: ['#a6c8ff', '#2f6fed', '#d92d20'] },
      text: [formatBytes(max), formatBytes(min < max ? min : 0)]
    },
    series: [
      {
        id: 'antennas',
        type: 'scatter',
        data: antennas.map(a => ({ id: a.id, value: [a.lon, a.lat, a.bytes] })),
        symbolSize: value => 10 + 40 * Math.sqrt(value[2] / max),
        label: {
          show: antennas.length <= 20,
          formatter: p => p.data.id.slice(0, 8),
          position: 'right',
          color: '#667085'
        }
      }
    ]
  }
}

/** The heaviest users' usage, each against their quota (a tick); red when over it. */
export function usersOption(users) {
  const rows = [...users].reverse()
  return {
    animation: false,
    grid: { left: 150, right: 100, top: 28, bottom: 28 },
    legend: { top: 0, data: ['usage', 'quota'] },
    tooltip: {
      trigger: 'axis',
      formatter: items => {
        const u = rows[items[0].dataIndex]
        return `${u.email}<br>${exact(u.usage)} of ${exact(u.quota)} bytes (${((u.usage / Math.max(1, u.quota)) * 100).toFixed(0)} %)`
      }
    },
    xAxis: axisBytes,
    yAxis: { type: 'category', data: rows.map(u => u.email) },
    series: [
      {
        id: 'usage',
        name: 'usage',
        type: 'bar',
        data: rows.map(u => ({ value: u.usage, itemStyle: { color: u.usage > u.quota ? '#d92d20' : '#2f6fed' } })),
        label: {
          show: true,
          position: 'right',
          formatter: p => `${formatBytes(p.value)} / ${formatBytes(rows[p.dataIndex].quota)}`
        }
      },
      {
        id: 'quota',
        name: 'quota',
        type: 'scatter',
        symbol: 'rect',
        symbolSize: [3, 16],
        itemStyle: { color: '#1d2433' },
        data: rows.map(u => u.quota),
        z: 3
      }
    ]
  }
}

/** Per hour, how many users the speed layer alerted and the batch layer found over quota. */
export function overQuotaOption(hours) {
  return {
    animation: false,
    grid: { left: 48, right: 16, top: 36, bottom: 28 },
    legend: { top: 0 },
    tooltip: {
      trigger: 'axis',
      formatter: items => {
        const hour = hours[items[0].dataIndex]
        const batch =
          hour.batch === null || hour.batch === undefined
            ? 'not compacted yet'
            : `${hour.batch} of ${hour.users} users (${((hour.batch / Math.max(1, hour.users)) * 100).toFixed(1)} %)`
        return `${utcHour(hour.hour)}<br>speed layer: ${hour.speed} alerts<br>batch layer: ${batch}`
      }
    },
    xAxis: { type: 'category', data: hours.map(h => utcTime(h.hour)) },
    yAxis: { type: 'value', minInterval: 1 },
    series: [
      { id: 'speed', name: 'speed layer (alerts)', type: 'bar', data: hours.map(h => h.speed) },
      { id: 'batch', name: 'batch layer (user_quota_limit)', type: 'bar', data: hours.map(h => h.batch ?? null) }
    ]
  }
}

export function lagOption(partitions) {
  return {
    animation: false,
    grid: { left: 56, right: 16, top: 12, bottom: 28 },
    tooltip: {
      trigger: 'axis',
      formatter: items => {
        const p = partitions[items[0].dataIndex]
        return `partition ${p.partition}<br>end ${exact(p.end)}<br>committed ${exact(p.committed)}<br>lag ${exact(p.lag)}`
      }
    },
    xAxis: { type: 'category', data: partitions.map(p => String(p.partition)) },
    yAxis: { type: 'value', minInterval: 1 },
    series: [{ id: 'lag', type: 'bar', data: partitions.map(p => p.lag) }]
  }
}

export function deadLettersOption(deadLetters) {
  const rows = [...deadLetters].reverse()
  return {
    animation: false,
    grid: { left: 200, right: 48, top: 8, bottom: 28 },
    tooltip: { valueFormatter: exact },
    xAxis: { type: 'value', minInterval: 1 },
    yAxis: { type: 'category', data: rows.map(d => d.reason) },
    series: [
      {
        id: 'dead-letters',
        type: 'bar',
        data: rows.map(d => d.count),
        itemStyle: { color: '#d92d20' },
        label: { show: true, position: 'right' }
      }
    ]
  }
}

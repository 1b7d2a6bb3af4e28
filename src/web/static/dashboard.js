// The page: receives snapshots from /api/events (server-sent events) and draws them.
import {
  deadLettersOption,
  exact,
  formatBytes,
  lagOption,
  mapOption,
  overQuotaOption,
  usersOption,
  utcHour,
  utcTime,
  windowsOption
} from './charts.js'

const charts = {}
for (const id of ['apps', 'antennas', 'map', 'users', 'over-quota', 'lag', 'dead-letters']) {
  const element = document.getElementById(`chart-${id}`)
  charts[id] = echarts.init(element, null, { renderer: 'canvas' })
}
window.addEventListener('resize', () => {
  for (const chart of Object.values(charts)) chart.resize()
})

const antennaLabel = id => id.slice(0, 8)

function draw(snapshot) {
  const set = (id, option) => charts[id].setOption(option, { replaceMerge: ['series'] })
  set('apps', windowsOption(snapshot.windows, snapshot.windows.app, 'bar'))
  set('antennas', windowsOption(snapshot.windows, snapshot.windows.antenna, 'line', antennaLabel))
  set('map', mapOption(snapshot.antennas))
  set('users', usersOption(snapshot.topUsers?.users ?? []))
  set('over-quota', overQuotaOption(snapshot.overQuota))
  set('lag', lagOption(snapshot.pipeline.partitions))
  set('dead-letters', deadLettersOption(snapshot.pipeline.deadLetters))
  text(
    'map-window',
    snapshot.antennaWindow === undefined ? '' : `bytes in the window of ${utcTime(snapshot.antennaWindow)} UTC`
  )
  text('users-hour', snapshot.topUsers === undefined ? '' : `usage so far in ${utcHour(snapshot.topUsers.hour)} UTC`)
  kpis(snapshot)
  tables(snapshot)
  const problems = document.getElementById('problems')
  problems.hidden = snapshot.problems.length === 0
  problems.textContent = snapshot.problems.join(' · ')
  text('connection', `live · updated ${new Date(snapshot.at).toISOString().slice(11, 19)} UTC`)
}

function kpis(snapshot) {
  const p = snapshot.pipeline
  const rate = value => (value === undefined ? '-' : value.toFixed(1))
  text('kpi-in', rate(p.eventsIn))
  text('kpi-out', rate(p.eventsOut))
  text('kpi-lag', exact(p.lag))
  text(
    'kpi-commit',
    p.lastCommit === undefined ? '-' : `${Math.max(0, Math.round((snapshot.at - p.lastCommit) / 1000))} s ago`
  )
  text('kpi-windows', exact(p.windowsWritten))
  text('kpi-dead', exact(p.deadLetters.reduce((sum, d) => sum + d.count, 0)))
  text('kpi-late', exact(p.late))
  text('kpi-alerts', exact(p.alerts))
}

function tables(snapshot) {
  const p = snapshot.pipeline
  rows(
    'alerts',
    snapshot.alerts.map(a => [
      a.email,
      utcHour(a.hour),
      num(formatBytes(a.usage)),
      num(formatBytes(a.quota)),
      `${new Date(a.detectedAt).toISOString().slice(11, 19)} UTC`
    ])
  )
  text('group-state', p.groupState === undefined ? '' : `group ${p.groupState}`)
  rows(
    'instances',
    p.members.map(m => [m.clientId, m.host, partitionsText(m.partitions, p.inputTopic)])
  )
  rows(
    'endpoints',
    p.instances.map(i => [
      i.url,
      {
        text: i.reason === undefined ? i.status : `${i.status}: ${i.reason}`,
        className: `status-${i.status.replace(' ', '-')}`
      },
      num(exact(i.commits)),
      num(exact(i.recordsIn)),
      num(exact(i.windowsWritten))
    ])
  )
  rows(
    'archive',
    (p.archive ?? []).map(h => [
      utcHour(h.hour),
      num(String(h.files)),
      { text: h.state, className: `state-${h.state.replace(' ', '-')}` }
    ])
  )
}

/** The input partitions by number, the internal ones (partial sums) by count. */
function partitionsText(partitions, inputTopic) {
  const input = partitions
    .filter(p => p.slice(0, p.lastIndexOf('-')) === inputTopic)
    .map(p => p.slice(p.lastIndexOf('-') + 1))
  const internal = partitions.length - input.length
  return `${inputTopic} ${input.join(', ') || 'none'}${internal > 0 ? ` + ${internal} internal` : ''}`
}

const num = text => ({ text, className: 'number' })

function rows(tableId, cells) {
  const body = document.querySelector(`#${tableId} tbody`)
  body.replaceChildren(
    ...cells.map(row => {
      const tr = document.createElement('tr')
      for (const cell of row) {
        const td = document.createElement('td')
        td.textContent = typeof cell === 'string' ? cell : cell.text
        if (typeof cell !== 'string') td.className = cell.className
        tr.append(td)
      }
      return tr
    })
  )
}

function text(id, value) {
  document.getElementById(id).textContent = value
}

const events = new EventSource('/api/events')
events.onmessage = message => {
  document.getElementById('connection').className = 'connection live'
  draw(JSON.parse(message.data))
}
events.onerror = () => {
  document.getElementById('connection').className = 'connection lost'
  text('connection', 'connection lost, retrying…')
}

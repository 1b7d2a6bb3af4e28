// The rows of a writer-like file made up by DuckDB: one partition, offsets [first, last], event
// times in the hour, a few apps, antennas and users (every seventh row without metadata).
export function partRows(hour: number, partition: number, first: number, last: number): string {
  return `SELECT (hash(o, ${partition}) % 10000)::BIGINT AS bytes, (${hour} + o % 3600)::BIGINT AS timestamp,
      ['SKYPE', 'TELEGRAM', 'FACETIME'][(hash(o, 1) % 3)::INTEGER + 1] AS app,
      printf('00000000-0000-0000-0000-%012d', hash(o, 2) % 5000) AS id,
      printf('%d1111111-0000-0000-0000-000000000000', hash(o, 3) % 4) AS antenna_id,
      CASE WHEN o % 7 = 0 THEN NULL ELSE printf('user%d@example.com', hash(o, 2) % 5000) END AS email,
      CASE WHEN o % 7 = 0 THEN NULL ELSE 100000 END::BIGINT AS quota,
      'devices' AS topic, ${partition}::INTEGER AS partition, o::BIGINT AS "offset"
    FROM range(${first}, ${last + 1}) r(o)`
}

-- The reference tables, in UTC (timestamptz), each keyed so that every writer can upsert
-- and a rerun never duplicates a row.

CREATE TABLE user_metadata (
  id    text   PRIMARY KEY,
  name  text   NOT NULL,
  email text   NOT NULL UNIQUE,
  quota bigint NOT NULL CHECK (quota >= 0)
);

-- 5-minute windows from the speed layer; timestamp = window start.
CREATE TABLE bytes (
  "timestamp" timestamptz NOT NULL,
  id          text        NOT NULL,
  value       bigint      NOT NULL,
  type        text        NOT NULL CHECK (type IN ('antenna_total_bytes', 'user_total_bytes', 'app_total_bytes')),
  PRIMARY KEY ("timestamp", id, type)
);

-- Hours from the batch layer; timestamp = hour start.
CREATE TABLE bytes_hourly (
  "timestamp" timestamptz NOT NULL,
  id          text        NOT NULL,
  value       bigint      NOT NULL,
  type        text        NOT NULL CHECK (type IN ('antenna_total_bytes', 'user_total_bytes', 'app_total_bytes')),
  PRIMARY KEY ("timestamp", id, type)
);

-- Users whose usage in an hour was strictly greater than their hourly quota.
CREATE TABLE user_quota_limit (
  email       text        NOT NULL,
  usage       bigint      NOT NULL,
  quota       bigint      NOT NULL,
  "timestamp" timestamptz NOT NULL,
  PRIMARY KEY (email, "timestamp")
);

-- Live quota alerts from the speed layer: one row per user and UTC hour, the first time the
-- user's running usage in that hour went over their quota. The key makes the writer
-- idempotent: a replay after a crash inserts nothing new.
CREATE TABLE quota_alerts (
  email       text        NOT NULL,
  "timestamp" timestamptz NOT NULL,
  usage       bigint      NOT NULL,
  quota       bigint      NOT NULL,
  detected_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (email, "timestamp")
);

-- A stable identity for this database. The metadata mirror stamps it on every record it
-- publishes, so that a topic holding another database's users is refused, not overwritten
-- with tombstones, whichever process or machine the second mirror runs on.
CREATE TABLE cellstream_database (
  id       uuid    PRIMARY KEY DEFAULT gen_random_uuid(),
  one_row  boolean NOT NULL DEFAULT true UNIQUE CHECK (one_row)
);
INSERT INTO cellstream_database DEFAULT VALUES;

-- Quotas travel as JSON numbers (the user-metadata topic, the alerts): above 2^53 they would
-- lose precision on the way.
ALTER TABLE user_metadata ADD CONSTRAINT quota_fits_a_json_number CHECK (quota <= 9007199254740991);

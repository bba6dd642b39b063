-- What the per-row foreign-key check cost the partner read log (migration 0013).
-- Run on its own:  psql -h 127.0.0.1 -U postgres -d postgres -f bench/read_log_insert.sql
-- It makes a scratch database, fills both shapes of partner_read_customers with 300 reads of
-- 1,000 customers, then times three more inserts of 1,000 rows into each (psql's \timing):
-- `prc` with the foreign key to its read (as before 0013), `prc2` without (as after).
DROP DATABASE IF EXISTS datarights_read_log_bench;
CREATE DATABASE datarights_read_log_bench;
\c datarights_read_log_bench
CREATE TABLE pr (id uuid PRIMARY KEY, x int);
CREATE TABLE prc (read_id uuid REFERENCES pr (id) ON DELETE CASCADE, customer_id uuid,
                  PRIMARY KEY (read_id, customer_id));
CREATE INDEX ON prc (customer_id);
CREATE TABLE prc2 (read_id uuid, customer_id uuid, PRIMARY KEY (read_id, customer_id));
CREATE INDEX ON prc2 (customer_id);
CREATE TABLE ids AS SELECT gen_random_uuid() AS id FROM generate_series(1, 1000);
DO $$ BEGIN FOR i IN 1..300 LOOP DECLARE r uuid := gen_random_uuid(); BEGIN
  INSERT INTO pr VALUES (r, 1); INSERT INTO prc SELECT r, id FROM ids;
  INSERT INTO prc2 SELECT r, id FROM ids; END; END LOOP; END $$;
\timing on
\echo with the foreign key, then without, three times
INSERT INTO pr VALUES ('00000000-0000-0000-0000-000000000001', 1);
INSERT INTO prc SELECT '00000000-0000-0000-0000-000000000001', id FROM ids;
INSERT INTO prc2 SELECT '00000000-0000-0000-0000-000000000001', id FROM ids;
INSERT INTO pr VALUES ('00000000-0000-0000-0000-000000000002', 1);
INSERT INTO prc SELECT '00000000-0000-0000-0000-000000000002', id FROM ids;
INSERT INTO prc2 SELECT '00000000-0000-0000-0000-000000000002', id FROM ids;
INSERT INTO pr VALUES ('00000000-0000-0000-0000-000000000003', 1);
INSERT INTO prc SELECT '00000000-0000-0000-0000-000000000003', id FROM ids;
INSERT INTO prc2 SELECT '00000000-0000-0000-0000-000000000003', id FROM ids;
\timing off
\c postgres
DROP DATABASE datarights_read_log_bench;

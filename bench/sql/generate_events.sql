-- events (jsonb payload), generated in a second session alongside generate_main.sql.
\set ON_ERROR_STOP on
SET synchronous_commit = on;
SELECT setseed(0.1717);
INSERT INTO events (tenant_id, occurred_at, kind, actor_id, payload)
SELECT t,
       timestamptz '2023-01-01' + g * interval '7 seconds',
       (ARRAY['login','page_view','page_view','page_view','api_call','export','invoice.sent','settings.changed'])[1 + (r1 * 8)::int % 8],
       CASE WHEN r2 < 0.9 THEN 1 + (r2 * 500000)::bigint END,
       jsonb_build_object(
         'ip', '10.' || (r1 * 255)::int || '.' || (r2 * 255)::int || '.' || (r3 * 255)::int,
         'path', '/app/' || (ARRAY['dashboard','orders','customers','reports','settings'])[1 + (r3 * 5)::int % 5] || '/' || (r1 * 1000)::int,
         'ua', (ARRAY['Mozilla/5.0 (X11; Linux x86_64)','Mozilla/5.0 (Macintosh; Intel Mac OS X 13_4)','curl/8.1','okhttp/4.11'])[1 + (r2 * 4)::int % 4],
         'ms', (r3 * 800)::int,
         'ok', r1 < 0.97,
         'request_id', md5(g::text || r2))
FROM (SELECT g, width_bucket(random(), (SELECT thr FROM bench.thresholds)) AS t,
             random() AS r1, random() AS r2, random() AS r3
      FROM generate_series(1, (SELECT value FROM bench.params WHERE name = 'events')::bigint) g
      OFFSET 0) s;

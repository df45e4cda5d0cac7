-- source: golang-migrate (000006_post_status_values.up.sql)
-- class: 7,8
-- expect: same
-- why: ADD VALUE IF NOT EXISTS of an existing label is a no-op; of a new one adds it
ALTER TYPE "PostStatus" ADD VALUE IF NOT EXISTS 'PUBLISHED';
ALTER TYPE "PostStatus" ADD VALUE IF NOT EXISTS 'HIDDEN';

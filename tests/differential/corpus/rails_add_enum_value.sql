-- source: Rails 7.1 (add_enum_value :post_status, "REVIEW", before: "PUBLISHED")
-- class: 8
-- expect: same
-- why: ADD VALUE ... BEFORE keeps the label order; touches no table
ALTER TYPE "PostStatus" ADD VALUE 'REVIEW' BEFORE 'PUBLISHED';

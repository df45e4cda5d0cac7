-- source: Rails (add_column :users, :settings, :jsonb, default: {}, null: false)
-- class: 0
-- expect: same
-- why: a constant jsonb default with NOT NULL: metadata only
ALTER TABLE "users" ADD "settings" jsonb DEFAULT '{}' NOT NULL;

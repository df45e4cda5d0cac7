-- *********************************************************************
-- Update Database Script
-- *********************************************************************
-- Change Log: db/changelog.xml
-- Ran at: 5/1/24, 10:00 AM
-- Against: app@jdbc:postgresql://localhost:5432/app
-- Liquibase version: 4.27.0
-- *********************************************************************
-- source: Liquibase (update-sql)
-- class: 3
-- expect: same
-- why: Liquibase's lock UPDATEs and DATABASECHANGELOG INSERT are one-row bookkeeping; the column is metadata only

-- Lock Database
UPDATE public.databasechangeloglock SET LOCKED = TRUE, LOCKEDBY = 'build-7 (10.0.0.7)', LOCKGRANTED = NOW() WHERE ID = 1 AND LOCKED = FALSE;

-- Changeset db/changelog.xml::2::alice
ALTER TABLE public.users ADD timezone VARCHAR(64) DEFAULT 'UTC';

INSERT INTO public.databasechangelog (ID, AUTHOR, FILENAME, DATEEXECUTED, ORDEREXECUTED, MD5SUM, DESCRIPTION, COMMENTS, EXECTYPE, CONTEXTS, LABELS, LIQUIBASE, DEPLOYMENT_ID) VALUES ('2', 'alice', 'db/changelog.xml', NOW(), 2, '9:0f3c3e9e2c4b4d6f8a1b2c3d4e5f6a7b', 'addColumn tableName=users', '', 'EXECUTED', NULL, NULL, '4.27.0', '4567890123');

-- Release Database Lock
UPDATE public.databasechangeloglock SET LOCKED = FALSE, LOCKEDBY = NULL, LOCKGRANTED = NULL WHERE ID = 1;

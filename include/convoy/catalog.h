/* catalog.h: reads the live catalog facts a migration's plan depends on. */
#ifndef CONVOY_CATALOG_H
#define CONVOY_CATALOG_H

#include "convoy/facts.h"
#include "convoy/migration.h"
#include "convoy/pg.h"

/*
 * Fills *out for every table the migration touches, and asks the server exactly
 * how each ADD COLUMN default and ALTER TYPE behaves, using one-row temp tables
 * in a transaction that is rolled back. Returns false on a connection-level
 * failure (with *err set, caller frees); problems with the user's SQL are
 * recorded in the facts instead.
 */
bool catalog_fetch(pg_t *pg, const migration_t *m, facts_t *out, char **err);

#endif

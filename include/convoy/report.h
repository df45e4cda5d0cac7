/*
 * report.h: the end-of-run report of a migration, from its durable state: what ran, how long
 * each step took, the lock waits and their blockers, the holds, the worst replica lag, the
 * cache invalidations, the verification and the gate history. Written as DIR/NAME.report.md
 * and DIR/NAME.report.json.
 */
#ifndef CONVOY_REPORT_H
#define CONVOY_REPORT_H

#include "convoy/pg.h"

#include <stdbool.h>

/* False with *err; on success *md_path (owned) names the Markdown file. */
bool report_write(pg_t *pg, const char *name, const char *dir, char **md_path, char **err);

#endif

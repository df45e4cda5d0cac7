/*
 * datagen.h: staging data from production's statistics, without production's data. Reads
 * pg_class.reltuples and pg_stats of each table from PROD (read-only, short
 * statement_timeout), then fills the same table on STAGING with one set-based
 * INSERT ... SELECT over generate_series: null fractions, most common values and their
 * frequencies, histogram shapes, distinct counts and correlation with the key order;
 * unique and primary-key columns stay unique, foreign keys point at generated parent rows.
 * docs/rehearse.md says what it does not reproduce.
 */
#ifndef CONVOY_DATAGEN_H
#define CONVOY_DATAGEN_H

#include "convoy/pg.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    DG_NUM,   /* integers, numeric, floats: interpolated inside histogram buckets */
    DG_TIME,  /* date, timestamp, timestamptz: the same, over epoch seconds */
    DG_TEXT,  /* text, varchar, char */
    DG_UUID,  /* uuid */
    DG_OTHER, /* anything else: only the statistics' own values */
} dg_kind_t;

typedef struct {
    char *name;
    char *type; /* format_type() */
    dg_kind_t kind;
    bool is_int;
    bool not_null;
    bool generated; /* GENERATED ALWAYS AS (...) STORED: not inserted */
    bool unique;    /* primary key or a one-column unique index */
    bool has_stats;
    double null_frac, n_distinct, correlation;
    double boost; /* the distinct target's correction after a first fill (1: none) */
    int avg_width;
    char *mcv;   /* most_common_vals as text ({a,b}), or NULL */
    char *freqs; /* most_common_freqs as text, or NULL */
    char *hist;  /* histogram_bounds as text, or NULL */
    int n_mcv, n_hist;
    double sum_freqs;
    /* a one-column foreign key to a table of the same rehearsal */
    char *fk_schema, *fk_table, *fk_column;
    char *serial_seq; /* pg_get_serial_sequence, or NULL */
} dg_column_t;

typedef struct {
    char *schema, *name;
    int64_t prod_rows; /* pg_class.reltuples */
    int64_t prod_bytes;
    int64_t rows; /* what to generate: prod_rows x scale */
    dg_column_t *cols;
    size_t n_cols;
    /* filled by datagen_fill */
    double gen_ms, copy_ms; /* the generating INSERT; a plain INSERT ... SELECT of the same rows */
    double calibrate_ms;    /* a second fill with corrected distinct counts (0: none needed) */
} dg_table_t;

/* Reads one table's shape and statistics from PROD. False with *err (caller frees). */
bool datagen_read(pg_t *prod, const char *schema, const char *name, dg_table_t *out, char **err);

/*
 * Generates t->rows rows into the (empty) table on STAGING; parents (tables, all) must be
 * filled first (their row counts decide the foreign keys' ranges). Also times a plain
 * INSERT INTO copy SELECT * of the generated rows (t->copy_ms) when time_copy is set.
 */
bool datagen_fill(pg_t *staging,
                  const dg_table_t *tables,
                  size_t n_tables,
                  dg_table_t *t,
                  bool time_copy,
                  char **err);

/* The key expression of column c for row number `row_sql` (a SQL expression), for traffic
 * scripts: e.g. "1 + (:g - 1) * 5". NULL when the key is not an integer. Caller frees. */
char *datagen_int_key(const dg_table_t *t, const dg_column_t *c, int64_t *min, int64_t *step);

/* PROD's pg_stats next to STAGING's (after ANALYZE), per column: null_frac, n_distinct
 * (as a count), MCVs shared; the JSON has "ok" per check. */
json_t *datagen_compare(pg_t *prod, pg_t *staging, const dg_table_t *t, char **err);

void datagen_table_free(dg_table_t *t);

#endif

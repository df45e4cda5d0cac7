/* facts.c: lookups over catalog facts (pure) and their destructor. */
#include "convoy/facts.h"

#include "convoy/util.h"

#include <stdlib.h>
#include <string.h>

const table_fact_t *
facts_table(const facts_t *f, const char *schema, const char *name)
{
    for (size_t i = 0; f && i < f->n_tables; i++) {
        const table_fact_t *t = &f->tables[i];
        bool same_schema = (schema == NULL && t->schema_given == NULL) ||
                           (schema && t->schema_given && strcmp(schema, t->schema_given) == 0);
        if (same_schema && strcmp(name, t->name_given) == 0)
            return t;
    }
    return NULL;
}

const column_fact_t *
facts_column(const table_fact_t *t, const char *column)
{
    for (size_t i = 0; t && i < t->n_cols; i++)
        if (strcmp(t->cols[i].name, column) == 0)
            return &t->cols[i];
    return NULL;
}

const default_fact_t *
facts_default(const facts_t *f, size_t action)
{
    for (size_t i = 0; f && i < f->n_defaults; i++)
        if (f->defaults[i].action == action)
            return &f->defaults[i];
    return NULL;
}

const type_fact_t *
facts_type(const facts_t *f, size_t action)
{
    for (size_t i = 0; f && i < f->n_types; i++)
        if (f->types[i].action == action)
            return &f->types[i];
    return NULL;
}

void
facts_free(facts_t *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n_tables; i++) {
        table_fact_t *t = &f->tables[i];
        free(t->schema_given);
        free(t->name_given);
        free(t->schema);
        free(t->name);
        for (size_t k = 0; k < t->n_cols; k++) {
            free(t->cols[k].name);
            free(t->cols[k].type);
            free(t->cols[k].default_sql);
            free(t->cols[k].used_by);
        }
        for (size_t k = 0; k < t->n_renames; k++) {
            free(t->renames[k].trigger);
            free(t->renames[k].function);
            free(t->renames[k].from);
            free(t->renames[k].to);
        }
        free(t->renames);
        free(t->cols);
        strv_free(t->pk_cols, t->n_pk);
        strv_free(t->pk_types, t->n_pk);
        for (size_t k = 0; k < t->n_indexes; k++) {
            free(t->indexes[k].name);
            strv_free(t->indexes[k].cols, t->indexes[k].n_cols);
        }
        free(t->indexes);
        for (size_t k = 0; k < t->n_constraints; k++)
            free(t->constraints[k].name);
        for (size_t k = 0; k < t->n_parts; k++) {
            free(t->parts[k].schema);
            free(t->parts[k].name);
            strv_free(t->parts[k].index_names, t->parts[k].n_index_names);
        }
        free(t->parts);
        free(t->constraints);
    }
    free(f->tables);
    for (size_t i = 0; i < f->n_defaults; i++) {
        free(f->defaults[i].error);
        free(f->defaults[i].backfill_error);
        free(f->defaults[i].backfill_key);
    }
    free(f->defaults);
    for (size_t i = 0; i < f->n_types; i++)
        free(f->types[i].error);
    free(f->types);
    free(f->est_rows);
    free(f->index_kind);
    free(f->violations);
    free(f->server_desc);
    memset(f, 0, sizeof(*f));
}

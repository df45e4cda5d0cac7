/* quote.c: the one identifier quoter, decided by libpg_query's deparser; and the literal quoter. */
#include "convoy/quote.h"

#include "convoy/util.h"
#include "pgq.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Always quoted: the fallback when the deparser cannot say (never in practice). */
static char *
quote_always(const char *ident)
{
    sb_t sb;

    sb_init(&sb);
    sb_putc(&sb, '"');
    for (const char *p = ident; *p; p++) {
        if (*p == '"')
            sb_putc(&sb, '"');
        sb_putc(&sb, *p);
    }
    sb_putc(&sb, '"');
    return sb_steal(&sb);
}

char *
ident_sql(const char *ident)
{
    PgQuery__String s = PG_QUERY__STRING__INIT;
    PgQuery__Node sn = PG_QUERY__NODE__INIT;
    PgQuery__Node *fields[1] = {&sn};
    PgQuery__ColumnRef cr = PG_QUERY__COLUMN_REF__INIT;
    PgQuery__Node crn = PG_QUERY__NODE__INIT;
    char *out;

    if (ident[0] == '\0')
        return xstrdup("\"\"");
    s.sval = (char *)ident;
    sn.node_case = PG_QUERY__NODE__NODE_STRING;
    sn.string = &s;
    cr.n_fields = 1;
    cr.fields = fields;
    crn.node_case = PG_QUERY__NODE__NODE_COLUMN_REF;
    crn.column_ref = &cr;
    out = pgq_deparse_expr(&crn);
    return out ? out : quote_always(ident);
}

char *
qname_sql(const qname_t *q)
{
    char *name = ident_sql(q->name);
    char *schema, *out;

    if (q->schema == NULL)
        return name;
    schema = ident_sql(q->schema);
    out = xasprintf("%s.%s", schema, name);
    free(schema);
    free(name);
    return out;
}

char *
literal_sql(const char *value)
{
    sb_t sb;
    bool backslash = strchr(value, '\\') != NULL;

    sb_init(&sb);
    sb_puts(&sb, backslash ? "E'" : "'");
    for (const char *p = value; *p; p++) {
        if (*p == '\'' || (backslash && *p == '\\'))
            sb_putc(&sb, *p);
        sb_putc(&sb, *p);
    }
    sb_puts(&sb, "'");
    return sb_steal(&sb);
}

/* lint_int.h: what the linter's files share: rule indexes and the configuration lookups. */
#ifndef CONVOY_LINT_INT_H
#define CONVOY_LINT_INT_H

#include "convoy/lint.h"

/* The rows of the rule table (lint_rules.c), in order. */
typedef enum {
    LR_TIMESTAMP,
    LR_JSON,
    LR_CHAR,
    LR_VARCHAR,
    LR_INT_KEY,
    LR_SERIAL,
    LR_MONEY_FLOAT,
    LR_NULLABLE_REQUIRED,
    LR_DEFAULT_NOW,
    LR_NAME_ABBREV,
    LR_NAME_SHORT,
    LR_NAME_LONG,
    LR_NAME_RESERVED,
    LR_NAME_MIXED_CASE,
    LR_BOOLEAN_NAME,
    LR_INDEX_BLOCKS,
    LR_DROP_INDEX_BLOCKS,
    LR_CONSTRAINT_SCANS,
    LR_UNIQUE_INDEX,
    LR_SET_NOT_NULL,
    LR_ADD_COLUMN_REWRITES,
    LR_TYPE_CHANGE,
    LR_BREAKING_CHANGE,
    LR_DROP_NOT_NULL,
    LR_DOMAIN_CONSTRAINT,
    LR_TRANSACTION,
    LR_ENUM_POSITION,
    LR_REINDEX,
    LR_DETACH_PARTITION,
    LR_TABLE_REWRITE,
    LR_TRUNCATE,
    LR_DROP_DATABASE,
    LR_DUPLICATE_ASSIGNMENT,
    LR_UNQUALIFIED_TABLE,
    LR_REFUSED,
    LR_PLAN_ERROR,
    LR_ALLOW_UNKNOWN,
    LR_ALLOW_UNUSED,
    LR_COUNT
} lint_rule_index_t;

const lint_rule_t *lint_rule_at(lint_rule_index_t i);

/* Line and column (in characters) of byte offsets into text, walking forward from the last
 * answer: in-order lookups over a whole file are linear. Zero it, then set text. */
typedef struct {
    const char *text;
    size_t off;
    int line, col;
} lint_cursor_t;
void lint_cursor_pos(lint_cursor_t *c, size_t off, int *line, int *col);
/* The list entry ("usr=user") for the abbreviation word[0..n), or NULL. */
const char *lint_config_abbrev(const lint_config_t *c, const char *word, size_t n);
/* True when word[0..len) is one of v. */
bool lint_word_in(char *const *v, size_t n, const char *word, size_t len);

#endif

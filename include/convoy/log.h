/* log.h: level-gated logging to stderr with file:line and a context prefix. */
#ifndef CONVOY_LOG_H
#define CONVOY_LOG_H

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level_t;

void log_set_level(log_level_t level);
log_level_t log_get_level(void);
/* Context printed on every line, e.g. "migration=add_last_login step=3". */
void log_set_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_emit(log_level_t level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_debug(...) log_emit(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...)  log_emit(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...)  log_emit(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_error(...) log_emit(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)

#endif

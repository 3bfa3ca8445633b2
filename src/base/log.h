/* Structured log lines on stderr: "ts level msg key=value ...". */
#ifndef PX_BASE_LOG_H
#define PX_BASE_LOG_H

typedef enum px_log_level { PX_LOG_DEBUG, PX_LOG_INFO, PX_LOG_WARN, PX_LOG_ERROR } px_log_level;

void px_log(px_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

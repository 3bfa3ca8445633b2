#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>

#include "base/timeutil.h"

static const px_log_level min_level = PX_LOG_INFO;

void px_log(px_log_level lvl, const char *fmt, ...) {
  static const char *names[] = {"debug", "info", "warn", "error"};
  if (lvl < min_level) return;
  char ts[32], line[1024];
  px_time_format_iso(px_time_now_ms(), ts);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s level=%s %s\n", ts, names[lvl], line);
}

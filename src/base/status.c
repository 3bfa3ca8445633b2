#include "base/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *px_status_str(px_status s) {
  switch (s) {
#define PX_STATUS_CASE(name, num, text) case PX_##name: return text;
    PX_STATUS_MAP(PX_STATUS_CASE)
#undef PX_STATUS_CASE
  }
  return "unknown status";
}

void px_error_clear(px_error *err) {
  if (!err) return;
  err->field[0] = 0;
  err->reason[0] = 0;
  err->offset = -1;
}

px_status px_error_set(px_error *err, px_status s, const char *field, const char *fmt, ...) {
  if (!err) return s;
  snprintf(err->field, sizeof err->field, "%s", field ? field : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->reason, sizeof err->reason, fmt, ap);
  va_end(ap);
  return s;
}

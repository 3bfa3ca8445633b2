/* A compact JSON serializer for cJSON trees. cJSON_PrintUnformatted formats
 * every number with snprintf and checks it back with sscanf; events are full
 * of integers, which this prints directly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/event.h"

static px_status write_number(double d, px_buf *out) {
  if (!isfinite(d)) return PX_INVALID; /* JSON has no infinities or NaN */
  char num[32];
  int n;
  if (d == floor(d) && fabs(d) < 1e15) {
    long long v = (long long)d;
    char tmp[24];
    int k = 0;
    unsigned long long u = v < 0 ? (unsigned long long)(-v) : (unsigned long long)v;
    do tmp[k++] = (char)('0' + u % 10); while (u /= 10);
    n = 0;
    if (v < 0) num[n++] = '-';
    while (k) num[n++] = tmp[--k];
  } else {
    /* Shortest of 15 or 17 significant digits that reads back exactly. */
    n = snprintf(num, sizeof num, "%.15g", d);
    if (strtod(num, NULL) != d) n = snprintf(num, sizeof num, "%.17g", d);
  }
  return px_buf_append(out, num, (size_t)n);
}

px_status px_json_write(const cJSON *node, px_buf *out) {
  px_status s = PX_OK;
  int object = 0;
  switch (node->type & 0xff) {
    case cJSON_String: return px_buf_json_str(out, node->valuestring, strlen(node->valuestring));
    case cJSON_Number: return write_number(node->valuedouble, out);
    case cJSON_True: return px_buf_append(out, "true", 4);
    case cJSON_False: return px_buf_append(out, "false", 5);
    case cJSON_Raw: return px_buf_puts(out, node->valuestring ? node->valuestring : "null");
    case cJSON_Object: object = 1; break;
    case cJSON_Array: break;
    default: return px_buf_append(out, "null", 4);
  }
  if ((s = px_buf_putc(out, object ? '{' : '[')) != PX_OK) return s;
  for (const cJSON *c = node->child; c && s == PX_OK; c = c->next) {
    if (c != node->child && (s = px_buf_putc(out, ',')) != PX_OK) break;
    if (object) {
      if ((s = px_buf_json_str(out, c->string, strlen(c->string))) != PX_OK ||
          (s = px_buf_putc(out, ':')) != PX_OK)
        break;
    }
    s = px_json_write(c, out);
  }
  return s == PX_OK ? px_buf_putc(out, object ? '}' : ']') : s;
}

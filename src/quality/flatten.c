/* Stored events as records for the quality report: a JSON tree's scalars
 * become values of columns named by their paths. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quality/quality.h"

#define MAX_DEPTH 64 /* events are capped at 32 already */

/* A number as the event record writes it: integers exactly, else the
 * shorter of 15 or 17 significant digits that reads back the same. */
static int number_text(double d, char out[40]) {
  if (d == floor(d) && fabs(d) < 1e15) return snprintf(out, 40, "%lld", (long long)d);
  int n = snprintf(out, 40, "%.15g", d);
  if (strtod(out, NULL) != d) n = snprintf(out, 40, "%.17g", d);
  return n;
}

static void add_value(px_quality *q, const px_buf *path, const char *s, size_t n) {
  long col = px_quality_column(q, path->data, path->len);
  if (col >= 0) px_quality_value(q, (size_t)col, s, n);
}

static px_status walk(px_quality *q, px_buf *path, const cJSON *node, int depth) {
  size_t at = path->len;
  px_status s = PX_OK;
  char num[40];
  if (cJSON_IsString(node)) add_value(q, path, node->valuestring, strlen(node->valuestring));
  else if (cJSON_IsNumber(node)) add_value(q, path, num, (size_t)number_text(node->valuedouble, num));
  else if (cJSON_IsTrue(node)) add_value(q, path, "true", 4);
  else if (cJSON_IsFalse(node)) add_value(q, path, "false", 5);
  else if (depth >= MAX_DEPTH) return PX_OK;
  else if (cJSON_IsArray(node)) {
    if ((s = px_buf_puts(path, "[]")) != PX_OK) return s;
    const cJSON *c;
    cJSON_ArrayForEach(c, node) if ((s = walk(q, path, c, depth + 1)) != PX_OK) break;
  } else if (cJSON_IsObject(node)) {
    const cJSON *c;
    cJSON_ArrayForEach(c, node) {
      path->len = at;
      if ((s = px_buf_putc(path, '.')) != PX_OK || (s = px_buf_puts(path, c->string ? c->string : "")) != PX_OK ||
          (s = walk(q, path, c, depth + 1)) != PX_OK)
        break;
    }
  }
  path->len = at;
  if (path->data) path->data[at] = 0;
  return s;
}

px_status px_quality_add_json(px_quality *q, const char *prefix, const cJSON *node) {
  if (!node) return PX_OK;
  px_buf path;
  px_buf_init(&path, 0);
  px_status s = px_buf_puts(&path, prefix);
  if (s == PX_OK) s = walk(q, &path, node, 0);
  px_buf_free(&path);
  return s;
}

/* Fuzz target: the mapping loader, then rows through a loaded mapping.
 * The input is a mapping; its own column names become the file's header,
 * and the row's values are slices of the input, as a CSV record and as a
 * JSON-lines object. Checks: a mapping that loads binds to its own columns,
 * and every row it accepts is valid JSON. */
#include <cjson/cJSON.h>

#include "base/utf8.h"
#include "event/event.h"
#include "fuzz_common.h"
#include "mapping/mapping.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_copy(data, size, 0);
  px_mapping *m = malloc(sizeof *m);
  px_error err;
  if (!m) abort();
  if (px_mapping_parse(text, size, m, &err) == PX_OK) {
    px_csv_field cols[PX_MAPPING_MAX_FIELDS], vals[PX_MAPPING_MAX_FIELDS];
    for (int i = 0; i < m->nfields; i++) {
      cols[i] = (px_csv_field){m->fields[i].column, strlen(m->fields[i].column)};
      size_t at = size ? (size_t)i * 7 % size : 0, n = size - at < 12 ? size - at : 12;
      vals[i] = (px_csv_field){text + at, n};
    }
    FUZZ_CHECK(px_mapping_bind(m, cols, (size_t)m->nfields, &err) == PX_OK, "does not bind to its own columns: %s",
               err.reason);
    px_buf out;
    px_buf_init(&out, 0);
    if (px_mapping_row(m, vals, (size_t)m->nfields, &out, &err) == PX_OK) {
      cJSON *j = px_json_parse(out.data, out.len, NULL);
      FUZZ_CHECK(j != NULL || px_utf8_invalid_at(out.data, out.len) >= 0, "row is not JSON: %s", out.data);
      cJSON_Delete(j);
    }
    /* The same values as a JSON object (columns as member names). */
    cJSON *obj = cJSON_CreateObject();
    px_buf text;
    px_buf_init(&text, 0);
    for (int i = 0; i < m->nfields && obj; i++) {
      char *v = fuzz_copy((const uint8_t *)vals[i].s, vals[i].n, 1);
      cJSON_AddStringToObject(obj, m->fields[i].column, v);
      free(v);
    }
    if (obj && px_mapping_json_record(m, obj, vals, &text, &err) == PX_OK) {
      px_buf_reset(&out);
      if (px_mapping_row(m, vals, (size_t)m->nfields, &out, &err) == PX_OK) {
        cJSON *j = px_json_parse(out.data, out.len, NULL);
        FUZZ_CHECK(j != NULL || px_utf8_invalid_at(out.data, out.len) >= 0, "JSON record's row is not JSON: %s",
                   out.data);
        cJSON_Delete(j);
      }
    }
    cJSON_Delete(obj);
    px_buf_free(&text);
    px_buf_free(&out);
  }
  free(m);
  free(text);
  return 0;
}

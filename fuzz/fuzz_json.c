/* Fuzz target: px_json_parse, the parser every event goes through.
 * Differential against cJSON: whatever it accepts, cJSON accepts too (it is
 * the more lenient), into the same tree; its output re-parses to itself; the
 * stop offset lies within the input. */
#include <cjson/cJSON.h>

#include "event/event.h"
#include "fuzz_common.h"

static char *compact(const cJSON *j) {
  px_buf b;
  px_buf_init(&b, 0);
  if (px_json_write(j, &b) != PX_OK) { /* only non-finite numbers cannot be written */
    px_buf_free(&b);
    return NULL;
  }
  return b.data ? b.data : calloc(1, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = fuzz_copy(data, size, 0);
  size_t stop = 0;
  cJSON *ours = px_json_parse(s, size, &stop);
  FUZZ_CHECK(stop <= size, "stop %zu past the end %zu", stop, size);
  if (ours) {
    FUZZ_CHECK(stop == size, "accepted but stopped at %zu of %zu", stop, size);
    char *a = compact(ours);
    if (a && !memchr(s, 0, size)) {
      cJSON *ref = cJSON_ParseWithLength(s, size);
      FUZZ_CHECK(ref != NULL, "cJSON rejects what px_json_parse accepted");
      char *b = compact(ref);
      FUZZ_CHECK(b && strcmp(a, b) == 0, "trees differ: %s vs %s", a, b ? b : "(unwritable)");
      free(b);
      cJSON_Delete(ref);
      cJSON *again = px_json_parse(a, strlen(a), NULL);
      FUZZ_CHECK(again != NULL, "its own output does not re-parse: %s", a);
      char *c = compact(again);
      FUZZ_CHECK(c && strcmp(a, c) == 0, "round trip changed %s into %s", a, c ? c : "");
      free(c);
      cJSON_Delete(again);
    }
    free(a);
    cJSON_Delete(ours);
  }
  free(s);
  return 0;
}

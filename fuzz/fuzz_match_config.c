/* Fuzz target: the matching configuration parser (pickaxe resolve --config,
 * pickaxe link --config), then a small linkage with what it accepts.
 * Checks: an accepted configuration is consistent (indices in range, at
 * most 8 levels a field, groups of two or more fields, a field in one group
 * at most), writes JSON that reads back to the same JSON,
 * and links four records made of slices of the input without breaking the
 * result's invariants. */
#include "fuzz_common.h"
#include "match/config.h"
#include "match/link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_copy(data, size, 0);
  px_match_config *c = malloc(sizeof *c), *again = malloc(sizeof *again);
  px_error err;
  if (!c || !again) abort();
  if (px_match_config_parse(text, size, c, &err) == PX_OK) {
    FUZZ_CHECK(c->nfields >= 1 && c->nfields <= PX_EM_MAX_FIELDS, "%d fields", c->nfields);
    for (int f = 0; f < c->nfields; f++) {
      FUZZ_CHECK(px_match_field_levels(&c->fields[f]) <= PX_EM_MAX_LEVELS, "field %d: too many levels", f);
      FUZZ_CHECK(c->fields[f].swap_with < c->nfields && c->fields[f].swap_with != f, "field %d: swap_with", f);
    }
    int grouped[PX_EM_MAX_FIELDS] = {0};
    for (int g = 0; g < c->ngroups; g++) {
      FUZZ_CHECK(c->groups[g].nmembers >= 2, "group %d: fewer than two members", g);
      for (int k = 0; k < c->groups[g].nmembers; k++) {
        int f = c->groups[g].member[k];
        FUZZ_CHECK(f >= 0 && f < c->nfields, "group %d: member %d out of range", g, k);
        FUZZ_CHECK(!grouped[f]++, "field %d in two groups", f);
      }
    }
    for (int r = 0; r < c->nrules; r++)
      for (int p = 0; p < c->rules[r].nparts; p++)
        FUZZ_CHECK(c->rules[r].field[p] >= 0 && c->rules[r].field[p] < c->nfields, "rule %d: field", r);
    px_buf a, b;
    px_buf_init(&a, 0);
    px_buf_init(&b, 0);
    FUZZ_CHECK(px_match_config_json(c, &a) == PX_OK, "cannot write");
    FUZZ_CHECK(px_match_config_parse(a.data, a.len, again, &err) == PX_OK, "own JSON rejected: %s: %s\n%s", err.field,
               err.reason, a.data);
    FUZZ_CHECK(px_match_config_json(again, &b) == PX_OK && a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
               "JSON does not read back the same:\n%s\n%s", a.data, b.data);
    px_buf_free(&a);
    px_buf_free(&b);
    if (c->nrules) {
      enum { N = 4 };
      const char **vals = malloc(N * (size_t)c->nfields * sizeof *vals);
      char *slices = malloc(N * (size_t)c->nfields * 9);
      if (!vals || !slices) abort();
      for (size_t k = 0; k < N * (size_t)c->nfields; k++) {
        size_t at = size ? k * 13 % size : 0, n = size - at < 8 ? size - at : 8;
        memcpy(slices + k * 9, text + at, n);
        slices[k * 9 + n] = 0;
        vals[k] = k % 3 == 2 ? vals[k - 1] : slices + k * 9; /* some equal values, so pairs form */
      }
      c->u_samples = 1000;
      c->threads = 1;
      px_link_result r;
      if (px_link_run(c, vals, N, &r) == PX_OK) {
        FUZZ_CHECK(r.npairs <= r.pairs_compared && r.pairs_compared <= N * (N - 1) / 2, "pairs");
        FUZZ_CHECK(r.clusters.clusters >= 1 && r.clusters.clusters <= N, "clusters");
        px_buf e;
        px_buf_init(&e, 0);
        for (size_t k = 0; k < r.npairs; k++) {
          FUZZ_CHECK(r.a[k] < r.b[k] && r.b[k] < N, "pair %zu", k);
          FUZZ_CHECK(r.probability[k] >= c->threshold - 1e-9, "pair %zu under the threshold", k);
          FUZZ_CHECK(px_link_explain(c, &r, k, &e) == PX_OK, "explain");
        }
        px_buf_free(&e);
        px_link_free(&r);
      }
      free(vals);
      free(slices);
    }
  }
  free(c);
  free(again);
  free(text);
  return 0;
}

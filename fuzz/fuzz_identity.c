/* Fuzz target: identifier normalization and configuration parsing.
 *
 * The input is (1) normalized as a value of every kind of the default
 * configuration and of a configuration with default country code 44, and
 * (2) parsed as a JSON configuration. Checks: outputs fit and are
 * NUL-terminated, normalization is idempotent, and a parsed configuration
 * survives px_config_to_json -> px_config_parse. */
#include <cjson/cJSON.h>

#include "config/config.h"
#include "fuzz_common.h"
#include "identity/identity.h"

static px_config def, uk;
static int ready;

static void normalize_all(const px_config *c, const char *in) {
  for (int k = 0; k < c->nkinds; k++) {
    const px_kind *kind = &c->kinds[k];
    char out[PX_IDENT_VALUE_MAX + 1];
    memset(out, 0x5a, sizeof out);
    px_status s = px_identity_normalize(c, kind, in, out);
    FUZZ_CHECK(s == PX_OK || s == PX_INVALID || s == PX_BLOCKED, "kind %s: status %s", kind->name,
               px_status_str(s));
    if (s != PX_OK) continue;
    size_t n = strnlen(out, sizeof out);
    FUZZ_CHECK(n < sizeof out, "kind %s: output not terminated", kind->name);
    FUZZ_CHECK(n > 0, "kind %s: empty identifier accepted", kind->name);
    if (kind->norm == PX_NORM_PHONE) {
      FUZZ_CHECK(out[0] == '+' && n >= 8 && n <= 16, "phone \"%s\"", out);
      for (size_t i = 1; i < n; i++) FUZZ_CHECK(out[i] >= '0' && out[i] <= '9', "phone \"%s\"", out);
    }
    if (kind->norm == PX_NORM_EMAIL) FUZZ_CHECK(strchr(out, '@') != NULL, "email \"%s\"", out);
    /* Normalizing a normalized value changes nothing. */
    char again[PX_IDENT_VALUE_MAX + 1];
    s = px_identity_normalize(c, kind, out, again);
    FUZZ_CHECK(s == PX_OK, "kind %s: \"%s\" -> \"%s\" does not normalize again (%s)", kind->name, in, out,
               px_status_str(s));
    FUZZ_CHECK(strcmp(out, again) == 0, "kind %s: \"%s\" -> \"%s\" -> \"%s\"", kind->name, in, out, again);
  }
}

static void config_round_trip(const char *json, size_t n) {
  px_config c;
  px_error err;
  px_error_clear(&err);
  px_status s = px_config_parse(json, n, &c, &err);
  FUZZ_CHECK(s == PX_OK || s == PX_BAD_JSON || s == PX_INVALID, "status %s", px_status_str(s));
  FUZZ_CHECK(c.nkinds >= 4 && c.nkinds <= PX_MAX_KINDS, "%d kinds", c.nkinds);
  FUZZ_CHECK(c.nblocked >= 0 && c.nblocked <= PX_MAX_BLOCKED, "%d blocked values", c.nblocked);
  if (s != PX_OK) {
    FUZZ_CHECK(err.reason[0], "error without a reason");
    px_config_free(&c);
    return;
  }
  FUZZ_CHECK(strcmp(c.kinds[c.nkinds - 1].name, "anonymous_id") == 0, "anonymous_id is not last");
  char *text = px_config_to_json(&c);
  FUZZ_CHECK(text != NULL, "to_json failed");
  px_config d;
  s = px_config_parse(text, strlen(text), &d, &err);
  FUZZ_CHECK(s == PX_OK, "own output does not parse: %s %s %s", px_status_str(s), err.field, err.reason);
  FUZZ_CHECK(c.nkinds == d.nkinds && c.nblocked == d.nblocked && c.ntrait_rules == d.ntrait_rules &&
                 c.default_rule == d.default_rule && strcmp(c.default_country_code, d.default_country_code) == 0,
             "round trip differs");
  for (int i = 0; i < c.nkinds; i++)
    FUZZ_CHECK(strcmp(c.kinds[i].name, d.kinds[i].name) == 0 && c.kinds[i].norm == d.kinds[i].norm &&
                   c.kinds[i].max_per_profile == d.kinds[i].max_per_profile && c.kinds[i].npaths == d.kinds[i].npaths,
               "kind %d differs after round trip", i);
  /* Normalizing with the parsed configuration holds the same invariants. */
  normalize_all(&c, "  Someone@Example.com ");
  normalize_all(&c, "+44 (20) 7946-0958");
  free(text);
  px_config_free(&c);
  px_config_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!ready) {
    px_config_default(&def);
    const char *j = "{\"identity\":{\"default_country_code\":\"44\"}}";
    px_config_parse(j, strlen(j), &uk, NULL);
    ready = 1;
  }
  char *s = fuzz_copy(data, size, 1); /* identifiers arrive as C strings */
  normalize_all(&def, s);
  normalize_all(&uk, s);
  free(s);
  char *json = fuzz_copy(data, size, 0);
  config_round_trip(json, size);
  free(json);
  return 0;
}

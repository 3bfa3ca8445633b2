#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "event/arena.h"
#include "ingest/pipeline.h"


static const char usage[] =
    "pickaxe: customer data platform\n"
    "\n"
    "usage: pickaxe COMMAND [options]      (pickaxe COMMAND --help for details)\n"
    "\n"
    "commands:\n"
    "  serve            run the HTTP API and the pipeline on a data directory\n"
    "  source add|list  manage sources and their write keys\n"
    "  token create     create an admin token for the read API\n"
    "  import FILE      bulk-load Segment-shaped JSON lines, or a CSV through --mapping FILE|NAME\n"
    "  quality FILE     the data quality of a CSV export or a stored source, column by column\n"
    "  resolve FILE     find the records that are the same person (probabilistic matching)\n"
    "  link             link stored profiles that are the same person (probabilistic merges)\n"
    "  rule check RULE  check a rule (segments, offers) and print it back, or say what is wrong\n"
    "  segment ...      create, list, count, members, delete segments (real-time audiences)\n"
    "  apply FILE.json  apply declared computed traits, segments, mappings, RFM, CLV, engagement, journeys\n"
    "  mapping ...      list, show the mappings apply stored (import, quality: --mapping NAME)\n"
    "  rfm refresh|show score every customer by RFM now, or show the last refresh\n"
    "  clv fit|predict|validate  customer value models (BG/NBD, Gamma-Gamma) on a purchases file\n"
    "  clv refresh|show|models   the same fitted on the stored purchases, scored on every customer\n"
    "  journey ...      journey stage models: define (presets retail, business), funnel, of REF\n"
    "  discover         find groups of similar customers (k-means); save one as a segment\n"
    "  recommend eval|train|similar|user  item-to-item recommendations on an interactions file\n"
    "  product ...      the product catalog: get, put (JSON or JSON lines), set-stock, delete, list\n"
    "  profile get REF  print a profile with its segments and computed traits (REF: id or kind:value)\n"
    "  export profiles  print every live profile as JSON lines\n"
    "  rebuild          rebuild all profiles by replaying the event log\n"
    "  config set|get   store or show the configuration (identity rules, survivorship)\n"
    "\n"
    "Every command that uses stored data takes --data DIR (default " PX_DEFAULT_DATA ")\n"
    "and works whether or not a server is running on that directory.\n";

int px_cli_is_help(const char *a) { return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0; }

int px_cli_fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("pickaxe: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return code;
}

int px_cli_opt(int argc, char **argv, int *i, const char *opt, const char **val) {
  size_t n = strlen(opt);
  if (strncmp(argv[*i], opt, n) != 0) return 0;
  if (argv[*i][n] == '=') {
    *val = argv[*i] + n + 1;
    return 1;
  }
  if (argv[*i][n] != 0) return 0;
  if (*i + 1 >= argc) exit(px_cli_fail(PX_EXIT_USAGE, "%s needs a value", opt));
  *val = argv[++*i];
  return 1;
}

static uint64_t bytes_from_env(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v) return 0;
  char *end;
  unsigned long long n = strtoull(v, &end, 10);
  switch (*end) {
    case 'G': case 'g': n <<= 30; break;
    case 'M': case 'm': n <<= 20; break;
    case 'K': case 'k': n <<= 10; break;
    case 'T': case 't': n <<= 40; break;
    default: break;
  }
  return n;
}

uint64_t px_cli_min_free(void) { return bytes_from_env("PICKAXE_MIN_FREE"); }

px_store *px_cli_open(const char *dir) {
  px_store *st;
  /* PICKAXE_MAP_SIZE: address space reserved for each environment, e.g. "4G". */
  px_store_opts opts = {.map_size = (size_t)bytes_from_env("PICKAXE_MAP_SIZE")};
  /* PICKAXE_PREFAULT=0: no thread faulting the state's new pages in ahead of the writer. */
  const char *pf = getenv("PICKAXE_PREFAULT");
  opts.no_prefault = pf && strcmp(pf, "0") == 0;
  px_status s = px_store_open(dir, &opts, &st);
  if (s != PX_OK) {
    px_cli_fail(PX_EXIT_FAIL, "cannot open data directory %s: %s", dir, px_status_str(s));
    return NULL;
  }
  /* After a crash or a reboot the state may be behind the log: bring it up
   * to date before any command reads it (nothing to do otherwise). */
  px_error err;
  px_error_clear(&err);
  if ((s = px_pipeline_catch_up_all(st, NULL, NULL, &err)) != PX_OK) {
    px_cli_fail(PX_EXIT_FAIL, "cannot bring %s up to date with its event log: %s %s", dir, px_status_str(s),
                err.reason);
    px_store_close(st);
    return NULL;
  }
  return st;
}

char *px_cli_read_file(const char *path, size_t max, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    px_cli_fail(PX_EXIT_FAIL, "cannot open %s", path);
    return NULL;
  }
  char *buf = malloc(max + 1);
  *n = buf ? fread(buf, 1, max + 1, f) : 0;
  fclose(f);
  if (!buf || *n > max) {
    free(buf);
    px_cli_fail(PX_EXIT_FAIL, "%s is larger than %zu bytes", path, max);
    return NULL;
  }
  buf[*n] = 0;
  return buf;
}

int main(int argc, char **argv) {
  px_arena_install(); /* request and import JSON trees come from arenas */
  /* Memory freed at the end of a transaction is wanted again by the next:
   * keep it instead of returning it to the kernel each time (the default
   * trims the heap with madvise, and every trim flushes the TLB of every
   * core), and keep large buffers on the heap rather than in mappings of
   * their own. */
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  static const struct {
    const char *name;
    int (*fn)(int, char **);
  } cmds[] = {{"serve", px_cmd_serve},     {"source", px_cmd_source},   {"token", px_cmd_token},
              {"import", px_cmd_import},   {"profile", px_cmd_profile}, {"export", px_cmd_export},
              {"rebuild", px_cmd_rebuild}, {"config", px_cmd_config},   {"quality", px_cmd_quality},
              {"resolve", px_cmd_resolve}, {"link", px_cmd_link},
              {"rule", px_cmd_rule},
              {"discover", px_cmd_discover},
              {"segment", px_cmd_segment}, {"apply", px_cmd_apply},
              {"mapping", px_cmd_mapping},
              {"rfm", px_cmd_rfm},
              {"clv", px_cmd_clv},
              {"journey", px_cmd_journey},
              {"recommend", px_cmd_recommend},
              {"product", px_cmd_product}};
  if (argc < 2 || px_cli_is_help(argv[1])) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? PX_EXIT_USAGE : PX_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
    if (strcmp(argv[1], cmds[i].name) == 0) return cmds[i].fn(argc - 1, argv + 1);
  fputs(usage, stderr);
  return px_cli_fail(PX_EXIT_USAGE, "unknown command \"%s\"", argv[1]);
}

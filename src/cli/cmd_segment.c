/* pickaxe segment create|list|count|members|sweep|delete, and pickaxe
 * apply FILE.json (computed traits, segments and mappings declared
 * together). Definitions and their backfill run in one write transaction
 * through the segment engine (src/segment/engine.h), so a running server
 * sees them whole or not at all. Reads first process the changes time has
 * brought (src/segment/sweep.h), so they are current without a server. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/timeutil.h"
#include "cli/cli.h"
#include "compute/compute.h"
#include "identity/identity.h"
#include "mapping/mapping.h"
#include "segment/def.h"
#include "recs/recs.h"
#include "segment/engagement.h"
#include "segment/journey.h"
#include "segment/engine.h"
#include "segment/clv_refresh.h"
#include "segment/members.h"
#include "segment/rfm_refresh.h"
#include "segment/sweep.h"

static const char segment_help[] =
    "usage: pickaxe segment create NAME --rule 'RULE'   define or change a segment (backfills it)\n"
    "       pickaxe segment list [--json]              every segment with its member count\n"
    "       pickaxe segment count NAME [OP NAME]...    members; OP is union, intersect or minus,\n"
    "                                                  applied left to right (audiences)\n"
    "       pickaxe segment members NAME [OP NAME]... [--format csv|jsonl] [--limit N]\n"
    "                                                  member profile ids and identifiers\n"
    "       pickaxe segment sweep [--json]             process the membership changes time has\n"
    "                                                  brought; prints how many profiles\n"
    "       pickaxe segment delete NAME\n"
    "  (each takes --data DIR)\n"
    "\n"
    "Rules are in the rule language (docs/RULES.md; pickaxe rule check). Membership\n"
    "then changes with every event, merge and passing of time, in the same\n"
    "transaction as its cause. Time passes without events too (\"in last 30 days\",\n"
    "\"before 30 days ago\"): a running server processes those changes as they fall\n"
    "due; without one, list, count and members process everything due by now\n"
    "(PICKAXE_NOW sets the clock) before they read, as sweep and import do. Each\n"
    "change is recorded at the instant it fell due, whenever it was processed.\n";

static const char apply_help[] =
    "usage: pickaxe apply FILE.json [--data DIR] [--json]\n"
    "\n"
    "Applies declared definitions: {\"computed_traits\": [{\"name\", \"function\",\n"
    "\"event\", \"property\", \"where\", \"window\"}...], \"segments\": [{\"name\", \"rule\"}...],\n"
    "\"mappings\": {\"NAME\": MAPPING...}, \"rfm\": {\"recency\", \"frequency\", \"monetary\",\n"
    "\"refresh_every\"}, \"clv\": {\"event\", \"revenue\", \"unit\", \"horizon\", \"discount_rate\",\n"
    "\"refresh_every\"}, \"engagement\": {\"events\": {EVENT: {\"weight\", \"half_life\"}...}, \"tiers\"}}\n"
    "(every member optional). Everything is checked first, then applied in one\n"
    "transaction: computed traits, then RFM (its three computed traits must exist or\n"
    "be in the file), then engagement (the computed trait engagement and the segments\n"
    "engagement_high ... engagement_dormant), then CLV, then journeys ({\"NAME\": {\"stages\"\n"
    "or \"preset\"}}: their stage segments), then recommendations ({\"interactions\": [...]}:\n"
    "their computed traits _reco_N; docs/internals/recs.md), then segments in file order (backfilled),\n"
    "then mappings. Unchanged definitions change nothing, so applying a file twice is\n"
    "harmless. Definitions not in the file are kept. RFM and CLV scores are computed by\n"
    "pickaxe rfm refresh and pickaxe clv refresh, or by a running server.\n";

static void progress(void *arg, uint64_t done, uint64_t total) {
  const char *what = arg;
  if (isatty(2)) fprintf(stderr, "\r%s: %llu/%llu profiles", what, (unsigned long long)done, (unsigned long long)total);
  if (isatty(2) && done == total) fputc('\n', stderr);
}

/* Prints a rule error the way rule check does: where, what, the line, a caret. */
static int rule_failure(const char *cmd, const char *name, const char *rule, const px_rule_error *e) {
  if (e->line <= 0) return px_cli_fail(PX_EXIT_USAGE, "%s: segment %s: %s", cmd, name, e->message);
  px_cli_fail(PX_EXIT_USAGE, "%s: segment %s: line %d, column %d: %s", cmd, name, e->line, e->column, e->message);
  const char *p = rule;
  for (int l = 1; l < e->line && p; l++) p = strchr(p, '\n'), p = p ? p + 1 : NULL;
  if (p) {
    int len = (int)strcspn(p, "\n");
    fprintf(stderr, "  %.*s\n  %*s^\n", len, p, e->column - 1, "");
  }
  return PX_EXIT_USAGE;
}

static int parse_data(int argc, char **argv, int *i, const char **data) {
  return px_cli_opt(argc, argv, i, "--data", data);
}

/* ---- create / delete ---- */

static int create(px_store *st, const char *name, const char *rule) {
  if (!px_def_name_ok(name))
    return px_cli_fail(PX_EXIT_USAGE, "segment: bad name \"%s\" (1-127 of A-Z a-z 0-9 _ - .)", name);
  px_txn *txn;
  px_config cfg;
  px_rule_error e = {0};
  px_status s = px_store_begin(st, 1, &txn);
  if (s != PX_OK) return px_cli_fail(PX_EXIT_FAIL, "segment: %s", px_status_str(s));
  if ((s = px_config_load(txn, st, &cfg, NULL)) == PX_OK) {
    s = px_segment_define(txn, st, &cfg, name, rule, px_time_now_ms(), progress, "backfill", &e);
    px_config_free(&cfg);
  }
  uint64_t n = 0;
  px_def d;
  if (s == PX_OK && (s = px_def_get(txn, st, PX_DEF_SEGMENT, name, &d)) == PX_OK) {
    s = px_members_count(txn, st, d.id, &n);
    if (s == PX_OK) s = px_store_commit(txn), txn = NULL;
    if (s == PX_OK) printf("segment %s: version %llu, %llu members\n", name, (unsigned long long)d.version,
                           (unsigned long long)n);
    px_def_free(&d);
  }
  if (txn) px_store_abort(txn);
  if (s == PX_INVALID) return rule_failure("segment", name, rule, &e);
  return s == PX_OK ? PX_EXIT_OK : px_cli_fail(PX_EXIT_FAIL, "segment: %s", px_status_str(s));
}

static int delete(px_store *st, const char *name) {
  px_txn *txn;
  px_config cfg;
  px_status s = px_store_begin(st, 1, &txn);
  if (s != PX_OK) return px_cli_fail(PX_EXIT_FAIL, "segment: %s", px_status_str(s));
  if ((s = px_config_load(txn, st, &cfg, NULL)) == PX_OK) {
    s = px_segment_delete(txn, st, &cfg, name, px_time_now_ms());
    px_config_free(&cfg);
  }
  if (s == PX_OK) s = px_store_commit(txn);
  else px_store_abort(txn);
  if (s == PX_NOT_FOUND) return px_cli_fail(3, "segment: no segment named %s", name);
  return s == PX_OK ? PX_EXIT_OK : px_cli_fail(PX_EXIT_FAIL, "segment: %s", px_status_str(s));
}

/* ---- time passing ---- */

/* Processes every membership change due by now (committed every
 * PX_SWEEP_PER_TXN profiles); *done gets how many profiles. */
static px_status sweep_due(px_store *st, int64_t now, uint64_t *done) {
  px_txn *txn;
  px_config cfg;
  px_sweep_result r = {0, 0};
  px_status s = px_store_begin(st, PX_TXN_READ, &txn);
  if (s != PX_OK) return s;
  s = px_config_load(txn, st, &cfg, NULL);
  px_store_abort(txn);
  if (s != PX_OK) return s;
  s = px_segment_sweep_run(st, &cfg, now, NULL, &r);
  px_config_free(&cfg);
  *done = r.done;
  return s;
}

static int sweep(px_store *st, int json) {
  int64_t now = px_time_now_ms();
  uint64_t done = 0;
  px_status s = sweep_due(st, now, &done);
  if (s != PX_OK) return px_cli_fail(PX_EXIT_FAIL, "segment sweep: %s (%llu profiles processed before)",
                                     px_status_str(s), (unsigned long long)done);
  char at[32];
  px_time_format_iso(now, at);
  if (json) printf("{\"swept\":%llu,\"now\":\"%s\"}\n", (unsigned long long)done, at);
  else printf("swept %llu profiles (changes due by %s)\n", (unsigned long long)done, at);
  return PX_EXIT_OK;
}

/* Before a read: memberships as of now. A failure leaves them as they were
 * (said on stderr); the read goes on. */
static void bring_up_to_date(px_store *st) {
  uint64_t done = 0;
  px_status s = sweep_due(st, px_time_now_ms(), &done);
  if (s != PX_OK)
    fprintf(stderr, "pickaxe: segment: memberships may lag the clock (time passing not processed: %s)\n",
            px_status_str(s));
}

/* ---- reading ---- */

static int list(px_store *st, int json) {
  px_txn *txn;
  px_def *defs = NULL;
  size_t n = 0;
  px_status s = px_store_begin(st, 0, &txn);
  if (s == PX_OK) s = px_def_list(txn, st, PX_DEF_SEGMENT, &defs, &n);
  px_buf out;
  px_buf_init(&out, 0);
  if (json) px_buf_puts(&out, "{\"segments\":[");
  for (size_t i = 0; i < n && s == PX_OK; i++) {
    uint64_t count = 0;
    s = px_members_count(txn, st, defs[i].id, &count);
    cJSON *body = cJSON_Parse(defs[i].body);
    const char *rule = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "rule"));
    if (json) {
      px_buf_printf(&out, "%s{\"name\":", i ? "," : "");
      px_buf_json_str(&out, defs[i].name, strlen(defs[i].name));
      px_buf_printf(&out, ",\"id\":%u,\"version\":%llu,\"count\":%llu,\"rule\":", defs[i].id,
                    (unsigned long long)defs[i].version, (unsigned long long)count);
      px_buf_json_str(&out, rule ? rule : "", rule ? strlen(rule) : 0);
      px_buf_puts(&out, "}");
    } else {
      px_buf_printf(&out, "%-24s %10llu  %s\n", defs[i].name, (unsigned long long)count, rule ? rule : "");
    }
    cJSON_Delete(body);
  }
  if (json) px_buf_puts(&out, "]}\n");
  if (txn) px_store_abort(txn);
  for (size_t i = 0; i < n; i++) px_def_free(&defs[i]);
  free(defs);
  if (s == PX_OK && out.data) fputs(out.data, stdout);
  px_buf_free(&out);
  return s == PX_OK ? PX_EXIT_OK : px_cli_fail(PX_EXIT_FAIL, "segment: %s", px_status_str(s));
}

/* An audience: NAME [OP NAME]... resolved to segment ids and operations. */
typedef struct audience {
  uint32_t segs[32];
  px_set_op ops[31];
  int n;
} audience;

static int parse_audience(px_txn *txn, const px_store *st, char **words, int nwords, audience *a) {
  a->n = 0;
  for (int w = 0; w < nwords; w++) {
    if (w % 2) {
      const char *op = words[w];
      if (!strcmp(op, "union")) a->ops[a->n - 1] = PX_SET_UNION;
      else if (!strcmp(op, "intersect")) a->ops[a->n - 1] = PX_SET_INTERSECT;
      else if (!strcmp(op, "minus")) a->ops[a->n - 1] = PX_SET_MINUS;
      else return px_cli_fail(PX_EXIT_USAGE, "segment: \"%s\" is not union, intersect or minus", op);
      continue;
    }
    if (a->n == 32) return px_cli_fail(PX_EXIT_USAGE, "segment: at most 32 segments in an audience");
    px_def d;
    px_status s = px_def_get(txn, st, PX_DEF_SEGMENT, words[w], &d);
    if (s == PX_NOT_FOUND) return px_cli_fail(3, "segment: no segment named %s", words[w]);
    if (s != PX_OK) return px_cli_fail(PX_EXIT_FAIL, "segment: %s", px_status_str(s));
    a->segs[a->n++] = d.id;
    px_def_free(&d);
  }
  if (!a->n || nwords % 2 == 0) return px_cli_fail(PX_EXIT_USAGE, "segment: an audience is NAME [OP NAME]...");
  return PX_EXIT_OK;
}

typedef struct printing {
  px_txn *txn;
  const px_store *st;
  int jsonl;
  uint64_t left; /* 0: no limit */
  int limited;
  px_buf line;
} printing;

typedef struct idents {
  px_buf *b;
  int jsonl, n;
} idents;

static int add_ident(void *arg, const char *kind, const char *value, int64_t first_seen, uint32_t source_id) {
  (void)first_seen, (void)source_id;
  idents *id = arg;
  if (id->jsonl) {
    px_buf_puts(id->b, id->n++ ? ",{\"kind\":" : "{\"kind\":");
    px_buf_json_str(id->b, kind, strlen(kind));
    px_buf_puts(id->b, ",\"value\":");
    px_buf_json_str(id->b, value, strlen(value));
    px_buf_puts(id->b, "}");
  } else {
    px_buf_printf(id->b, "%s%s:%s", id->n++ ? ";" : "", kind, value);
  }
  return 0;
}

static int print_members(void *arg, const uint64_t *pids, size_t n) {
  printing *p = arg;
  for (size_t i = 0; i < n; i++) {
    if (p->limited && !p->left--) return 1;
    char id[17];
    px_profile_id_format(pids[i], id);
    px_buf_reset(&p->line);
    idents ids = {&p->line, p->jsonl, 0};
    px_buf_printf(&p->line, p->jsonl ? "{\"id\":\"%s\",\"identifiers\":[" : "%s,\"", id);
    px_identity_each(p->txn, p->st, pids[i], add_ident, &ids);
    px_buf_puts(&p->line, p->jsonl ? "]}\n" : "\"\n"); /* ids hold no quotes: identifier values are normalized */
    fputs(p->line.data, stdout);
  }
  return 0;
}

static int read_audience(px_store *st, char **words, int nwords, int members, int jsonl, long limit) {
  px_txn *txn;
  px_status s = px_store_begin(st, 0, &txn);
  if (s != PX_OK) return px_cli_fail(PX_EXIT_FAIL, "segment: %s", px_status_str(s));
  audience a;
  int rc = parse_audience(txn, st, words, nwords, &a);
  if (rc == PX_EXIT_OK) {
    uint64_t count;
    printing p = {txn, st, jsonl, limit > 0 ? (uint64_t)limit : 0, limit > 0, {0}};
    px_buf_init(&p.line, 0);
    if (members && !jsonl) puts("profile_id,identifiers");
    if (a.n == 1 && !members) s = px_members_count(txn, st, a.segs[0], &count); /* one read */
    else s = px_members_combine(txn, st, a.segs, a.ops, a.n, members ? print_members : NULL, &p, &count);
    px_buf_free(&p.line);
    if (s == PX_OK && !members) printf("%llu\n", (unsigned long long)count);
    rc = s == PX_OK ? PX_EXIT_OK : px_cli_fail(PX_EXIT_FAIL, "segment: %s", px_status_str(s));
  }
  px_store_abort(txn);
  return rc;
}

int px_cmd_segment(int argc, char **argv) {
  const char *data = PX_DEFAULT_DATA, *rule = NULL, *format = "csv", *limit_arg = NULL;
  char *words[64];
  int nwords = 0, json = 0;
  for (int i = 1; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(segment_help, stdout), PX_EXIT_OK;
    if (parse_data(argc, argv, &i, &data) || px_cli_opt(argc, argv, &i, "--rule", &rule) ||
        px_cli_opt(argc, argv, &i, "--format", &format) || px_cli_opt(argc, argv, &i, "--limit", &limit_arg))
      continue;
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (argv[i][0] == '-' && argv[i][1]) return px_cli_fail(PX_EXIT_USAGE, "segment: unknown option %s", argv[i]);
    else if (nwords < 64) words[nwords++] = argv[i];
    else return px_cli_fail(PX_EXIT_USAGE, "segment: too many arguments");
  }
  if (!nwords) return fputs(segment_help, stderr), PX_EXIT_USAGE;
  const char *cmd = words[0];
  long limit = 0;
  if (limit_arg) {
    char *end;
    limit = strtol(limit_arg, &end, 10);
    if (*end || limit <= 0) return px_cli_fail(PX_EXIT_USAGE, "segment: --limit needs a positive number");
  }
  if (strcmp(format, "csv") && strcmp(format, "jsonl"))
    return px_cli_fail(PX_EXIT_USAGE, "segment: --format is csv or jsonl");
  int rc;
  if (!strcmp(cmd, "create")) {
    if (nwords != 2 || !rule) return px_cli_fail(PX_EXIT_USAGE, "segment create NAME --rule 'RULE'");
  } else if (!strcmp(cmd, "delete")) {
    if (nwords != 2) return px_cli_fail(PX_EXIT_USAGE, "segment delete NAME");
  } else if (!strcmp(cmd, "list") || !strcmp(cmd, "sweep")) {
    if (nwords != 1) return px_cli_fail(PX_EXIT_USAGE, "segment %s takes no names", cmd);
  } else if (strcmp(cmd, "count") && strcmp(cmd, "members")) {
    return fputs(segment_help, stderr), px_cli_fail(PX_EXIT_USAGE, "segment: unknown command %s", cmd);
  } else if (nwords < 2) {
    return px_cli_fail(PX_EXIT_USAGE, "segment %s NAME [OP NAME]...", cmd);
  }
  px_store *st = px_cli_open(data);
  if (!st) return PX_EXIT_FAIL;
  if (!strcmp(cmd, "create")) rc = create(st, words[1], rule);
  else if (!strcmp(cmd, "delete")) rc = delete(st, words[1]);
  else if (!strcmp(cmd, "sweep")) rc = sweep(st, json);
  else {
    bring_up_to_date(st); /* list, count, members: as of now */
    if (!strcmp(cmd, "list")) rc = list(st, json);
    else rc = read_audience(st, words + 1, nwords - 1, !strcmp(cmd, "members"), !strcmp(format, "jsonl"), limit);
  }
  px_store_close(st);
  return rc;
}

/* ---- apply ---- */

/* Checks every definition of the file before anything is applied. */
static int check_file(const cJSON *root, const char *path) {
  if (!cJSON_IsObject(root)) return px_cli_fail(PX_EXIT_USAGE, "apply: %s: not a JSON object", path);
  const cJSON *c;
  cJSON_ArrayForEach(c, root) {
    if (strcmp(c->string, "computed_traits") && strcmp(c->string, "segments") && strcmp(c->string, "mappings") &&
        strcmp(c->string, "rfm") && strcmp(c->string, "clv") && strcmp(c->string, "engagement") &&
        strcmp(c->string, "journeys") && strcmp(c->string, "recommendations"))
      return px_cli_fail(PX_EXIT_USAGE,
                         "apply: %s: unknown member \"%s\" (computed_traits, segments, mappings, rfm, clv, engagement, "
                         "journeys, recommendations)",
                         path, c->string);
  }
  const cJSON *rfm = cJSON_GetObjectItemCaseSensitive(root, "rfm");
  px_rfm_def rd;
  px_error rerr;
  px_error_clear(&rerr);
  if (rfm && px_rfm_def_parse(rfm, &rd, &rerr) != PX_OK)
    return px_cli_fail(PX_EXIT_USAGE, "apply: %s: %s: %s", path, rerr.field, rerr.reason);
  const cJSON *clv = cJSON_GetObjectItemCaseSensitive(root, "clv");
  px_clv_def cd;
  if (clv && px_clv_def_parse(clv, &cd, &rerr) != PX_OK)
    return px_cli_fail(PX_EXIT_USAGE, "apply: %s: %s: %s", path, rerr.field, rerr.reason);
  const cJSON *eng = cJSON_GetObjectItemCaseSensitive(root, "engagement");
  if (eng && px_engagement_check(eng, &rerr) != PX_OK)
    return px_cli_fail(PX_EXIT_USAGE, "apply: %s: %s: %s", path, rerr.field, rerr.reason);
  const cJSON *recs = cJSON_GetObjectItemCaseSensitive(root, "recommendations");
  px_recs_def red;
  if (recs && px_recs_def_parse(recs, &red, &rerr) != PX_OK)
    return px_cli_fail(PX_EXIT_USAGE, "apply: %s: %s: %s", path, rerr.field, rerr.reason);
  if (recs) px_recs_def_free(&red);
  const cJSON *journeys = cJSON_GetObjectItemCaseSensitive(root, "journeys");
  if (journeys && !cJSON_IsObject(journeys))
    return px_cli_fail(PX_EXIT_USAGE, "apply: %s: journeys: must be an object {\"NAME\": {\"stages\" or \"preset\"}}",
                       path);
  cJSON_ArrayForEach(c, journeys) {
    if (px_journey_check(c->string, c, &rerr) != PX_OK)
      return px_cli_fail(PX_EXIT_USAGE, "apply: %s: journeys.%s: %s: %s", path, c->string, rerr.field, rerr.reason);
  }
  int i = 0;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "computed_traits")) {
    px_ctrait t;
    px_error err;
    px_error_clear(&err);
    if (px_ctrait_parse(c, &t, &err) != PX_OK)
      return px_cli_fail(PX_EXIT_USAGE, "apply: %s: computed_traits[%d].%s: %s", path, i, err.field, err.reason);
    px_ctrait_free(&t);
    i++;
  }
  i = 0;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "segments")) {
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
    const char *rule = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "rule"));
    if (!name || !px_def_name_ok(name)) return px_cli_fail(PX_EXIT_USAGE, "apply: %s: segments[%d].name: missing or not a usable name", path, i);
    if (!rule) return px_cli_fail(PX_EXIT_USAGE, "apply: %s: segments[%d].rule: missing", path, i);
    i++;
  }
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "mappings")) {
    char *text = cJSON_PrintUnformatted(c);
    px_mapping *m = malloc(sizeof *m);
    px_error err;
    px_error_clear(&err);
    px_status s = text && m ? px_mapping_parse(text, strlen(text), m, &err) : PX_NOMEM;
    cJSON_free(text);
    free(m);
    if (!px_def_name_ok(c->string))
      return px_cli_fail(PX_EXIT_USAGE, "apply: %s: mappings.%s: not a usable name", path, c->string);
    if (s != PX_OK) return px_cli_fail(PX_EXIT_USAGE, "apply: %s: mappings.%s.%s: %s", path, c->string, err.field, err.reason);
  }
  return PX_EXIT_OK;
}

int px_cmd_apply(int argc, char **argv) {
  const char *data = PX_DEFAULT_DATA, *file = NULL;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(apply_help, stdout), PX_EXIT_OK;
    if (parse_data(argc, argv, &i, &data)) continue;
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (argv[i][0] == '-' || file) return px_cli_fail(PX_EXIT_USAGE, "apply: unexpected argument %s", argv[i]);
    else file = argv[i];
  }
  if (!file) return fputs(apply_help, stderr), PX_EXIT_USAGE;
  size_t n;
  char *text = px_cli_read_file(file, 4 << 20, &n);
  if (!text) return PX_EXIT_FAIL;
  cJSON *root = cJSON_ParseWithLength(text, n);
  free(text);
  if (!root) return px_cli_fail(PX_EXIT_USAGE, "apply: %s: not valid JSON", file);
  int rc = check_file(root, file);
  px_store *st = rc == PX_EXIT_OK ? px_cli_open(data) : NULL;
  if (rc == PX_EXIT_OK && !st) rc = PX_EXIT_FAIL;
  px_txn *txn = NULL;
  px_config cfg;
  int have_cfg = 0, traits = 0, segments = 0, mappings = 0, rfm = 0, clv = 0, engagement = 0, journeys = 0, recs = 0;
  px_status s = PX_OK;
  if (rc == PX_EXIT_OK && (s = px_store_begin(st, 1, &txn)) == PX_OK && (s = px_config_load(txn, st, &cfg, NULL)) == PX_OK)
    have_cfg = 1;
  int64_t now = px_time_now_ms();
  const cJSON *c;
  int i = 0;
  const cJSON *traits_in = have_cfg ? cJSON_GetObjectItemCaseSensitive(root, "computed_traits") : NULL;
  cJSON_ArrayForEach(c, traits_in) {
    char *def = cJSON_PrintUnformatted(c);
    px_error err;
    px_error_clear(&err);
    s = def ? px_ctrait_define(txn, st, &cfg, def, strlen(def), now, progress, "computed trait", &err) : PX_NOMEM;
    cJSON_free(def);
    if (s != PX_OK) {
      rc = px_cli_fail(s == PX_INVALID ? PX_EXIT_USAGE : PX_EXIT_FAIL, "apply: computed_traits[%d]: %s%s%s", i,
                       err.field, *err.field ? ": " : "", s == PX_INVALID ? err.reason : px_status_str(s));
      break;
    }
    traits++, i++;
  }
  const cJSON *rfm_in = rc == PX_EXIT_OK && have_cfg ? cJSON_GetObjectItemCaseSensitive(root, "rfm") : NULL;
  if (rfm_in) {
    char *def = cJSON_PrintUnformatted(rfm_in);
    px_error err;
    px_error_clear(&err);
    s = def ? px_rfm_define(txn, st, def, strlen(def), now, NULL, &err) : PX_NOMEM;
    cJSON_free(def);
    if (s == PX_INVALID) rc = px_cli_fail(PX_EXIT_USAGE, "apply: %s: %s: %s", file, err.field, err.reason);
    else if (s != PX_OK) rc = px_cli_fail(PX_EXIT_FAIL, "apply: rfm: %s", px_status_str(s));
    else rfm = 1;
  }
  const cJSON *eng_in = rc == PX_EXIT_OK && have_cfg ? cJSON_GetObjectItemCaseSensitive(root, "engagement") : NULL;
  if (eng_in) {
    char *def = cJSON_PrintUnformatted(eng_in);
    px_error err;
    px_error_clear(&err);
    s = def ? px_engagement_define(txn, st, &cfg, def, strlen(def), now, progress, "engagement", &err) : PX_NOMEM;
    cJSON_free(def);
    if (s == PX_INVALID) rc = px_cli_fail(PX_EXIT_USAGE, "apply: %s: %s: %s", file, err.field, err.reason);
    else if (s != PX_OK) rc = px_cli_fail(PX_EXIT_FAIL, "apply: engagement: %s", px_status_str(s));
    else engagement = 1;
  }
  const cJSON *clv_in = rc == PX_EXIT_OK && have_cfg ? cJSON_GetObjectItemCaseSensitive(root, "clv") : NULL;
  if (clv_in) {
    char *def = cJSON_PrintUnformatted(clv_in);
    px_error err;
    px_error_clear(&err);
    s = def ? px_clv_define(txn, st, &cfg, def, strlen(def), now, progress, "clv", &err) : PX_NOMEM;
    cJSON_free(def);
    if (s == PX_INVALID) rc = px_cli_fail(PX_EXIT_USAGE, "apply: %s: %s: %s", file, err.field, err.reason);
    else if (s != PX_OK) rc = px_cli_fail(PX_EXIT_FAIL, "apply: clv: %s", px_status_str(s));
    else clv = 1;
  }
  const cJSON *journeys_in = rc == PX_EXIT_OK && have_cfg ? cJSON_GetObjectItemCaseSensitive(root, "journeys") : NULL;
  cJSON_ArrayForEach(c, journeys_in) {
    char *def = cJSON_PrintUnformatted(c);
    px_error err;
    px_error_clear(&err);
    s = def ? px_journey_define(txn, st, &cfg, c->string, def, strlen(def), now, progress, c->string, &err) : PX_NOMEM;
    cJSON_free(def);
    if (s == PX_INVALID) {
      rc = px_cli_fail(PX_EXIT_USAGE, "apply: %s: journeys.%s: %s: %s", file, c->string, err.field, err.reason);
      break;
    }
    if (s != PX_OK) {
      rc = px_cli_fail(PX_EXIT_FAIL, "apply: journeys.%s: %s", c->string, px_status_str(s));
      break;
    }
    journeys++;
  }
  const cJSON *recs_in = rc == PX_EXIT_OK && have_cfg ? cJSON_GetObjectItemCaseSensitive(root, "recommendations") : NULL;
  if (recs_in) {
    char *def = cJSON_PrintUnformatted(recs_in);
    px_error err;
    px_error_clear(&err);
    s = def ? px_recs_define(txn, st, &cfg, def, strlen(def), now, progress, "recommendations", &err) : PX_NOMEM;
    cJSON_free(def);
    if (s == PX_INVALID) rc = px_cli_fail(PX_EXIT_USAGE, "apply: %s: %s: %s", file, err.field, err.reason);
    else if (s != PX_OK) rc = px_cli_fail(PX_EXIT_FAIL, "apply: recommendations: %s", px_status_str(s));
    else recs = 1;
  }
  i = 0;
  const cJSON *segments_in = rc == PX_EXIT_OK && have_cfg ? cJSON_GetObjectItemCaseSensitive(root, "segments") : NULL;
  cJSON_ArrayForEach(c, segments_in) {
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
    const char *rule = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "rule"));
    px_rule_error e = {0};
    if ((s = px_segment_define(txn, st, &cfg, name, rule, now, progress, (void *)name, &e)) != PX_OK) {
      rc = s == PX_INVALID ? rule_failure("apply", name, rule, &e) : px_cli_fail(PX_EXIT_FAIL, "apply: %s", px_status_str(s));
      break;
    }
    segments++, i++;
  }
  const cJSON *mappings_in = rc == PX_EXIT_OK && have_cfg ? cJSON_GetObjectItemCaseSensitive(root, "mappings") : NULL;
  cJSON_ArrayForEach(c, mappings_in) {
    char *def = cJSON_PrintUnformatted(c);
    s = def ? px_def_put(txn, st, PX_DEF_MAPPING, c->string, def, strlen(def), now, NULL, NULL) : PX_NOMEM;
    cJSON_free(def);
    if (s != PX_OK) {
      rc = px_cli_fail(PX_EXIT_FAIL, "apply: mappings.%s: %s", c->string, px_status_str(s));
      break;
    }
    mappings++;
  }
  if (rc == PX_EXIT_OK && s == PX_OK && txn) s = px_store_commit(txn), txn = NULL;
  if (rc == PX_EXIT_OK && s != PX_OK) rc = px_cli_fail(PX_EXIT_FAIL, "apply: %s", px_status_str(s));
  if (txn) px_store_abort(txn);
  if (have_cfg) px_config_free(&cfg);
  if (rc == PX_EXIT_OK) {
    if (json)
      printf("{\"computed_traits\":%d,\"segments\":%d,\"mappings\":%d,\"rfm\":%s,\"clv\":%s,\"engagement\":%s,"
             "\"journeys\":%d,\"recommendations\":%s}\n",
             traits, segments, mappings, rfm ? "true" : "false", clv ? "true" : "false", engagement ? "true" : "false",
             journeys, recs ? "true" : "false");
    else
      printf("applied %s: %d computed traits, %d segments, %d mappings%s%s%s\n", file, traits, segments, mappings,
             rfm ? ", rfm (scores: pickaxe rfm refresh)" : "", clv ? ", clv (scores: pickaxe clv refresh)" : "",
             engagement ? ", engagement (computed.engagement, segments engagement_high ... engagement_dormant)" : "");
    if (!json && journeys) printf("  %d journeys (pickaxe journey list)\n", journeys);
    if (!json && recs) printf("  recommendations (pickaxe recommend model --data DIR; GET /v1/recommendations)\n");
  }
  if (st) px_store_close(st);
  cJSON_Delete(root);
  return rc;
}

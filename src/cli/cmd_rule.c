/* pickaxe rule check 'RULE' [--event] [--json]: compiles a rule and shows
 * its canonical form and what it reads, or where and why it is wrong. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "rule/rule.h"

static const char help[] =
    "usage: pickaxe rule check RULE [--event] [--json]\n"
    "\n"
    "Checks RULE (a segment's condition; with --event, a condition on one event's\n"
    "name and properties, as in an aggregation's where). When it is valid, prints\n"
    "its canonical form, the aggregations it reads (the behaviour conditions the\n"
    "engine keeps current) and the segments it reads, and exits 0. When it is not,\n"
    "prints the line, column and reason, the line with a caret under the column,\n"
    "and exits 2. --json prints {\"ok\":true,\"canonical\",\"aggregations\":[...],\n"
    "\"segments\":[...]} or {\"ok\":false,\"line\",\"column\",\"message\"}.\n"
    "The language: docs/RULES.md. Example:\n"
    "  pickaxe rule check 'country = \"United Kingdom\" and\n"
    "      at least 2 events \"Order Completed\" in last 90 days'\n";

/* Prints line `line` of src and a caret under column `col` (characters). */
static void show_caret(const char *src, int line, int col) {
  const char *p = src;
  for (int l = 1; l < line && p; l++) {
    p = strchr(p, '\n');
    if (p) p++;
  }
  if (!p) return;
  size_t n = strcspn(p, "\n");
  fprintf(stderr, "  %.*s\n  ", (int)n, p);
  int c = 1;
  for (size_t i = 0; i < n && c < col; i++) {
    if (((unsigned char)p[i] & 0xC0) == 0x80) continue;
    fputc(p[i] == '\t' ? '\t' : ' ', stderr);
    c++;
  }
  for (; c < col; c++) fputc(' ', stderr);
  fputs("^\n", stderr);
}

static int print_json(cJSON *j) {
  char *s = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  if (!s) return px_cli_fail(PX_EXIT_FAIL, "rule: out of memory");
  puts(s);
  cJSON_free(s);
  return PX_EXIT_OK;
}

static int check(const char *src, int event, int json) {
  px_rule *r = NULL;
  px_rule_error err;
  px_status s = px_rule_compile(src, strlen(src), event ? PX_RULE_EVENT : PX_RULE_PROFILE, &r, &err);
  if (s == PX_NOMEM) return px_cli_fail(PX_EXIT_FAIL, "rule: out of memory");
  if (s != PX_OK) {
    if (json) {
      cJSON *j = cJSON_CreateObject();
      cJSON_AddBoolToObject(j, "ok", 0);
      cJSON_AddNumberToObject(j, "line", err.line);
      cJSON_AddNumberToObject(j, "column", err.column);
      cJSON_AddStringToObject(j, "message", err.message);
      print_json(j);
      return PX_EXIT_USAGE;
    }
    px_cli_fail(PX_EXIT_USAGE, "rule: line %d, column %d: %s", err.line, err.column, err.message);
    show_caret(src, err.line, err.column);
    return PX_EXIT_USAGE;
  }
  size_t cap = 4 * PX_RULE_MAX_BYTES + 4096;
  char *text = malloc(cap), *atext = malloc(cap);
  int rc = PX_EXIT_FAIL;
  cJSON *j = NULL;
  if (!text || !atext || px_rule_print(r, text, cap) != PX_OK) {
    px_cli_fail(PX_EXIT_FAIL, "rule: cannot print the rule");
    goto out;
  }
  if (json) {
    j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "ok", 1);
    cJSON_AddStringToObject(j, "canonical", text);
    cJSON *aggs = cJSON_AddArrayToObject(j, "aggregations"), *segs = cJSON_AddArrayToObject(j, "segments");
    for (int i = 0; i < px_rule_naggs(r); i++) {
      const px_rule_agg *a = px_rule_agg_at(r, i);
      cJSON *o = cJSON_CreateObject();
      px_rule_agg_print(a, atext, cap);
      cJSON_AddStringToObject(o, "text", atext);
      cJSON_AddStringToObject(o, "function", px_rule_agg_fn_name(a->fn));
      cJSON_AddStringToObject(o, "event", a->event);
      cJSON_AddStringToObject(o, "property", a->property);
      if (a->where && px_rule_print(a->where, atext, cap) == PX_OK) cJSON_AddStringToObject(o, "where", atext);
      else cJSON_AddNullToObject(o, "where");
      cJSON_AddNumberToObject(o, "window_ms", (double)a->window_ms);
      cJSON_AddItemToArray(aggs, o);
    }
    for (int i = 0; i < px_rule_nsegments(r); i++)
      cJSON_AddItemToArray(segs, cJSON_CreateString(px_rule_segment_at(r, i)));
    rc = print_json(j);
    goto out;
  }
  printf("%s\n", text);
  if (px_rule_naggs(r)) printf("aggregations:\n");
  for (int i = 0; i < px_rule_naggs(r); i++) {
    px_rule_agg_print(px_rule_agg_at(r, i), atext, cap);
    printf("  %d: %s\n", i, atext);
  }
  if (px_rule_nsegments(r)) printf("segments:\n");
  for (int i = 0; i < px_rule_nsegments(r); i++) printf("  %s\n", px_rule_segment_at(r, i));
  rc = PX_EXIT_OK;
out:
  free(text);
  free(atext);
  px_rule_free(r);
  return rc;
}

int px_cmd_rule(int argc, char **argv) {
  if (argc < 2 || px_cli_is_help(argv[1])) {
    fputs(help, argc < 2 ? stderr : stdout);
    return argc < 2 ? PX_EXIT_USAGE : PX_EXIT_OK;
  }
  if (strcmp(argv[1], "check") != 0) return px_cli_fail(PX_EXIT_USAGE, "rule: unknown subcommand %s (try check)", argv[1]);
  const char *src = NULL;
  int event = 0, json = 0;
  for (int i = 2; i < argc; i++) {
    if (px_cli_is_help(argv[i])) {
      fputs(help, stdout);
      return PX_EXIT_OK;
    } else if (strcmp(argv[i], "--event") == 0) {
      event = 1;
    } else if (strcmp(argv[i], "--json") == 0) {
      json = 1;
    } else if (argv[i][0] == '-' && argv[i][1] == '-') {
      return px_cli_fail(PX_EXIT_USAGE, "rule: unknown option %s", argv[i]);
    } else if (src) {
      return px_cli_fail(PX_EXIT_USAGE, "rule: one rule at a time (quote it)");
    } else {
      src = argv[i];
    }
  }
  if (!src) return px_cli_fail(PX_EXIT_USAGE, "rule check: which rule? (pickaxe rule check 'RULE')");
  return check(src, event, json);
}

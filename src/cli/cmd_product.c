/* pickaxe product get|put|set-stock|delete|list: the product catalog
 * (catalog/catalog.h), with or without a server running. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "base/timeutil.h"
#include "catalog/catalog.h"
#include "cli/cli.h"

#define TXN_PRODUCTS 1000          /* products written per transaction (each commit is fsynced) */
#define MAX_LISTED_ERRORS 100
#define MAX_STDIN_BYTES (1ul << 30) /* a file is mapped; stdin is read whole, up to this */


static const char help[] =
    "usage: pickaxe product get ID [--data DIR]\n"
    "       pickaxe product put FILE|- [--data DIR] [--json]\n"
    "       pickaxe product set-stock ID STATE [--quantity N] [--data DIR]\n"
    "       pickaxe product delete ID [--data DIR]\n"
    "       pickaxe product list [--limit N] [--after ID] [--data DIR] [--json]\n"
    "\n"
    "The product catalog (docs/internals/catalog.md). A product is JSON:\n"
    "{\"id\", \"name\", \"category\": [\"Home\", \"Candles\"] (or \"Home > Candles\"), \"price\",\n"
    "\"currency\": \"GBP\", \"stock\", \"quantity\", \"attributes\": {NAME: value or [values]}}.\n"
    "get prints one product as stored (canonical JSON). put reads one product, or JSON\n"
    "lines of products, and creates or replaces each by its id; a product equal to the\n"
    "stored one is counted as unchanged; invalid ones are reported with their line,\n"
    "field and reason, the others land (--json: {\"accepted\",\"created\",\"replaced\",\n"
    "\"unchanged\",\"rejected\",\"errors\":[{line,field,reason}]}). set-stock sets the stock\n"
    "state (in_stock, out_of_stock, preorder, backorder, discontinued) and, with\n"
    "--quantity, the quantity (0 makes a product unavailable for recommendations).\n"
    "list shows products in id order (all of them, or --limit N after --after ID;\n"
    "--json: {\"products\":[...],\"next_after\",\"total\"}). Exit status 3 when the\n"
    "product does not exist, 4 when put rejected some.\n";

static int fail_status(const char *cmd, px_status s, const px_error *err) {
  if (s == PX_INVALID || s == PX_BAD_JSON || s == PX_BAD_UTF8 || s == PX_TOO_LARGE)
    return px_cli_fail(PX_EXIT_USAGE, "product %s: %s%s%s", cmd, err->field, *err->field ? ": " : "", err->reason);
  return px_cli_fail(PX_EXIT_FAIL, "product %s: %s", cmd, px_status_str(s));
}

static int get(px_store *st, const char *id) {
  px_txn *txn;
  px_status s = px_store_begin(st, PX_TXN_READ, &txn);
  MDB_val v;
  if (s == PX_OK && (s = px_catalog_get(txn, st, id, strlen(id), &v)) == PX_OK)
    printf("%.*s\n", (int)v.mv_size, (const char *)v.mv_data);
  px_store_abort(txn);
  if (s == PX_NOT_FOUND) return px_cli_fail(3, "product get: no product with id %s", id);
  return s == PX_OK ? PX_EXIT_OK : px_cli_fail(PX_EXIT_FAIL, "product get: %s", px_status_str(s));
}

static int del(px_store *st, const char *id) {
  px_txn *txn;
  px_status s = px_store_begin(st, PX_TXN_LOG, &txn);
  if (s == PX_OK) {
    if ((s = px_catalog_del(txn, st, id, strlen(id))) == PX_OK) s = px_store_commit(txn);
    else px_store_abort(txn);
  }
  if (s == PX_NOT_FOUND) return px_cli_fail(3, "product delete: no product with id %s", id);
  if (s != PX_OK) return px_cli_fail(PX_EXIT_FAIL, "product delete: %s", px_status_str(s));
  printf("product %s deleted\n", id);
  return PX_EXIT_OK;
}

static int set_stock(px_store *st, const char *id, const char *state, const char *quantity) {
  px_stock stock;
  if (px_stock_parse(state, &stock) != PX_OK)
    return px_cli_fail(PX_EXIT_USAGE, "product set-stock: %s is not a stock state (in_stock, out_of_stock, preorder, "
                                      "backorder, discontinued)", state);
  char patch[128];
  if (quantity) {
    char *end;
    unsigned long long q = strtoull(quantity, &end, 10);
    if (!*quantity || *end || quantity[0] == '-' || q > (unsigned long long)PX_PRODUCT_QUANTITY_MAX)
      return px_cli_fail(PX_EXIT_USAGE, "product set-stock: --quantity must be a whole number from 0 to %.0f",
                         PX_PRODUCT_QUANTITY_MAX);
    snprintf(patch, sizeof patch, "{\"stock\":\"%s\",\"quantity\":%llu}", px_stock_name(stock), q);
  } else {
    snprintf(patch, sizeof patch, "{\"stock\":\"%s\"}", px_stock_name(stock));
  }
  px_txn *txn;
  px_error err;
  px_error_clear(&err);
  px_buf out;
  px_buf_init(&out, 0);
  px_status s = px_store_begin(st, PX_TXN_LOG, &txn);
  if (s == PX_OK) {
    s = px_catalog_patch(txn, st, id, strlen(id), patch, strlen(patch), px_time_now_ms(), &err, NULL, &out);
    if (s == PX_OK) s = px_store_commit(txn);
    else px_store_abort(txn);
  }
  int rc = PX_EXIT_OK;
  if (s == PX_OK) printf("%s\n", out.data);
  else if (s == PX_NOT_FOUND) rc = px_cli_fail(3, "product set-stock: no product with id %s", id);
  else rc = fail_status("set-stock", s, &err);
  px_buf_free(&out);
  return rc;
}

/* ---- put ---- */

typedef struct put_state {
  px_store *st;
  px_txn *txn;
  size_t in_txn;
  uint64_t counts[4]; /* by px_catalog_outcome */
  uint64_t rejected;
  int listed, json;
  px_buf errors; /* JSON array items */
  px_product p;
} put_state;

static void put_reject(put_state *ps, long line, const px_error *err) {
  ps->rejected++;
  if (!ps->json) fprintf(stderr, "line %ld: %s%s%s\n", line, err->field, *err->field ? ": " : "", err->reason);
  if (ps->listed++ >= MAX_LISTED_ERRORS) return;
  if (ps->listed > 1) px_buf_putc(&ps->errors, ',');
  px_buf_printf(&ps->errors, "{\"line\":%ld,\"field\":", line);
  px_buf_json_str(&ps->errors, err->field, strlen(err->field));
  px_buf_puts(&ps->errors, ",\"reason\":");
  px_buf_json_str(&ps->errors, err->reason, strlen(err->reason));
  px_buf_putc(&ps->errors, '}');
}

/* One product's text: stored (or unchanged), or rejected; a store error
 * is returned (the put stops). */
static px_status put_one(put_state *ps, const char *text, size_t n, long line) {
  px_error err;
  px_error_clear(&err);
  px_status s = px_product_parse(text, n, NULL, 0, &ps->p, &err);
  if (s != PX_OK) {
    put_reject(ps, line, &err);
    return s == PX_NOMEM ? s : PX_OK;
  }
  px_catalog_outcome o = PX_CATALOG_UNCHANGED;
  if (!ps->txn && (s = px_store_begin(ps->st, PX_TXN_LOG, &ps->txn)) != PX_OK) return s;
  if ((s = px_catalog_write(ps->txn, ps->st, &ps->p, px_time_now_ms(), &o)) != PX_OK) return s;
  ps->counts[o]++;
  if (++ps->in_txn == TXN_PRODUCTS) {
    s = px_store_commit(ps->txn);
    ps->txn = NULL;
    ps->in_txn = 0;
  }
  return s;
}

/* The input whole: a regular file mapped, anything else read (capped). */
static const char *read_input(const char *file, px_buf *copy, size_t *n, int *mapped) {
  *mapped = 0;
  FILE *f = strcmp(file, "-") ? fopen(file, "rb") : stdin;
  if (!f) return px_cli_fail(PX_EXIT_FAIL, "product put: cannot open %s", file), NULL;
  struct stat sb;
  const char *text = NULL;
  if (f != stdin && fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0) {
    void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fileno(f), 0);
    if (m != MAP_FAILED) {
      *mapped = 1;
      *n = (size_t)sb.st_size;
      text = m;
    }
  }
  if (!*mapped) {
    char chunk[65536];
    size_t got;
    px_status s = PX_OK;
    while (s == PX_OK && (got = fread(chunk, 1, sizeof chunk, f)) > 0) s = px_buf_append(copy, chunk, got);
    if (s != PX_OK) px_cli_fail(PX_EXIT_FAIL, "product put: %s is larger than %lu bytes", file, MAX_STDIN_BYTES);
    else text = copy->data ? copy->data : "", *n = copy->len;
  }
  if (f != stdin) fclose(f);
  return text;
}

static int put(px_store *st, const char *file, int json) {
  px_buf copy;
  px_buf_init(&copy, MAX_STDIN_BYTES);
  size_t n = 0;
  int mapped;
  const char *text = read_input(file, &copy, &n, &mapped);
  if (!text) return px_buf_free(&copy), PX_EXIT_FAIL;
  put_state ps = {.st = st, .json = json};
  px_buf_init(&ps.errors, 0);
  px_product_init(&ps.p);
  px_status s = PX_OK;
  long line = 0;
  /* One JSON document (a product, possibly over several lines), else JSON lines. */
  cJSON *one = NULL;
  if (n <= PX_PRODUCT_INPUT_MAX && px_product_json(text, n, PX_PRODUCT_INPUT_MAX, &one, NULL) == PX_OK &&
      cJSON_IsObject(one)) {
    line = 1;
    s = put_one(&ps, text, n, line);
  } else {
    for (size_t at = 0; at < n && s == PX_OK;) {
      const char *nl = memchr(text + at, '\n', n - at);
      size_t len = nl ? (size_t)(nl - (text + at)) : n - at, ln = len;
      line++;
      while (ln && (text[at + ln - 1] == '\r' || text[at + ln - 1] == ' ' || text[at + ln - 1] == '\t')) ln--;
      if (ln) s = put_one(&ps, text + at, ln, line);
      at += len + (nl != NULL);
    }
  }
  cJSON_Delete(one);
  if (s == PX_OK && ps.txn) s = px_store_commit(ps.txn);
  else if (ps.txn) px_store_abort(ps.txn);
  if (mapped) munmap((void *)text, n);
  px_buf_free(&copy);
  px_product_free(&ps.p);
  int rc = ps.rejected ? 4 : PX_EXIT_OK;
  unsigned long long c = ps.counts[PX_CATALOG_CREATED], r = ps.counts[PX_CATALOG_REPLACED],
                     u = ps.counts[PX_CATALOG_UNCHANGED];
  if (s != PX_OK) {
    rc = px_cli_fail(PX_EXIT_FAIL, "product put stopped at line %ld: %s (products committed before it are stored)",
                     line, px_status_str(s));
  } else if (json) {
    printf("{\"accepted\":%llu,\"created\":%llu,\"replaced\":%llu,\"unchanged\":%llu,\"rejected\":%llu,\"errors\":[%s]}\n",
           c + r + u, c, r, u, (unsigned long long)ps.rejected, ps.errors.data ? ps.errors.data : "");
  } else {
    printf("%llu products: %llu created, %llu replaced, %llu unchanged, %llu rejected\n", c + r + u, c, r, u,
           (unsigned long long)ps.rejected);
  }
  px_buf_free(&ps.errors);
  return rc;
}

/* ---- list ---- */

typedef struct list_state {
  int json;
  size_t n;
  char last[PX_PRODUCT_ID_MAX + 1];
  size_t lastn;
} list_state;

static px_status list_cb(void *arg, const char *id, size_t idn, unsigned flags, const char *json, size_t jn) {
  (void)flags;
  list_state *l = arg;
  memcpy(l->last, id, idn);
  l->lastn = idn;
  /* Written as they come (a catalog may be large). */
  if (l->json) {
    if (l->n++) fputc(',', stdout);
    fwrite(json, 1, jn, stdout);
    return ferror(stdout) ? PX_IO : PX_OK;
  }
  l->n++;
  cJSON *j = cJSON_ParseWithLength(json, jn);
  const cJSON *price = cJSON_GetObjectItemCaseSensitive(j, "price"), *qty = cJSON_GetObjectItemCaseSensitive(j, "quantity");
  const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "name"));
  const char *stock = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "stock"));
  char p[48] = "-", q[32] = "-";
  if (cJSON_IsNumber(price)) px_num_shortest(price->valuedouble, p);
  if (cJSON_IsNumber(qty)) snprintf(q, sizeof q, "%.0f", qty->valuedouble);
  printf("%-24.*s %-13s %9s %10s  %s\n", (int)idn, id, stock ? stock : "?", q, p, name ? name : "");
  cJSON_Delete(j);
  return ferror(stdout) ? PX_IO : PX_OK;
}

static int list(px_store *st, const char *limit_s, const char *after, int json) {
  size_t limit = SIZE_MAX;
  if (limit_s) {
    char *end;
    unsigned long long v = strtoull(limit_s, &end, 10);
    if (!*limit_s || *end || limit_s[0] == '-' || v < 1)
      return px_cli_fail(PX_EXIT_USAGE, "product list: --limit must be a positive integer");
    limit = (size_t)v;
  }
  list_state l = {.json = json};
  px_txn *txn;
  int more = 0;
  uint64_t total = 0;
  px_status s = px_store_begin(st, PX_TXN_READ, &txn);
  if (s == PX_OK) {
    if (json) fputs("{\"products\":[", stdout);
    else printf("%-24s %-13s %9s %10s  %s\n", "ID", "STOCK", "QUANTITY", "PRICE", "NAME");
    s = px_catalog_page(txn, st, after, after ? strlen(after) : 0, limit, list_cb, &l, &more);
    if (s == PX_OK) s = px_catalog_count(txn, st, &total);
    px_store_abort(txn);
  }
  if (s == PX_OK && json) {
    px_buf tail;
    px_buf_init(&tail, 0);
    px_buf_puts(&tail, "],\"next_after\":");
    if (more) px_buf_json_str(&tail, l.last, l.lastn);
    else px_buf_puts(&tail, "null");
    if ((s = px_buf_printf(&tail, ",\"total\":%llu}\n", (unsigned long long)total)) == PX_OK) fputs(tail.data, stdout);
    px_buf_free(&tail);
  } else if (s == PX_OK && more) {
    fprintf(stderr, "(%llu products in all; more after %.*s: --after)\n", (unsigned long long)total, (int)l.lastn,
            l.last);
  }
  if (s == PX_OK && fflush(stdout) != 0) s = PX_IO;
  return s == PX_OK ? PX_EXIT_OK : px_cli_fail(PX_EXIT_FAIL, "product list: %s", px_status_str(s));
}

int px_cmd_product(int argc, char **argv) {
  const char *data = PX_DEFAULT_DATA, *quantity = NULL, *limit = NULL, *after = NULL;
  const char *words[3] = {NULL, NULL, NULL};
  int nwords = 0, json = 0;
  for (int i = 1; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(help, stdout), PX_EXIT_OK;
    if (px_cli_opt(argc, argv, &i, "--data", &data) || px_cli_opt(argc, argv, &i, "--quantity", &quantity) ||
        px_cli_opt(argc, argv, &i, "--limit", &limit) || px_cli_opt(argc, argv, &i, "--after", &after))
      continue;
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (argv[i][0] == '-' && argv[i][1]) return px_cli_fail(PX_EXIT_USAGE, "product: unknown option %s", argv[i]);
    else if (nwords == 3) return px_cli_fail(PX_EXIT_USAGE, "product: unexpected argument %s", argv[i]);
    else words[nwords++] = argv[i];
  }
  const char *cmd = words[0];
  if (!cmd) return fputs(help, stderr), PX_EXIT_USAGE;
  int want = !strcmp(cmd, "list") ? 1 : !strcmp(cmd, "set-stock") ? 3 : 2;
  if (strcmp(cmd, "get") && strcmp(cmd, "put") && strcmp(cmd, "set-stock") && strcmp(cmd, "delete") &&
      strcmp(cmd, "list"))
    return fputs(help, stderr), px_cli_fail(PX_EXIT_USAGE, "product: unknown command %s", cmd);
  if (nwords != want)
    return px_cli_fail(PX_EXIT_USAGE, "product %s: %s", cmd,
                       want == 1 ? "takes no argument"
                       : want == 3 ? "ID and STATE are required"
                       : !strcmp(cmd, "put") ? "FILE (or - for stdin) is required"
                                             : "ID is required");
  if (quantity && strcmp(cmd, "set-stock")) return px_cli_fail(PX_EXIT_USAGE, "product %s: --quantity goes with set-stock", cmd);
  if ((limit || after) && strcmp(cmd, "list"))
    return px_cli_fail(PX_EXIT_USAGE, "product %s: --limit and --after go with list", cmd);
  px_error err;
  px_error_clear(&err);
  if (want > 1 && strcmp(cmd, "put") && px_product_id_check(words[1], strlen(words[1]), &err) != PX_OK)
    return px_cli_fail(PX_EXIT_USAGE, "product %s: the id %s", cmd, err.reason);
  px_store *st = px_cli_open(data);
  if (!st) return PX_EXIT_FAIL;
  int rc;
  if (!strcmp(cmd, "get")) rc = get(st, words[1]);
  else if (!strcmp(cmd, "put")) rc = put(st, words[1], json);
  else if (!strcmp(cmd, "set-stock")) rc = set_stock(st, words[1], words[2], quantity);
  else if (!strcmp(cmd, "delete")) rc = del(st, words[1]);
  else rc = list(st, limit, after, json);
  px_store_close(st);
  return rc;
}

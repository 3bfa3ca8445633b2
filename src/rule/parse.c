/* The rule compiler: a recursive-descent parser (grammar in docs/RULES.md)
 * that type-checks as it builds the tree, so every error carries the line
 * and column of the token it is about. Aggregations are deduplicated as
 * they are read; each one's where is an event rule of its own. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "rule/rule_int.h"

typedef struct parser {
  const rtok *t;
  int pos;
  px_rule *top, *cur; /* cur: where nodes go (top, or an aggregation's where) */
  int depth;
  px_status st;
  px_rule_error *err;
  int32_t *stack; /* kids being collected (and/or chains, lists) */
  int nstack, capstack;
} parser;

static const char *const fn_names[] = {"count", "sum", "avg", "min", "max", "first", "last", "distinct",
                                       "most_frequent", NULL};

const char *px_rule_agg_fn_name(px_agg_fn fn) {
  return (unsigned)fn <= PX_AGG_MOST_FREQUENT ? fn_names[fn]
         : fn == PX_AGG_DECAY                ? "decay"
         : fn == PX_AGG_DAILY                ? "daily"
         : fn == PX_AGG_ITEMS                ? "items"
                                             : "?";
}

static const char *const func_names[] = {"ln", "log1p", "days_since", NULL}; /* by F_* */

const char *px_rule_func_name(int f) { return f >= F_LN && f <= F_DAYS_SINCE ? func_names[f] : "?"; }

/* ---- errors ---- */

static int fail_at(parser *p, int line, int col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail_at(parser *p, int line, int col, const char *fmt, ...) {
  if (p->st != PX_OK) return -1;
  p->st = PX_INVALID;
  if (p->err) {
    p->err->line = line;
    p->err->column = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
    va_end(ap);
  }
  return -1;
}

#define FAIL_TOK(p, tk, ...) fail_at(p, (tk)->line, (tk)->col, __VA_ARGS__)
#define FAIL_NODE(p, i, ...) fail_at(p, (p)->cur->nodes[i].line, (p)->cur->nodes[i].col, __VA_ARGS__)

/* How a token reads in a message: 'and', "a string", the end of the rule. */
static const char *describe(const rtok *t, char *buf, size_t n) {
  if (t->kind == K_EOF) return "the end of the rule";
  if (t->kind == K_STR) {
    snprintf(buf, n, "\"%.*s\"%s", (int)(t->slen > 40 ? 40 : t->slen), t->str, t->slen > 40 ? "..." : "");
    return buf;
  }
  snprintf(buf, n, "'%.*s'", (int)(t->len > 40 ? 40 : t->len), t->p);
  return buf;
}

static const rtok *peek(const parser *p, int k) {
  const rtok *t = &p->t[p->pos];
  for (int i = 0; i < k && t->kind != K_EOF; i++) t++;
  return t;
}
static const rtok *cur(const parser *p) { return &p->t[p->pos]; }
static const rtok *prev(const parser *p) { return p->pos ? &p->t[p->pos - 1] : NULL; }
static const rtok *advance(parser *p) {
  const rtok *t = &p->t[p->pos];
  if (t->kind != K_EOF) p->pos++;
  return t;
}

static int is_word(const rtok *t, const char *w) {
  return t->kind == K_IDENT && t->len == strlen(w) && memcmp(t->p, w, t->len) == 0;
}

/* "expected X after 'prev', found Y" at the current token. */
static int expected(parser *p, const char *what) {
  char a[64], b[64];
  const rtok *pr = prev(p), *t = cur(p);
  if (!pr) return FAIL_TOK(p, t, "expected %s, found %s", what, describe(t, b, sizeof b));
  return FAIL_TOK(p, t, "expected %s after %s, found %s", what, describe(pr, a, sizeof a), describe(t, b, sizeof b));
}

static const char *type_name(int t) {
  switch (t) {
    case T_BOOL: return "a condition";
    case T_NUM: return "a number";
    case T_STR: return "a string";
    case T_TIME: return "a time";
    default: return "a value";
  }
}

/* ---- building ---- */

static int grow(parser *p, void **v, int *cap, int need, size_t size) {
  if (need <= *cap) return 0;
  int nc = *cap ? *cap * 2 : 16;
  while (nc < need) nc *= 2;
  void *q = realloc(*v, (size_t)nc * size);
  if (!q) {
    if (p->st == PX_OK) p->st = PX_NOMEM;
    return -1;
  }
  *v = q;
  *cap = nc;
  return 0;
}

static int mk(parser *p, int op, int type, const rtok *at) {
  px_rule *r = p->cur;
  if (grow(p, (void **)&r->nodes, &r->capnodes, r->nnodes + 1, sizeof *r->nodes)) return -1;
  rnode *x = &r->nodes[r->nnodes];
  memset(x, 0, sizeof *x);
  x->op = (uint8_t)op;
  x->type = (uint8_t)type;
  x->a = x->b = -1;
  x->height = 1;
  x->line = at->line;
  x->col = at->col;
  return r->nnodes++;
}

static int put_str(parser *p, int node, const char *s, size_t n) {
  px_rule *r = p->cur;
  if (r->npool + n + 1 > r->cappool) {
    size_t nc = r->cappool ? r->cappool * 2 : 256;
    while (nc < r->npool + n + 1) nc *= 2;
    char *q = realloc(r->pool, nc);
    if (!q) {
      if (p->st == PX_OK) p->st = PX_NOMEM;
      return -1;
    }
    r->pool = q;
    r->cappool = nc;
  }
  memcpy(r->pool + r->npool, s, n);
  r->pool[r->npool + n] = 0;
  r->nodes[node].s = (uint32_t)r->npool;
  r->nodes[node].slen = (uint32_t)n;
  r->npool += n + 1;
  return 0;
}

/* Sets a node's height from its children; too deep is an error. */
static int set_height(parser *p, int node, int a, int b) {
  rnode *x = &p->cur->nodes[node];
  int h = 0;
  if (a >= 0 && p->cur->nodes[a].height > h) h = p->cur->nodes[a].height;
  if (b >= 0 && p->cur->nodes[b].height > h) h = p->cur->nodes[b].height;
  if (h + 1 > PX_RULE_MAX_DEPTH)
    return FAIL_NODE(p, node, "nested too deeply (at most %d levels)", PX_RULE_MAX_DEPTH);
  x->height = (uint8_t)(h + 1);
  return node;
}

static int push(parser *p, int32_t v) {
  if (grow(p, (void **)&p->stack, &p->capstack, p->nstack + 1, sizeof *p->stack)) return -1;
  p->stack[p->nstack++] = v;
  return 0;
}

/* Moves the stack from start into the rule's kids; the first index. */
static int take_kids(parser *p, int start) {
  px_rule *r = p->cur;
  int n = p->nstack - start;
  if (grow(p, (void **)&r->kids, &r->capkids, r->nkids + n, sizeof *r->kids)) return -1;
  memcpy(r->kids + r->nkids, p->stack + start, (size_t)n * sizeof *r->kids);
  int first = r->nkids;
  r->nkids += n;
  p->nstack = start;
  return first;
}

static int enter(parser *p) {
  if (++p->depth > PX_RULE_MAX_DEPTH)
    return FAIL_TOK(p, cur(p), "nested too deeply (at most %d levels)", PX_RULE_MAX_DEPTH);
  return 0;
}

static int is_cond(int t) { return t == T_BOOL || t == T_ANY; }
static int in_event_rule(const parser *p) { return p->cur->kind == PX_RULE_EVENT; }

/* ---- grammar ---- */

static int parse_or(parser *p);
static int parse_add(parser *p);

static int parse_not(parser *p);
static int parse_unary(parser *p);

static int mk_at(parser *p, int op, int type, int from) {
  rnode at = p->cur->nodes[from];
  rtok t = {.line = at.line, .col = at.col};
  return mk(p, op, type, &t);
}

static int tok_is_cond_context(const rtok *t) {
  return !t || is_word(t, "and") || is_word(t, "or") || is_word(t, "not") || is_word(t, "where") ||
         t->kind == K_LPAREN;
}

static int expect_value(parser *p) {
  const rtok *pr = prev(p);
  if (is_word(cur(p), "null")) {
    char a[64];
    return FAIL_TOK(p, cur(p), "expected a value%s%s, found 'null' (write 'is null' to test for a missing value)",
                    pr ? " after " : "", pr ? describe(pr, a, sizeof a) : "");
  }
  return expected(p, tok_is_cond_context(pr) ? "a condition" : "a value");
}

/* ---- and / or / not ---- */

static int add_kid(parser *p, int k, int op) {
  const rnode *x = &p->cur->nodes[k];
  if (x->op != op) return push(p, k);
  for (int j = 0; j < x->i; j++)
    if (push(p, p->cur->kids[x->b + j])) return -1;
  return 0;
}

static int parse_chain(parser *p, int is_or) {
  const char *word = is_or ? "or" : "and";
  int op = is_or ? N_OR : N_AND, start = p->nstack;
  int k = is_or ? parse_chain(p, 0) : parse_not(p);
  if (k < 0 || !is_word(cur(p), word)) return k;
  if (!is_cond(p->cur->nodes[k].type))
    return FAIL_NODE(p, k, "expected a condition before '%s', found %s", word, type_name(p->cur->nodes[k].type));
  int first = k, h = 0;
  if (add_kid(p, k, op)) return -1;
  h = p->cur->nodes[k].height;
  while (is_word(cur(p), word)) {
    advance(p);
    k = is_or ? parse_chain(p, 0) : parse_not(p);
    if (k < 0) return -1;
    if (!is_cond(p->cur->nodes[k].type))
      return FAIL_NODE(p, k, "expected a condition after '%s', found %s", word, type_name(p->cur->nodes[k].type));
    if (add_kid(p, k, op)) return -1;
    if (p->cur->nodes[k].height > h) h = p->cur->nodes[k].height;
  }
  int n = mk_at(p, op, T_BOOL, first);
  if (n < 0) return -1;
  int count = p->nstack - start, b = take_kids(p, start);
  if (b < 0) return -1;
  rnode *x = &p->cur->nodes[n];
  x->b = b;
  x->i = count;
  if (h + 1 > PX_RULE_MAX_DEPTH) return FAIL_NODE(p, n, "nested too deeply (at most %d levels)", PX_RULE_MAX_DEPTH);
  x->height = (uint8_t)(h + 1);
  return n;
}

static int parse_or(parser *p) { return parse_chain(p, 1); }

/* ---- comparisons ---- */

static int cmp_code(const rtok *t, int *timeop) {
  *timeop = 0;
  switch (t->kind) {
    case K_EQ: return C_EQ;
    case K_NE: return C_NE;
    case K_LT: return C_LT;
    case K_LE: return C_LE;
    case K_GT: return C_GT;
    case K_GE: return C_GE;
    default: break;
  }
  if (is_word(t, "before")) return *timeop = 1, C_LT;
  if (is_word(t, "after")) return *timeop = 1, C_GT;
  return -1;
}

/* Makes node read as a time: a date literal becomes one. ctx: "after '<'". */
static int as_time(parser *p, int node, const char *ctx) {
  rnode *x = &p->cur->nodes[node];
  if (x->type == T_TIME || x->type == T_ANY) return 0;
  if (x->op == N_STR) {
    int64_t ms;
    if (px_time_parse_iso(rule_str(p->cur, x), &ms) == PX_OK) {
      x->op = N_TIME;
      x->type = T_TIME;
      x->i = ms;
      return 0;
    }
    return FAIL_NODE(p, node, "expected a date like \"2024-01-01\" %s, found \"%.40s\"", ctx, rule_str(p->cur, x));
  }
  return FAIL_NODE(p, node, "expected a time %s, found %s", ctx, type_name(x->type));
}

static int make_cmp(parser *p, int l, int c, int timeop, const rtok *optok, int r) {
  int lt = p->cur->nodes[l].type, rt = p->cur->nodes[r].type;
  char before[48], after[48];
  snprintf(before, sizeof before, "before '%.*s'", (int)optok->len, optok->p);
  snprintf(after, sizeof after, "after '%.*s'", (int)optok->len, optok->p);
  int timecmp = timeop || lt == T_TIME || rt == T_TIME;
  if (timecmp) {
    if (as_time(p, l, before) || as_time(p, r, after)) return -1;
  } else if ((lt == T_BOOL || rt == T_BOOL) && c != C_EQ && c != C_NE) {
    return FAIL_NODE(p, lt == T_BOOL ? l : r, "expected a number, string or time %s, found a condition",
                     lt == T_BOOL ? before : after);
  } else if (lt != rt && lt != T_ANY && rt != T_ANY) {
    return FAIL_NODE(p, r, "expected %s %s, found %s", type_name(lt), after, type_name(rt));
  }
  int n = mk_at(p, N_CMP, T_BOOL, l);
  if (n < 0) return -1;
  rnode *x = &p->cur->nodes[n];
  x->sub = (uint8_t)c;
  x->timecmp = (uint8_t)timecmp;
  x->a = l;
  x->b = r;
  return set_height(p, n, l, r);
}

static int parse_list(parser *p, int l, int negate) {
  int start = p->nstack, lt = p->cur->nodes[l].type;
  advance(p); /* [ */
  for (;;) {
    const rtok *t = cur(p);
    int item = -1;
    if (t->kind == K_STR) {
      advance(p);
      if ((item = mk(p, N_STR, T_STR, t)) < 0 || put_str(p, item, t->str, t->slen)) return -1;
    } else if (t->kind == K_NUM || (t->kind == K_MINUS && peek(p, 1)->kind == K_NUM)) {
      int neg = t->kind == K_MINUS;
      if (neg) advance(p);
      const rtok *num = advance(p);
      if ((item = mk(p, N_NUM, T_NUM, t)) < 0) return -1;
      p->cur->nodes[item].n = neg ? -num->num : num->num;
    } else if (is_word(t, "true") || is_word(t, "false")) {
      advance(p);
      if ((item = mk(p, N_BOOL, T_BOOL, t)) < 0) return -1;
      p->cur->nodes[item].i = is_word(t, "true");
    } else {
      return expected(p, "a string, number, true or false in the list");
    }
    int it = p->cur->nodes[item].type;
    if (lt == T_TIME) {
      if (as_time(p, item, "in the list")) return -1;
    } else if (lt != T_ANY && it != lt) {
      return FAIL_NODE(p, item, "expected %s in the list, found %s", type_name(lt), type_name(it));
    }
    if (push(p, item)) return -1;
    if (cur(p)->kind == K_COMMA) {
      advance(p);
    } else if (cur(p)->kind == K_RBRACK) {
      advance(p);
      break;
    } else {
      return expected(p, "',' or ']'");
    }
  }
  int n = mk_at(p, N_IN, T_BOOL, l);
  if (n < 0) return -1;
  int count = p->nstack - start, b = take_kids(p, start);
  if (b < 0) return -1;
  rnode *x = &p->cur->nodes[n];
  x->a = l;
  x->b = b;
  x->i = count;
  x->neg = (uint8_t)negate;
  return set_height(p, n, l, -1);
}

static int parse_pred(parser *p) {
  int l = parse_add(p);
  if (l < 0) return -1;
  const rtok *t = cur(p);
  int timeop, c = cmp_code(t, &timeop);
  if (c >= 0) {
    advance(p);
    int r = parse_add(p);
    if (r < 0) return -1;
    return make_cmp(p, l, c, timeop, t, r);
  }
  int negate = 0;
  if (is_word(t, "not") && is_word(peek(p, 1), "in")) {
    advance(p);
    t = cur(p);
    negate = 1;
  }
  if (is_word(t, "in")) {
    if (!negate && is_word(peek(p, 1), "last")) return l; /* an aggregation's window follows */
    advance(p);
    if (cur(p)->kind != K_LBRACK) return expected(p, "'[' and a list of values");
    return parse_list(p, l, negate);
  }
  if (is_word(t, "is")) {
    advance(p);
    int neg = 0;
    if (is_word(cur(p), "not")) advance(p), neg = 1;
    if (!is_word(cur(p), "null")) return expected(p, neg ? "'null'" : "'null' or 'not null'");
    advance(p);
    int n = mk_at(p, N_ISNULL, T_BOOL, l);
    if (n < 0) return -1;
    p->cur->nodes[n].a = l;
    p->cur->nodes[n].neg = (uint8_t)neg;
    return set_height(p, n, l, -1);
  }
  int x = is_word(t, "contains") ? X_CONTAINS : is_word(t, "starts") ? X_STARTS : is_word(t, "ends") ? X_ENDS : -1;
  if (x >= 0) {
    advance(p);
    const char *name = x == X_CONTAINS ? "contains" : x == X_STARTS ? "starts with" : "ends with";
    if (x != X_CONTAINS) {
      if (!is_word(cur(p), "with")) return expected(p, "'with'");
      advance(p);
    }
    int r = parse_add(p);
    if (r < 0) return -1;
    int lt = p->cur->nodes[l].type, rt = p->cur->nodes[r].type;
    if (lt != T_STR && lt != T_ANY) return FAIL_NODE(p, l, "expected a string before '%s', found %s", name, type_name(lt));
    if (rt != T_STR && rt != T_ANY) return FAIL_NODE(p, r, "expected a string after '%s', found %s", name, type_name(rt));
    int n = mk_at(p, N_TEXT, T_BOOL, l);
    if (n < 0) return -1;
    p->cur->nodes[n].sub = (uint8_t)x;
    p->cur->nodes[n].a = l;
    p->cur->nodes[n].b = r;
    return set_height(p, n, l, r);
  }
  return l;
}

static int parse_not(parser *p) {
  if (!is_word(cur(p), "not")) return parse_pred(p);
  if (enter(p)) return -1;
  const rtok *t = advance(p);
  int a = parse_not(p);
  p->depth--;
  if (a < 0) return -1;
  if (!is_cond(p->cur->nodes[a].type))
    return FAIL_NODE(p, a, "expected a condition after 'not', found %s", type_name(p->cur->nodes[a].type));
  int n = mk(p, N_NOT, T_BOOL, t);
  if (n < 0) return -1;
  p->cur->nodes[n].a = a;
  return set_height(p, n, a, -1);
}

/* ---- arithmetic ---- */

static int arith(parser *p, int l, const rtok *t, int r) {
  int lt = p->cur->nodes[l].type, rt = p->cur->nodes[r].type;
  if (lt != T_NUM && lt != T_ANY) return FAIL_NODE(p, l, "expected a number before '%c', found %s", *t->p, type_name(lt));
  if (rt != T_NUM && rt != T_ANY) return FAIL_NODE(p, r, "expected a number after '%c', found %s", *t->p, type_name(rt));
  int n = mk_at(p, N_ARITH, T_NUM, l);
  if (n < 0) return -1;
  p->cur->nodes[n].sub = (uint8_t)*t->p;
  p->cur->nodes[n].a = l;
  p->cur->nodes[n].b = r;
  return set_height(p, n, l, r);
}

static int parse_mul(parser *p) {
  int l = parse_unary(p);
  while (l >= 0 && (cur(p)->kind == K_STAR || cur(p)->kind == K_SLASH)) {
    const rtok *t = advance(p);
    int r = parse_unary(p);
    if (r < 0) return -1;
    l = arith(p, l, t, r);
  }
  return l;
}

static int parse_add(parser *p) {
  int l = parse_mul(p);
  while (l >= 0 && (cur(p)->kind == K_PLUS || cur(p)->kind == K_MINUS)) {
    const rtok *t = advance(p);
    int r = parse_mul(p);
    if (r < 0) return -1;
    l = arith(p, l, t, r);
  }
  return l;
}

static int parse_primary(parser *p);

static int parse_unary(parser *p) {
  if (cur(p)->kind != K_MINUS) return parse_primary(p);
  if (enter(p)) return -1;
  const rtok *t = advance(p);
  int a = parse_unary(p);
  p->depth--;
  if (a < 0) return -1;
  rnode *x = &p->cur->nodes[a];
  if (x->op == N_NUM) { /* a negative literal */
    x->n = -x->n;
    x->line = t->line;
    x->col = t->col;
    return a;
  }
  if (x->type != T_NUM && x->type != T_ANY)
    return FAIL_NODE(p, a, "expected a number after '-', found %s", type_name(x->type));
  int n = mk(p, N_NEG, T_NUM, t);
  if (n < 0) return -1;
  p->cur->nodes[n].a = a;
  return set_height(p, n, a, -1);
}

/* ---- values ---- */

static int64_t unit_ms(const rtok *t) {
  static const struct {
    const char *w;
    int64_t ms;
  } units[] = {{"minute", 60000},     {"minutes", 60000},     {"hour", 3600000},     {"hours", 3600000},
               {"day", 86400000},     {"days", 86400000},     {"week", 604800000},   {"weeks", 604800000}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (is_word(t, units[i].w)) return units[i].ms;
  return 0;
}

#define MAX_DURATION_DAYS 36500

/* NUMBER UNIT: milliseconds, or -1. */
static int64_t parse_duration(parser *p) {
  const rtok *t = cur(p);
  if (t->kind != K_NUM) return expected(p, "a number of minutes, hours, days or weeks");
  if (t->num != floor(t->num))
    return FAIL_TOK(p, t, "expected a whole number of minutes, hours, days or weeks, found '%.*s'", (int)t->len, t->p);
  if (t->num < 1) return FAIL_TOK(p, t, "a duration must be at least 1 minute, found '%.*s'", (int)t->len, t->p);
  advance(p);
  int64_t u = unit_ms(cur(p));
  if (!u) return expected(p, "a time unit (minutes, hours, days or weeks)");
  advance(p);
  if (t->num * (double)u > (double)MAX_DURATION_DAYS * 86400000.0)
    return FAIL_TOK(p, t, "a duration can be at most %d days", MAX_DURATION_DAYS);
  return (int64_t)t->num * u;
}

static int parse_ago(parser *p) {
  const rtok *t = cur(p);
  int64_t ms = parse_duration(p);
  if (ms < 0) return -1;
  if (!is_word(cur(p), "ago")) return expected(p, "'ago' (a duration goes after 'in last' or before 'ago')");
  if (in_event_rule(p)) return FAIL_TOK(p, cur(p), "an event rule cannot depend on the current time, found 'ago'");
  advance(p);
  int n = mk(p, N_AGO, T_TIME, t);
  if (n >= 0) p->cur->nodes[n].i = ms;
  return n;
}

/* seg {"." seg}, a segment being a word or a string, into buf. */
static int parse_path(parser *p, char buf[PX_RULE_NAME_MAX], size_t *n) {
  *n = 0;
  for (;;) {
    const rtok *t = cur(p);
    const char *s;
    size_t len;
    if (t->kind == K_IDENT) s = t->p, len = t->len;
    else if (t->kind == K_STR) s = t->str, len = t->slen;
    else return expected(p, "a name");
    if (len == 0) return FAIL_TOK(p, t, "a name cannot be empty");
    if (*n + (*n ? 1 : 0) + len >= PX_RULE_NAME_MAX)
      return FAIL_TOK(p, t, "name longer than %d bytes", PX_RULE_NAME_MAX - 1);
    if (*n) buf[(*n)++] = '.';
    memcpy(buf + *n, s, len);
    *n += len;
    advance(p);
    if (cur(p)->kind != K_DOT) break;
    advance(p);
  }
  buf[*n] = 0;
  return 0;
}

static int not_in_event_rule(parser *p, const rtok *t) {
  return FAIL_TOK(p, t, "an event rule can only read the event's name and properties, found '%.*s'", (int)t->len, t->p);
}

static int only_in_where(parser *p, const rtok *t) {
  return FAIL_TOK(p, t, "an event's name and properties can only be read in an aggregation's where, found '%.*s'",
                  (int)t->len, t->p);
}

static int ref(parser *p, const rtok *at, int ns, int type, const char *name, size_t n) {
  int k = mk(p, ns < 0 ? N_PROP : N_REF, type, at);
  if (k < 0 || put_str(p, k, name, n)) return -1;
  p->cur->nodes[k].sub = (uint8_t)(ns < 0 ? 0 : ns);
  return k;
}

static int add_agg(parser *p, px_rule_agg *a, const rtok *at) {
  px_rule *r = p->top;
  for (int i = 0; i < r->naggs; i++)
    if (px_rule_agg_equal(&r->aggs[i], a)) {
      px_rule_free((px_rule *)a->where);
      return i;
    }
  if (r->naggs >= PX_RULE_MAX_AGGS) {
    px_rule_free((px_rule *)a->where);
    return FAIL_TOK(p, at, "too many aggregations in one rule (at most %d)", PX_RULE_MAX_AGGS);
  }
  px_rule_agg *q = realloc(r->aggs, (size_t)(r->naggs + 1) * sizeof *q);
  if (!q) {
    px_rule_free((px_rule *)a->where);
    if (p->st == PX_OK) p->st = PX_NOMEM;
    return -1;
  }
  r->aggs = q;
  r->aggs[r->naggs] = *a;
  return r->naggs++;
}

/* "event" [NAME] ["where" cond] ["in" "last" duration], cur at "event(s)":
 * the aggregation's index. */
static int parse_agg_spec(parser *p, int fn, const char *prop, const rtok *at) {
  px_rule_agg a;
  memset(&a, 0, sizeof a);
  a.fn = (px_agg_fn)fn;
  strcpy(a.property, prop);
  advance(p);
  if (cur(p)->kind == K_STR) {
    const rtok *t = advance(p);
    if (t->slen >= PX_RULE_NAME_MAX) return FAIL_TOK(p, t, "name longer than %d bytes", PX_RULE_NAME_MAX - 1);
    memcpy(a.event, t->str, t->slen + 1);
  }
  if (is_word(cur(p), "where")) {
    if (enter(p)) return -1;
    p->depth--;
    advance(p);
    px_rule *sub = calloc(1, sizeof *sub), *saved = p->cur;
    if (!sub) return p->st = PX_NOMEM, -1;
    sub->kind = PX_RULE_EVENT;
    sub->root = -1;
    p->cur = sub;
    p->depth++;
    int c = parse_or(p);
    p->depth--;
    if (c >= 0 && !is_cond(sub->nodes[c].type))
      c = FAIL_NODE(p, c, "expected a condition after 'where', found %s", type_name(sub->nodes[c].type));
    p->cur = saved;
    sub->root = c;
    a.where = sub;
    if (c < 0) {
      px_rule_free(sub);
      return -1;
    }
  }
  if (is_word(cur(p), "in")) {
    advance(p);
    int64_t ms = -1;
    if (!is_word(cur(p), "last")) {
      expected(p, "'last'");
    } else {
      advance(p);
      ms = parse_duration(p);
    }
    if (ms < 0) {
      px_rule_free((px_rule *)a.where);
      return -1;
    }
    a.window_ms = ms;
  }
  return add_agg(p, &a, at);
}

static int agg_type(int fn) {
  return fn == PX_AGG_FIRST || fn == PX_AGG_LAST || fn == PX_AGG_MOST_FREQUENT ? T_ANY : T_NUM;
}

static int parse_agg_call(parser *p) {
  const rtok *t = advance(p);
  int fn = -1;
  for (int i = 0; fn_names[i]; i++)
    if (is_word(t, fn_names[i])) fn = i;
  if (fn < 0)
    return FAIL_TOK(p, t,
                    "unknown function '%.*s': expected count, sum, avg, min, max, first, last, distinct, "
                    "most_frequent, ln, log1p or days_since",
                    (int)t->len, t->p);
  if (in_event_rule(p))
    return FAIL_TOK(p, t, "an event rule cannot use aggregations, found '%.*s('", (int)t->len, t->p);
  advance(p); /* ( */
  char prop[PX_RULE_NAME_MAX] = "";
  size_t plen;
  if (fn != PX_AGG_COUNT) {
    if (is_word(cur(p), "event") || cur(p)->kind != K_IDENT)
      if (cur(p)->kind != K_STR) return expected(p, "a property and 'of'");
    if (parse_path(p, prop, &plen)) return -1;
    if (!is_word(cur(p), "of")) return expected(p, "'of'");
    advance(p);
  }
  if (!is_word(cur(p), "event")) return expected(p, "'event'");
  int i = parse_agg_spec(p, fn, prop, t);
  if (i < 0) return -1;
  if (cur(p)->kind != K_RPAREN) return expected(p, "')'");
  advance(p);
  int n = mk(p, N_AGG, agg_type(fn), t);
  if (n >= 0) p->cur->nodes[n].i = i;
  return n;
}

/* ln(x), log1p(x), days_since(t): a number. */
static int parse_func_call(parser *p, int f) {
  const rtok *t = advance(p);
  const char *name = func_names[f];
  if (f == F_DAYS_SINCE && in_event_rule(p))
    return FAIL_TOK(p, t, "an event rule cannot depend on the current time, found 'days_since'");
  if (enter(p)) return -1;
  advance(p); /* ( */
  if (cur(p)->kind == K_RPAREN) {
    p->depth--;
    return expected(p, f == F_DAYS_SINCE ? "a time" : "a number");
  }
  int a = parse_add(p);
  p->depth--;
  if (a < 0) return -1;
  if (cur(p)->kind != K_RPAREN) return expected(p, "')'");
  advance(p);
  char ctx[32];
  snprintf(ctx, sizeof ctx, "in %s(...)", name);
  int at = p->cur->nodes[a].type;
  if (f == F_DAYS_SINCE) {
    if (as_time(p, a, ctx)) return -1;
  } else if (at != T_NUM && at != T_ANY) {
    return FAIL_NODE(p, a, "expected a number %s, found %s", ctx, type_name(at));
  }
  int n = mk(p, N_FUNC, T_NUM, t);
  if (n < 0) return -1;
  p->cur->nodes[n].sub = (uint8_t)f;
  p->cur->nodes[n].a = a;
  return set_height(p, n, a, -1);
}

/* no event ... / at least N events ... : count(...) compared with N. */
static int parse_count_sugar(parser *p) {
  const rtok *t = advance(p);
  int c = C_EQ;
  double want = 0;
  if (in_event_rule(p)) return not_in_event_rule(p, t);
  if (is_word(t, "at")) {
    if (is_word(cur(p), "least")) c = C_GE;
    else if (is_word(cur(p), "most")) c = C_LE;
    else return expected(p, "'least' or 'most'");
    advance(p);
    const rtok *num = cur(p);
    if (num->kind != K_NUM || num->num != floor(num->num) || num->num > 1e15) return expected(p, "a whole number");
    want = num->num;
    advance(p);
  }
  if (!is_word(cur(p), "event") && !is_word(cur(p), "events")) return expected(p, "'event'");
  int i = parse_agg_spec(p, PX_AGG_COUNT, "", t);
  if (i < 0) return -1;
  int agg = mk(p, N_AGG, T_NUM, t), num = agg < 0 ? -1 : mk(p, N_NUM, T_NUM, t), n = num < 0 ? -1 : mk(p, N_CMP, T_BOOL, t);
  if (n < 0) return -1;
  p->cur->nodes[agg].i = i;
  p->cur->nodes[num].n = want;
  rnode *x = &p->cur->nodes[n];
  x->sub = (uint8_t)c;
  x->a = agg;
  x->b = num;
  return set_height(p, n, agg, num);
}

static int add_segment(parser *p, const rtok *t) {
  px_rule *r = p->top;
  for (int i = 0; i < r->nsegs; i++)
    if (strcmp(r->segs[i], t->str) == 0) return i;
  if (r->nsegs >= PX_RULE_MAX_SEGMENTS)
    return FAIL_TOK(p, t, "too many segments in one rule (at most %d)", PX_RULE_MAX_SEGMENTS);
  char **q = realloc(r->segs, (size_t)(r->nsegs + 1) * sizeof *q);
  char *s = q ? strdup(t->str) : NULL;
  if (q) r->segs = q;
  if (!s) return p->st = PX_NOMEM, -1;
  r->segs[r->nsegs] = s;
  return r->nsegs++;
}

static int parse_word(parser *p) {
  const rtok *t = cur(p);
  char name[PX_RULE_NAME_MAX];
  size_t n;
  if (is_word(t, "true") || is_word(t, "false")) {
    advance(p);
    int k = mk(p, N_BOOL, T_BOOL, t);
    if (k >= 0) p->cur->nodes[k].i = is_word(t, "true");
    return k;
  }
  if (!px_rule_reserved(t->p, t->len) && peek(p, 1)->kind == K_LPAREN) {
    for (int f = 0; func_names[f]; f++)
      if (is_word(t, func_names[f])) return parse_func_call(p, f);
    return parse_agg_call(p);
  }
  if (is_word(t, "in")) { /* in segment "NAME" */
    if (in_event_rule(p)) return not_in_event_rule(p, t);
    advance(p);
    if (!is_word(cur(p), "segment")) return expected(p, "'segment'");
    advance(p);
    const rtok *s = cur(p);
    if (s->kind != K_STR) return expected(p, "a segment name in double quotes");
    if (s->slen == 0) return FAIL_TOK(p, s, "a name cannot be empty");
    if (s->slen >= PX_RULE_NAME_MAX) return FAIL_TOK(p, s, "name longer than %d bytes", PX_RULE_NAME_MAX - 1);
    advance(p);
    int i = add_segment(p, s), k = i < 0 ? -1 : mk(p, N_SEG, T_BOOL, t);
    if (k >= 0) p->cur->nodes[k].i = i;
    return k;
  }
  if (is_word(t, "has")) { /* has [identifier] KIND */
    if (in_event_rule(p)) return not_in_event_rule(p, t);
    advance(p);
    if (is_word(cur(p), "identifier") && (peek(p, 1)->kind == K_IDENT || peek(p, 1)->kind == K_STR)) advance(p);
    const rtok *k = cur(p);
    if (!(k->kind == K_STR || (k->kind == K_IDENT && !px_rule_reserved(k->p, k->len))))
      return expected(p, "an identifier kind");
    const char *s = k->kind == K_STR ? k->str : k->p;
    size_t len = k->kind == K_STR ? k->slen : k->len;
    if (len == 0) return FAIL_TOK(p, k, "a name cannot be empty");
    if (len >= PX_RULE_NAME_MAX) return FAIL_TOK(p, k, "name longer than %d bytes", PX_RULE_NAME_MAX - 1);
    advance(p);
    int x = mk(p, N_HAS, T_BOOL, t);
    if (x < 0 || put_str(p, x, s, len)) return -1;
    return x;
  }
  if (is_word(t, "consented")) { /* consented to PURPOSE */
    if (in_event_rule(p)) return not_in_event_rule(p, t);
    advance(p);
    if (!is_word(cur(p), "to")) return expected(p, "'to'");
    advance(p);
    const rtok *k = cur(p);
    if (k->kind != K_STR && k->kind != K_IDENT) return expected(p, "a consent purpose");
    if (parse_path(p, name, &n)) return -1;
    return ref(p, t, PX_NS_CONSENT, T_BOOL, name, n);
  }
  if (is_word(t, "no") || is_word(t, "at")) return parse_count_sugar(p);
  if (is_word(t, "first_seen") || is_word(t, "last_seen")) {
    if (in_event_rule(p)) return not_in_event_rule(p, t);
    advance(p);
    return ref(p, t, PX_NS_PROFILE, T_TIME, t->p, t->len);
  }
  if (is_word(t, "event")) {
    if (!in_event_rule(p)) return only_in_where(p, t);
    advance(p);
    return mk(p, N_EVNAME, T_STR, t);
  }
  if (px_rule_namespace(t->p, t->len)) {
    advance(p);
    if (cur(p)->kind != K_DOT) return expected(p, "'.' and a name");
    advance(p);
    int is_prop = is_word(t, "property");
    if (is_prop && !in_event_rule(p)) return only_in_where(p, t);
    if (!is_prop && in_event_rule(p)) return not_in_event_rule(p, t);
    const rtok *nt = cur(p);
    if (parse_path(p, name, &n)) return -1;
    if (is_prop) return ref(p, t, -1, T_ANY, name, n);
    if (is_word(t, "trait")) return ref(p, t, PX_NS_TRAIT, T_ANY, name, n);
    if (is_word(t, "computed")) return ref(p, t, PX_NS_COMPUTED, T_ANY, name, n);
    if (is_word(t, "score")) return ref(p, t, PX_NS_SCORE, T_ANY, name, n);
    if (is_word(t, "account")) return ref(p, t, PX_NS_ACCOUNT, T_ANY, name, n);
    if (is_word(t, "consent")) return ref(p, t, PX_NS_CONSENT, T_BOOL, name, n);
    if (is_word(t, "identifier")) return ref(p, t, PX_NS_IDENTIFIER, T_STR, name, n);
    /* profile */
    if (strcmp(name, "first_seen") == 0 || strcmp(name, "last_seen") == 0)
      return ref(p, t, PX_NS_PROFILE, T_TIME, name, n);
    if (strcmp(name, "events") == 0) return ref(p, t, PX_NS_PROFILE, T_NUM, name, n);
    return FAIL_TOK(p, nt, "unknown profile field '%.40s': expected first_seen, last_seen or events", name);
  }
  if (px_rule_reserved(t->p, t->len)) return expect_value(p);
  if (parse_path(p, name, &n)) return -1;
  return in_event_rule(p) ? ref(p, t, -1, T_ANY, name, n) : ref(p, t, PX_NS_TRAIT, T_ANY, name, n);
}

static int parse_primary(parser *p) {
  const rtok *t = cur(p);
  switch (t->kind) {
    case K_NUM: {
      if (peek(p, 1)->kind == K_IDENT && unit_ms(peek(p, 1))) return parse_ago(p);
      advance(p);
      int n = mk(p, N_NUM, T_NUM, t);
      if (n >= 0) p->cur->nodes[n].n = t->num;
      return n;
    }
    case K_STR: {
      advance(p);
      int n = mk(p, N_STR, T_STR, t);
      if (n < 0 || put_str(p, n, t->str, t->slen)) return -1;
      return n;
    }
    case K_LPAREN: {
      if (enter(p)) return -1;
      advance(p);
      int e = parse_or(p);
      p->depth--;
      if (e < 0) return -1;
      if (cur(p)->kind != K_RPAREN) return expected(p, "')'");
      advance(p);
      return e;
    }
    case K_IDENT: return parse_word(p);
    default: return expect_value(p);
  }
}

/* ---- the API ---- */

void px_rule_free_parts(px_rule *r) {
  free(r->nodes);
  free(r->kids);
  free(r->pool);
  for (int i = 0; i < r->naggs; i++) px_rule_free((px_rule *)r->aggs[i].where);
  free(r->aggs);
  for (int i = 0; i < r->nsegs; i++) free(r->segs[i]);
  free(r->segs);
}

void px_rule_free(px_rule *r) {
  if (!r) return;
  px_rule_free_parts(r);
  free(r);
}

px_status px_rule_compile(const char *src, size_t n, px_rule_kind kind, px_rule **out, px_rule_error *err) {
  *out = NULL;
  if (err) memset(err, 0, sizeof *err);
  if (n > PX_RULE_MAX_BYTES) {
    if (err) {
      err->line = err->column = 1;
      snprintf(err->message, sizeof err->message, "the rule is longer than %d bytes", PX_RULE_MAX_BYTES);
    }
    return PX_TOO_LARGE;
  }
  rtok *toks;
  int ntok;
  char *scratch;
  px_status s = px_rule_lex(src ? src : "", src ? n : 0, &toks, &ntok, &scratch, err);
  px_rule *r = s == PX_OK ? calloc(1, sizeof *r) : NULL;
  if (s == PX_OK && !r) s = PX_NOMEM;
  if (s == PX_OK) {
    r->kind = kind;
    r->root = -1;
    parser p = {.t = toks, .top = r, .cur = r, .err = err};
    int root = parse_or(&p);
    if (root >= 0 && cur(&p)->kind != K_EOF) root = expected(&p, "'and', 'or' or the end of the rule");
    if (root >= 0 && !is_cond(r->nodes[root].type))
      root = FAIL_NODE(&p, root, "the rule must be a condition (true or false), found %s", type_name(r->nodes[root].type));
    free(p.stack);
    s = p.st;
    r->root = root;
    if (s == PX_OK && root < 0) s = PX_INVALID;
  }
  free(toks);
  free(scratch);
  if (s != PX_OK) {
    px_rule_free(r);
    return s;
  }
  *out = r;
  return PX_OK;
}

px_status px_rule_reference(const char *src, size_t n, px_rule_ns *ns, char name[PX_RULE_NAME_MAX], px_rule_error *err) {
  if (err) memset(err, 0, sizeof *err);
  name[0] = 0;
  if (n > PX_RULE_NAME_MAX * 2) {
    if (err) {
      err->line = err->column = 1;
      snprintf(err->message, sizeof err->message, "a reference is at most %d bytes", PX_RULE_NAME_MAX * 2);
    }
    return PX_INVALID;
  }
  rtok *toks;
  int ntok;
  char *scratch;
  px_rule r = {.kind = PX_RULE_PROFILE, .root = -1};
  px_status s = px_rule_lex(src ? src : "", src ? n : 0, &toks, &ntok, &scratch, err);
  if (s == PX_OK) {
    parser p = {.t = toks, .top = &r, .cur = &r, .err = err};
    const rtok *first = cur(&p);
    int word = first->kind == K_IDENT && (!px_rule_reserved(first->p, first->len) ||
                                          px_rule_namespace(first->p, first->len) || is_word(first, "first_seen") ||
                                          is_word(first, "last_seen"));
    int k = word ? parse_word(&p) : -1;
    if (k < 0) {
      if (p.st == PX_OK) {
        char b[64];
        FAIL_TOK(&p, first, "expected a trait, computed.NAME, score.NAME, account.NAME, first_seen, last_seen or "
                            "profile.events, found %s", describe(first, b, sizeof b));
      }
    } else if (r.nodes[k].op != N_REF) {
      FAIL_TOK(&p, first, "expected a trait, computed.NAME, score.NAME, account.NAME, first_seen, last_seen or "
                          "profile.events, found '%.*s'", (int)first->len, first->p);
    } else if (cur(&p)->kind != K_EOF) {
      expected(&p, "the end of the reference");
    } else {
      *ns = (px_rule_ns)r.nodes[k].sub;
      memcpy(name, rule_str(&r, &r.nodes[k]), r.nodes[k].slen + 1);
    }
    free(p.stack);
    s = p.st;
  }
  px_rule_free_parts(&r);
  free(toks);
  free(scratch);
  return s;
}

int px_rule_naggs(const px_rule *r) { return r ? r->naggs : 0; }
const px_rule_agg *px_rule_agg_at(const px_rule *r, int i) { return r && i >= 0 && i < r->naggs ? &r->aggs[i] : NULL; }
int px_rule_nsegments(const px_rule *r) { return r ? r->nsegs : 0; }
const char *px_rule_segment_at(const px_rule *r, int i) { return r && i >= 0 && i < r->nsegs ? r->segs[i] : NULL; }
static int is_ref(const rnode *x) { return x->op == N_REF || x->op == N_HAS; }

int px_rule_nrefs(const px_rule *r) {
  int n = 0;
  for (int i = 0; r && i < r->nnodes; i++) n += is_ref(&r->nodes[i]);
  return n;
}

const char *px_rule_ref_at(const px_rule *r, int i, px_rule_ns *ns) {
  for (int k = 0; r && i >= 0 && k < r->nnodes; k++) {
    const rnode *x = &r->nodes[k];
    if (!is_ref(x) || i--) continue;
    *ns = x->op == N_HAS ? PX_NS_IDENTIFIER : (px_rule_ns)x->sub;
    return rule_str(r, x);
  }
  return NULL;
}

int px_rule_reads_now(const px_rule *r) {
  for (int i = 0; r && i < r->nnodes; i++)
    if (r->nodes[i].op == N_AGO || (r->nodes[i].op == N_FUNC && r->nodes[i].sub == F_DAYS_SINCE)) return 1;
  return 0;
}

px_rule_kind px_rule_get_kind(const px_rule *r) { return r->kind; }

int px_rule_node_equal(const px_rule *ra, int a, const px_rule *rb, int b) {
  const rnode *x = &ra->nodes[a], *y = &rb->nodes[b];
  if (x->op != y->op || x->type != y->type || x->sub != y->sub || x->neg != y->neg || x->timecmp != y->timecmp)
    return 0;
  switch (x->op) {
    case N_BOOL:
    case N_AGO:
    case N_AGG:
    case N_SEG:
    case N_EVNAME: return x->i == y->i;
    case N_NUM: return x->n == y->n && signbit(x->n) == signbit(y->n);
    case N_TIME:
    case N_STR:
    case N_REF:
    case N_PROP:
    case N_HAS: return x->i == y->i && x->slen == y->slen && memcmp(rule_str(ra, x), rule_str(rb, y), x->slen) == 0;
    case N_NEG:
    case N_NOT:
    case N_FUNC:
    case N_ISNULL: return px_rule_node_equal(ra, x->a, rb, y->a);
    case N_ARITH:
    case N_CMP:
    case N_TEXT: return px_rule_node_equal(ra, x->a, rb, y->a) && px_rule_node_equal(ra, x->b, rb, y->b);
    case N_IN:
      if (!px_rule_node_equal(ra, x->a, rb, y->a)) return 0;
      /* fall through */
    default:
      if (x->i != y->i) return 0;
      for (int64_t k = 0; k < x->i; k++)
        if (!px_rule_node_equal(ra, ra->kids[x->b + k], rb, rb->kids[y->b + k])) return 0;
      return 1;
  }
}

static int decay_equal(const px_decay_spec *a, const px_decay_spec *b) {
  if (!a || !b) return !a && !b;
  if (a->n != b->n) return 0;
  for (int i = 0; i < a->n; i++)
    if (strcmp(a->t[i].event, b->t[i].event) || a->t[i].weight != b->t[i].weight ||
        a->t[i].half_life_ms != b->t[i].half_life_ms)
      return 0;
  return 1;
}

int px_rule_agg_equal(const px_rule_agg *a, const px_rule_agg *b) {
  if (a->fn != b->fn || a->window_ms != b->window_ms || strcmp(a->event, b->event) || strcmp(a->property, b->property) ||
      !decay_equal(a->decay, b->decay))
    return 0;
  if (!a->where || !b->where) return !a->where && !b->where;
  return px_rule_node_equal(a->where, a->where->root, b->where, b->where->root);
}

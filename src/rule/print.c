/* Canonical rule text: single spaces, parentheses only where precedence
 * needs them, names bare when they can be, strings with minimal escapes,
 * numbers in their shortest exact form, durations in their largest whole
 * unit, sugar (no event, at least N events, consented to) spelled out. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule/rule_int.h"

typedef struct out {
  char *o;
  size_t n, len;
  int over;
} out;

static void put(out *w, const char *s, size_t n) {
  if (w->over || n >= w->n - w->len) {
    w->over = 1;
    return;
  }
  memcpy(w->o + w->len, s, n);
  w->len += n;
  w->o[w->len] = 0;
}

static void puts_(out *w, const char *s) { put(w, s, strlen(s)); }

static void quoted(out *w, const char *s, size_t n) {
  put(w, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\', esc[1] = (char)c;
      put(w, esc, 2);
    } else if (c == '\n') {
      put(w, "\\n", 2);
    } else if (c == '\t') {
      put(w, "\\t", 2);
    } else if (c == '\r') {
      put(w, "\\r", 2);
    } else if (c < 0x20 || c == 0x7F) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      put(w, esc, 6);
    } else {
      put(w, s + i, 1);
    }
  }
  put(w, "\"", 1);
}

static int word_ok(const char *s, size_t n) {
  if (!n || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_')) return 0;
  for (size_t i = 1; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
      return 0;
  return 1;
}

/* Every dot-separated segment a word; with bare, the first is not reserved. */
static int path_ok(const char *s, int bare) {
  const char *seg = s;
  for (int first = 1;; first = 0) {
    const char *dot = strchr(seg, '.');
    size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
    if (!word_ok(seg, n)) return 0;
    if (first && bare && px_rule_reserved(seg, n)) return 0;
    if (!dot) return 1;
    seg = dot + 1;
  }
}

/* name bare, or prefix + name, or prefix + quoted name. */
static void name(out *w, const char *prefix, const char *s, int may_be_bare) {
  if (may_be_bare && path_ok(s, 1)) return puts_(w, s);
  if (prefix) puts_(w, prefix);
  if (path_ok(s, !prefix)) return puts_(w, s);
  quoted(w, s, strlen(s));
}

static void number(out *w, double v) {
  char buf[40];
  if (v == floor(v) && fabs(v) < 1e15) {
    snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    for (int prec = 1; prec <= 17; prec++) {
      snprintf(buf, sizeof buf, "%.*g", prec, v);
      if (strtod(buf, NULL) == v) break;
    }
  }
  puts_(w, buf);
}

static void duration(out *w, int64_t ms) {
  static const struct {
    int64_t ms;
    const char *one, *many;
  } units[] = {{604800000, "week", "weeks"}, {86400000, "day", "days"}, {3600000, "hour", "hours"},
               {60000, "minute", "minutes"}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (ms % units[i].ms == 0 || i == 3) {
      char buf[48];
      long long k = (long long)(ms / units[i].ms);
      snprintf(buf, sizeof buf, "%lld %s", k, k == 1 ? units[i].one : units[i].many);
      return puts_(w, buf);
    }
}

static int prec(const rnode *x) {
  switch (x->op) {
    case N_OR: return 1;
    case N_AND: return 2;
    case N_NOT: return 3;
    case N_CMP:
    case N_IN:
    case N_TEXT:
    case N_ISNULL: return 4;
    case N_ARITH: return x->sub == '+' || x->sub == '-' ? 5 : 6;
    case N_NEG: return 7;
    default: return 8;
  }
}

static void node(out *w, const px_rule *r, int i, int min_prec);
static void agg(out *w, const px_rule_agg *a);

static void child(out *w, const px_rule *r, int i, int min_prec) {
  if (prec(&r->nodes[i]) < min_prec) {
    put(w, "(", 1);
    node(w, r, i, 0);
    put(w, ")", 1);
  } else {
    node(w, r, i, min_prec);
  }
}

static void node(out *w, const px_rule *r, int i, int min_prec) {
  (void)min_prec;
  const rnode *x = &r->nodes[i];
  switch (x->op) {
    case N_BOOL: puts_(w, x->i ? "true" : "false"); break;
    case N_NUM: number(w, x->n); break;
    case N_STR:
    case N_TIME: quoted(w, rule_str(r, x), x->slen); break;
    case N_AGO:
      duration(w, x->i);
      puts_(w, " ago");
      break;
    case N_EVNAME: puts_(w, "event"); break;
    case N_PROP: name(w, "property.", rule_str(r, x), 1); break;
    case N_REF: {
      const char *s = rule_str(r, x);
      switch ((px_rule_ns)x->sub) {
        case PX_NS_TRAIT: name(w, "trait.", s, !px_rule_namespace(s, strcspn(s, "."))); break;
        case PX_NS_COMPUTED: name(w, "computed.", s, 0); break;
        case PX_NS_SCORE: name(w, "score.", s, 0); break;
        case PX_NS_ACCOUNT: name(w, "account.", s, 0); break;
        case PX_NS_CONSENT: name(w, "consent.", s, 0); break;
        case PX_NS_IDENTIFIER: name(w, "identifier.", s, 0); break;
        case PX_NS_PROFILE:
          if (strcmp(s, "events") == 0) puts_(w, "profile.");
          puts_(w, s);
          break;
      }
      break;
    }
    case N_AGG: agg(w, &r->aggs[x->i]); break;
    case N_SEG:
      puts_(w, "in segment ");
      quoted(w, r->segs[x->i], strlen(r->segs[x->i]));
      break;
    case N_HAS: {
      const char *s = rule_str(r, x);
      puts_(w, "has ");
      if (word_ok(s, x->slen) && !px_rule_reserved(s, x->slen)) puts_(w, s);
      else quoted(w, s, x->slen);
      break;
    }
    case N_NEG:
      put(w, "-", 1);
      child(w, r, x->a, 7);
      break;
    case N_FUNC:
      puts_(w, px_rule_func_name(x->sub));
      put(w, "(", 1);
      node(w, r, x->a, 0);
      put(w, ")", 1);
      break;
    case N_ARITH: {
      int p = prec(x);
      char op[4] = {' ', (char)x->sub, ' ', 0};
      child(w, r, x->a, p);
      puts_(w, op);
      child(w, r, x->b, p + 1);
      break;
    }
    case N_CMP: {
      static const char *const ops[] = {" = ", " != ", " < ", " <= ", " > ", " >= "};
      child(w, r, x->a, 5);
      if (x->timecmp && x->sub == C_LT) puts_(w, " before ");
      else if (x->timecmp && x->sub == C_GT) puts_(w, " after ");
      else puts_(w, ops[x->sub]);
      child(w, r, x->b, 5);
      break;
    }
    case N_IN:
      child(w, r, x->a, 5);
      puts_(w, x->neg ? " not in [" : " in [");
      for (int64_t k = 0; k < x->i; k++) {
        if (k) puts_(w, ", ");
        node(w, r, r->kids[x->b + k], 0);
      }
      put(w, "]", 1);
      break;
    case N_TEXT:
      child(w, r, x->a, 5);
      puts_(w, x->sub == X_CONTAINS ? " contains " : x->sub == X_STARTS ? " starts with " : " ends with ");
      child(w, r, x->b, 5);
      break;
    case N_ISNULL:
      child(w, r, x->a, 5);
      puts_(w, x->neg ? " is not null" : " is null");
      break;
    case N_NOT:
      puts_(w, "not ");
      child(w, r, x->a, 3);
      break;
    case N_AND:
    case N_OR:
      for (int64_t k = 0; k < x->i; k++) {
        if (k) puts_(w, x->op == N_AND ? " and " : " or ");
        child(w, r, r->kids[x->b + k], x->op == N_AND ? 3 : 2);
      }
      break;
  }
}

/* decay("Order Completed" 10 per 30d, "*" 1 per 7d): a decayed score's
 * terms (its key; not rule syntax). */
static void decay(out *w, const px_decay_spec *d) {
  puts_(w, "decay(");
  for (int i = 0; d && i < d->n; i++) {
    char t[64];
    if (i) puts_(w, ", ");
    quoted(w, d->t[i].event, strlen(d->t[i].event));
    snprintf(t, sizeof t, " %.17g per %lldms", d->t[i].weight, (long long)d->t[i].half_life_ms);
    puts_(w, t);
  }
  put(w, ")", 1);
}

static void agg(out *w, const px_rule_agg *a) {
  if (a->fn == PX_AGG_DECAY) return decay(w, a->decay);
  puts_(w, px_rule_agg_fn_name(a->fn));
  put(w, "(", 1);
  if (a->property[0]) {
    if (path_ok(a->property, 1)) puts_(w, a->property);
    else quoted(w, a->property, strlen(a->property));
    puts_(w, " of ");
  }
  puts_(w, "event");
  if (a->event[0]) {
    put(w, " ", 1);
    quoted(w, a->event, strlen(a->event));
  }
  if (a->where) {
    puts_(w, " where ");
    node(w, a->where, a->where->root, 0);
  }
  if (a->window_ms > 0) {
    puts_(w, " in last ");
    duration(w, a->window_ms);
  }
  put(w, ")", 1);
}

static px_status finish(out *w) {
  if (!w->over) return PX_OK;
  if (w->n) w->o[0] = 0;
  return PX_TOO_LARGE;
}

px_status px_rule_print(const px_rule *r, char *o, size_t n) {
  out w = {o, n, 0, n == 0};
  if (n) o[0] = 0;
  if (!w.over) node(&w, r, r->root, 0);
  return finish(&w);
}

px_status px_rule_agg_print(const px_rule_agg *a, char *o, size_t n) {
  out w = {o, n, 0, n == 0};
  if (n) o[0] = 0;
  if (!w.over) agg(&w, a);
  return finish(&w);
}

/* Evaluating compiled rules: two-valued logic where a comparison with a
 * missing value is false, short-circuit and/or, and for profile rules the
 * earliest instant the result can change without a new event. Allocates
 * nothing; recursion is bounded by PX_RULE_MAX_DEPTH. */
#include <math.h>
#include <string.h>

#include "base/timeutil.h"
#include "rule/rule_int.h"

typedef struct ectx {
  const px_rule *r;
  const px_rule_env *env;
  const char *evname;
  const cJSON *props;
  int64_t now, until;
  px_status st;
} ectx;

/* A runtime value; nowdep: a time that moves with now (N days ago);
 * trend: px_rule_value's. */
typedef struct val {
  px_rule_vtype type;
  int b;
  double n;
  const char *s;
  size_t len;
  int64_t t;
  int nowdep;
  int trend;
  double (*decay_at)(const void *arg, int64_t t_ms); /* px_rule_value's */
  const void *decay_arg;
} val;

static int cond(ectx *c, int i);

static void lower(ectx *c, int64_t t) {
  if (t < c->until) c->until = t;
}

static void set_null(val *v) { memset(v, 0, sizeof *v); }

static void from_public(val *v, const px_rule_value *pv) {
  set_null(v);
  v->type = pv->type;
  switch (pv->type) {
    case PX_RV_BOOL: v->b = pv->b != 0; break;
    case PX_RV_NUM:
      v->n = pv->n;
      v->trend = pv->trend < 0 ? -1 : 0;
      v->decay_at = pv->decay_at, v->decay_arg = pv->decay_arg;
      if (!isfinite(v->n)) set_null(v);
      break;
    case PX_RV_STR:
      v->s = pv->s ? pv->s : "";
      v->len = pv->s ? pv->len : 0;
      break;
    case PX_RV_TIME: v->t = pv->t; break;
    default: v->type = PX_RV_NULL; break;
  }
}

/* A string or time read as a time; 0 when it is not one. */
static int to_time(const val *v, int64_t *t) {
  if (v->type == PX_RV_TIME) return *t = v->t, 1;
  if (v->type != PX_RV_STR || v->len == 0 || v->len >= 64) return 0;
  char buf[64];
  memcpy(buf, v->s, v->len);
  buf[v->len] = 0;
  return px_time_parse_iso(buf, t) == PX_OK;
}

static void json_value(const cJSON *j, val *v) {
  set_null(v);
  if (cJSON_IsString(j) && j->valuestring) {
    v->type = PX_RV_STR;
    v->s = j->valuestring;
    v->len = strlen(j->valuestring);
  } else if (cJSON_IsNumber(j) && isfinite(j->valuedouble)) {
    v->type = PX_RV_NUM;
    v->n = j->valuedouble;
  } else if (cJSON_IsBool(j)) {
    v->type = PX_RV_BOOL;
    v->b = cJSON_IsTrue(j);
  }
}

/* path ("a.b.c") into the event's properties. */
static void property(const cJSON *props, const char *path, val *v) {
  set_null(v);
  const cJSON *j = props;
  while (j && cJSON_IsObject(j)) {
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    const cJSON *m = j->child;
    while (m && !(m->string && strlen(m->string) == n && memcmp(m->string, path, n) == 0)) m = m->next;
    if (!m) return;
    if (!dot) {
      json_value(m, v);
      return;
    }
    j = m;
    path = dot + 1;
  }
}

#define DAY_MS 86400000LL

static void value(ectx *c, int i, val *v);

int px_rule_days_since(int64_t now_ms, int64_t t_ms, int64_t *days) {
  int64_t d;
  if (__builtin_sub_overflow(now_ms, t_ms, &d)) return 0;
  *days = d / DAY_MS - (d % DAY_MS < 0); /* floor */
  return 1;
}

/* days_since(t): whole days from t to now (floored; negative for a time
 * to come). It next changes when the following whole day is reached. */
static void days_since(ectx *c, const val *a, val *v) {
  int64_t t, k, next;
  if (!to_time(a, &t) || !px_rule_days_since(c->now, t, &k)) return set_null(v);
  if (!__builtin_mul_overflow(k + 1, DAY_MS, &next) && !__builtin_add_overflow(next, t, &next)) lower(c, next);
  v->type = PX_RV_NUM;
  v->n = (double)k;
}

static void func(ectx *c, const rnode *x, val *v) {
  val a;
  value(c, x->a, &a);
  set_null(v);
  if (x->sub == F_DAYS_SINCE) return days_since(c, &a, v);
  if (a.type != PX_RV_NUM || a.n < 0 || (x->sub == F_LN && a.n == 0)) return; /* ln: x > 0; log1p: x >= 0 */
  v->type = PX_RV_NUM;
  v->n = x->sub == F_LN ? log(a.n) : log1p(a.n);
  if (!isfinite(v->n)) set_null(v);
}

static void value(ectx *c, int i, val *v) {
  const px_rule *r = c->r;
  const rnode *x = &r->nodes[i];
  set_null(v);
  switch (x->op) {
    case N_NUM: v->type = PX_RV_NUM, v->n = x->n; return;
    case N_STR: v->type = PX_RV_STR, v->s = rule_str(r, x), v->len = x->slen; return;
    case N_TIME: v->type = PX_RV_TIME, v->t = x->i; return;
    case N_AGO:
      v->type = PX_RV_TIME, v->nowdep = 1;
      v->t = c->now - x->i;
      return;
    case N_EVNAME:
      if (c->evname) v->type = PX_RV_STR, v->s = c->evname, v->len = strlen(c->evname);
      return;
    case N_PROP: property(c->props, rule_str(r, x), v); return;
    case N_REF:
    case N_AGG: {
      px_rule_value pv;
      memset(&pv, 0, sizeof pv);
      int64_t vu = INT64_MAX;
      px_status s = x->op == N_REF ? c->env->get(c->env->arg, (px_rule_ns)x->sub, rule_str(r, x), &pv, &vu)
                                   : c->env->aggregate(c->env->arg, (int)x->i, &pv, &vu);
      if (s != PX_OK) {
        if (c->st == PX_OK) c->st = s;
        return;
      }
      lower(c, vu);
      from_public(v, &pv);
      /* A decaying value: re-read it after a while, unless a comparison
       * with a fixed bound finds its flip (eval_cmp). */
      if (v->decay_at) lower(c, c->now > INT64_MAX - PX_RULE_DECAY_RECHECK_MS ? INT64_MAX : c->now + PX_RULE_DECAY_RECHECK_MS);
      if (x->type == T_TIME) { /* first_seen, last_seen */
        int64_t t;
        if (v->type == PX_RV_NUM) t = (int64_t)v->n;
        else if (!to_time(v, &t)) return set_null(v);
        set_null(v);
        v->type = PX_RV_TIME, v->t = t;
      } else if ((x->type == T_BOOL && v->type != PX_RV_BOOL) || (x->type == T_STR && v->type != PX_RV_STR) ||
                 (x->type == T_NUM && v->type != PX_RV_NUM)) {
        set_null(v);
      }
      return;
    }
    case N_NEG:
      value(c, x->a, v);
      if (v->type != PX_RV_NUM) return set_null(v);
      v->n = -v->n;
      v->trend = 0; /* computed values: no longer known to fall */
      v->decay_at = NULL;
      return;
    case N_FUNC:
      func(c, x, v);
      v->trend = 0;
      v->decay_at = NULL;
      return;
    case N_ARITH: {
      val b;
      value(c, x->a, v);
      v->trend = 0;
      v->decay_at = NULL;
      if (v->type != PX_RV_NUM) return set_null(v);
      value(c, x->b, &b);
      if (b.type != PX_RV_NUM) return set_null(v);
      switch (x->sub) {
        case '+': v->n += b.n; break;
        case '-': v->n -= b.n; break;
        case '*': v->n *= b.n; break;
        default: v->n = b.n == 0 ? NAN : v->n / b.n; break;
      }
      if (!isfinite(v->n)) set_null(v);
      return;
    }
    default: /* conditions as values */
      v->type = PX_RV_BOOL;
      v->b = cond(c, i);
      return;
  }
}

/* Three-way comparison; 0 when the values cannot be compared (a null, or
 * different types). */
static int compare(const val *a, const val *b, int timecmp, int *out) {
  if (a->type == PX_RV_NULL || b->type == PX_RV_NULL) return 0;
  int64_t ta, tb;
  if (timecmp || a->type == PX_RV_TIME || b->type == PX_RV_TIME) {
    if (!to_time(a, &ta) || !to_time(b, &tb)) return 0;
    *out = ta < tb ? -1 : ta > tb;
    return 1;
  }
  if (a->type != b->type) return 0;
  switch (a->type) {
    case PX_RV_NUM: *out = a->n < b->n ? -1 : a->n > b->n; return 1;
    case PX_RV_BOOL: *out = a->b - b->b; return 1;
    case PX_RV_STR: {
      size_t n = a->len < b->len ? a->len : b->len;
      int d = n ? memcmp(a->s, b->s, n) : 0;
      *out = d ? (d < 0 ? -1 : 1) : a->len < b->len ? -1 : a->len > b->len;
      return 1;
    }
    default: return 0;
  }
}

static int holds(int op, int d) {
  switch (op) {
    case C_EQ: return d == 0;
    case C_NE: return d != 0;
    case C_LT: return d < 0;
    case C_LE: return d <= 0;
    case C_GT: return d > 0;
    default: return d >= 0;
  }
}

/* When a comparison of two times of which exactly one moves with now next
 * changes its result: a - b = d0 at now, and moves by slope (+1 or -1) per
 * millisecond. */
static void time_flip(ectx *c, int op, int64_t d0, int slope) {
  if (slope < 0) { /* mirror: compare b - a, which grows */
    d0 = d0 == INT64_MIN ? INT64_MAX : -d0;
    static const int mirror[] = {C_EQ, C_NE, C_GT, C_GE, C_LT, C_LE};
    op = mirror[op];
  }
  int64_t delta = INT64_MAX; /* never */
  switch (op) {
    case C_LT:
    case C_GE:
      if (d0 < 0) delta = -d0;
      break;
    case C_LE:
    case C_GT:
      if (d0 <= 0) delta = d0 == INT64_MIN ? INT64_MAX : -d0 + 1;
      break;
    default: /* = and != */
      if (d0 == 0) delta = 1;
      else if (d0 < 0) delta = -d0;
      break;
  }
  if (delta == INT64_MAX || c->now > INT64_MAX - delta) return;
  lower(c, c->now + delta);
}

/* Whether a op b, d = a <=> b, stays as it is while time passes, a falling
 * (trend -1: to 0 at the lowest) and b fixed: a below b stays below; a
 * equal to b can only go below (a > b stays false, a <= b true); a at 0
 * stays there. */
static int settled(int op, const val *a, int d) {
  return d < 0 || a->n == 0 || (d == 0 && (op == C_GT || op == C_LE));
}

/* The same with the sides swapped: op as seen from b. */
static int mirror(int op) {
  switch (op) {
    case C_LT: return C_GT;
    case C_LE: return C_GE;
    case C_GT: return C_LT;
    case C_GE: return C_LE;
    default: return op;
  }
}

/* The first instant after now at which a decaying value (non-increasing)
 * satisfies f(t) < bound (strict) or f(t) <= bound: found on the value's own
 * function, so the value read then is the one that crosses. INT64_MAX when
 * it does not within a century. */
static int64_t decay_reaches(const val *a, double bound, int strict, int64_t now) {
  const int64_t horizon = 100LL * 366 * 86400000;
#define BELOW(t) (strict ? a->decay_at(a->decay_arg, (t)) < bound : a->decay_at(a->decay_arg, (t)) <= bound)
  int64_t lo = now, step = 1, hi;
  for (;;) { /* lo does not satisfy; look ahead in doubling steps */
    if (step > horizon || lo > INT64_MAX - step) return INT64_MAX;
    hi = lo + step;
    if (BELOW(hi)) break;
    lo = hi;
    step *= 2;
  }
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    if (BELOW(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
#undef BELOW
}

/* A comparison of a decaying value with a fixed bound can only change
 * where the value reaches the bound and where it passes below it. */
static void decay_flip(ectx *c, const val *a, double bound) {
  if (a->n > bound) lower(c, decay_reaches(a, bound, 0, c->now)); /* it passes below no earlier */
  else if (a->n == bound) lower(c, decay_reaches(a, bound, 1, c->now));
}

static int eval_cmp(ectx *c, const rnode *x) {
  val a, b;
  int64_t u0 = c->until;
  value(c, x->a, &a);
  int64_t u1 = c->until;
  value(c, x->b, &b);
  int d;
  if (!compare(&a, &b, x->timecmp, &d)) return 0;
  if (a.nowdep != b.nowdep) {
    int64_t ta, tb, d0;
    to_time(&a, &ta), to_time(&b, &tb);
    if (__builtin_sub_overflow(ta, tb, &d0)) lower(c, c->now + 1);
    else time_flip(c, x->sub, d0, a.nowdep ? 1 : -1); /* a - b grows when a moves */
  } else if (a.type == PX_RV_NUM && b.type == PX_RV_NUM) {
    /* A decaying score against a fixed number: when it flips, exactly. */
    if (a.decay_at && !b.decay_at && !b.trend && c->until == u1) {
      c->until = u0;
      decay_flip(c, &a, b.n);
    } else if (b.decay_at && !a.decay_at && !a.trend && u1 == u0) {
      c->until = u0;
      decay_flip(c, &b, a.n);
    }
    /* A falling count against a fixed number: the result may not move at
     * all, and then the count's own until does not matter. */
    else if (a.trend < 0 && !b.trend && c->until == u1 && settled(x->sub, &a, d)) c->until = u0;
    else if (b.trend < 0 && !a.trend && u1 == u0 && settled(mirror(x->sub), &b, -d)) c->until = u0;
  }
  return holds(x->sub, d);
}

static int eval_text(ectx *c, const rnode *x) {
  val a, b;
  value(c, x->a, &a);
  if (a.type != PX_RV_STR) return 0;
  value(c, x->b, &b);
  if (b.type != PX_RV_STR || b.len > a.len) return 0;
  switch (x->sub) {
    case X_CONTAINS: return b.len == 0 || memmem(a.s, a.len, b.s, b.len) != NULL;
    case X_STARTS: return b.len == 0 || memcmp(a.s, b.s, b.len) == 0;
    default: return b.len == 0 || memcmp(a.s + a.len - b.len, b.s, b.len) == 0;
  }
}

static int eval_in(ectx *c, const rnode *x) {
  val a, b;
  value(c, x->a, &a);
  if (a.type == PX_RV_NULL) return 0;
  if (a.nowdep && c->now < INT64_MAX) lower(c, c->now + 1); /* "N days ago in [...]": equal for one instant */
  int found = 0;
  for (int64_t k = 0; k < x->i && !found; k++) {
    int d;
    value(c, c->r->kids[x->b + k], &b);
    found = compare(&a, &b, c->r->nodes[x->a].type == T_TIME, &d) && d == 0;
  }
  return x->neg ? !found : found;
}

static int cond(ectx *c, int i) {
  const px_rule *r = c->r;
  const rnode *x = &r->nodes[i];
  switch (x->op) {
    case N_BOOL: return x->i != 0;
    case N_AND:
      for (int64_t k = 0; k < x->i; k++)
        if (!cond(c, r->kids[x->b + k])) return 0;
      return 1;
    case N_OR:
      for (int64_t k = 0; k < x->i; k++)
        if (cond(c, r->kids[x->b + k])) return 1;
      return 0;
    case N_NOT: return !cond(c, x->a);
    case N_CMP: return eval_cmp(c, x);
    case N_IN: return eval_in(c, x);
    case N_TEXT: return eval_text(c, x);
    case N_ISNULL: {
      val v;
      value(c, x->a, &v);
      return (v.type == PX_RV_NULL) != x->neg;
    }
    case N_SEG: {
      int in = 0;
      px_status s = c->env->in_segment(c->env->arg, r->segs[x->i], &in);
      if (s != PX_OK && c->st == PX_OK) c->st = s;
      return s == PX_OK && in;
    }
    case N_HAS: {
      px_rule_value pv;
      memset(&pv, 0, sizeof pv);
      int64_t vu = INT64_MAX;
      px_status s = c->env->get(c->env->arg, PX_NS_IDENTIFIER, rule_str(r, x), &pv, &vu);
      if (s != PX_OK) {
        if (c->st == PX_OK) c->st = s;
        return 0;
      }
      lower(c, vu);
      return pv.type != PX_RV_NULL && !(pv.type == PX_RV_STR && (!pv.s || pv.len == 0));
    }
    default: { /* a value used as a condition: only true is true */
      val v;
      value(c, i, &v);
      return v.type == PX_RV_BOOL && v.b;
    }
  }
}

px_status px_rule_eval(const px_rule *r, const px_rule_env *env, int *result, int64_t *until) {
  *result = 0;
  if (until) *until = INT64_MAX;
  if (!r || r->kind != PX_RULE_PROFILE || !env || !env->get || !env->in_segment || !env->aggregate)
    return PX_INVALID;
  ectx c = {.r = r, .env = env, .now = env->now_ms, .until = INT64_MAX};
  *result = cond(&c, r->root);
  if (until) *until = c.until;
  return c.st;
}

px_status px_rule_eval_event(const px_rule *r, const char *event_name, const cJSON *properties, int *result) {
  *result = 0;
  if (!r || r->kind != PX_RULE_EVENT) return PX_INVALID;
  ectx c = {.r = r, .evname = event_name, .props = properties, .until = INT64_MAX};
  *result = cond(&c, r->root);
  return c.st;
}

/* The rule module's private header: the compiled form shared by the
 * compiler (lex.c, parse.c), the evaluator (eval.c) and the printer
 * (print.c). Not for other modules. */
#ifndef PX_RULE_RULE_INT_H
#define PX_RULE_RULE_INT_H

#include "rule/rule.h"

/* Static types. T_ANY: only known at evaluation (traits are schema-less). */
enum { T_BOOL = 1, T_NUM, T_STR, T_TIME, T_ANY };

/* Node kinds. */
enum {
  N_BOOL,    /* literal: i */
  N_NUM,     /* literal: n */
  N_STR,     /* literal: s */
  N_TIME,    /* a date literal compared with a time: i (ms), s (as written) */
  N_AGO,     /* now - i milliseconds */
  N_REF,     /* sub: px_rule_ns, s: name */
  N_PROP,    /* an event property: s is its path */
  N_EVNAME,  /* the event's name */
  N_AGG,     /* aggregation i */
  N_SEG,     /* in segment i */
  N_HAS,     /* the profile has an identifier of kind s */
  N_NEG,     /* -a */
  N_ARITH,   /* a sub b, sub one of + - * / */
  N_CMP,     /* a sub b; sub: C_*; timecmp: both sides read as times */
  N_IN,      /* a [not] in kids[b .. b + i) */
  N_TEXT,    /* a contains / starts with / ends with b (sub: X_*) */
  N_ISNULL,  /* a is [not] null */
  N_AND,     /* kids[b .. b + i) */
  N_OR,      /* kids[b .. b + i) */
  N_NOT,     /* not a */
  N_FUNC,    /* a scalar function (sub: F_*) of a */
};

enum { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE };
enum { X_CONTAINS, X_STARTS, X_ENDS };
/* Scalar functions, number -> number (days_since: time -> number). */
enum { F_LN, F_LOG1P, F_DAYS_SINCE };

/* A scalar function's name as written ("ln"). */
const char *px_rule_func_name(int f);

typedef struct rnode {
  uint8_t op, type, sub, neg, timecmp, height;
  int32_t a, b;
  uint32_t s, slen; /* a NUL-terminated string in the rule's pool */
  double n;
  int64_t i;
  int32_t line, col; /* where the node's text starts */
} rnode;

struct px_rule {
  px_rule_kind kind;
  int root;
  rnode *nodes;
  int nnodes, capnodes;
  int32_t *kids;
  int nkids, capkids;
  char *pool;
  size_t npool, cappool;
  px_rule_agg *aggs; /* their where rules are owned here */
  int naggs;
  char **segs;
  int nsegs;
};

static inline const char *rule_str(const px_rule *r, const rnode *x) { return r->pool + x->s; }

/* Tokens. */
enum {
  K_EOF,
  K_IDENT,
  K_STR,
  K_NUM,
  K_LPAREN,
  K_RPAREN,
  K_LBRACK,
  K_RBRACK,
  K_COMMA,
  K_DOT,
  K_EQ,
  K_NE,
  K_LT,
  K_LE,
  K_GT,
  K_GE,
  K_PLUS,
  K_MINUS,
  K_STAR,
  K_SLASH,
};

typedef struct rtok {
  int kind;
  const char *p; /* the token's source text */
  size_t len;
  int line, col;
  const char *str; /* K_STR: the decoded value (in the lexer's scratch), NUL-terminated */
  size_t slen;
  double num; /* K_NUM */
} rtok;

/* Splits src into tokens (the last one K_EOF). *toks and *scratch are
 * malloc'd (freed by the caller even on error). */
px_status px_rule_lex(const char *src, size_t n, rtok **toks, int *ntok, char **scratch, px_rule_error *err);

/* Words that cannot be bare names (a trait named "and" is trait."and"). */
int px_rule_reserved(const char *s, size_t n);
/* Namespace words: trait, computed, score, account, consent, identifier, profile, property. */
int px_rule_namespace(const char *s, size_t n);

/* Same tree (across rules). */
int px_rule_node_equal(const px_rule *ra, int a, const px_rule *rb, int b);

void px_rule_free_parts(px_rule *r);

#endif

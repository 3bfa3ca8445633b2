/* The rule language's tokens: words, double-quoted strings with escapes,
 * numbers, punctuation and operators; '#' starts a comment to the end of
 * the line. Lines and columns are 1-based, columns in characters. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "rule/rule_int.h"

static const char *const reserved[] = {
    "and", "or", "not", "in", "is", "null", "true", "false", "contains", "starts", "ends", "with", "before", "after",
    "ago", "has", "no", "at", "least", "most", "event", "events", "where", "of", "segment", "consented", "to",
    "first_seen", "last_seen", "trait", "computed", "score", "account", "consent", "identifier", "profile",
    "property", NULL};

static int word_in(const char *const *list, const char *s, size_t n) {
  for (int i = 0; list[i]; i++)
    if (strlen(list[i]) == n && memcmp(list[i], s, n) == 0) return 1;
  return 0;
}

int px_rule_reserved(const char *s, size_t n) { return word_in(reserved, s, n); }

int px_rule_namespace(const char *s, size_t n) {
  static const char *const ns[] = {"trait", "computed", "score", "account", "consent", "identifier", "profile",
                                   "property", NULL};
  return word_in(ns, s, n);
}

typedef struct lexer {
  const char *src, *p, *end;
  int line;
  const char *line_start;
  px_rule_error *err;
} lexer;

static int column_of(const lexer *lx, const char *at) {
  int c = 1;
  for (const char *q = lx->line_start; q < at; q++)
    if (((unsigned char)*q & 0xC0) != 0x80) c++;
  return c;
}

static px_status lex_fail(lexer *lx, const char *at, const char *fmt, ...) {
  if (lx->err) {
    lx->err->line = lx->line;
    lx->err->column = column_of(lx, at);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lx->err->message, sizeof lx->err->message, fmt, ap);
    va_end(ap);
  }
  return PX_INVALID;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int hex4(const char *p, const char *end) {
  if (end - p < 4) return -1;
  int v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(p[i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

static char *put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) {
    *o++ = (char)cp;
  } else if (cp < 0x800) {
    *o++ = (char)(0xC0 | cp >> 6), *o++ = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *o++ = (char)(0xE0 | cp >> 12), *o++ = (char)(0x80 | (cp >> 6 & 0x3F)), *o++ = (char)(0x80 | (cp & 0x3F));
  } else {
    *o++ = (char)(0xF0 | cp >> 18), *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
    *o++ = (char)(0x80 | (cp >> 6 & 0x3F)), *o++ = (char)(0x80 | (cp & 0x3F));
  }
  return o;
}

/* A string from lx->p (at the opening quote); decoded into *o. */
static px_status lex_string(lexer *lx, rtok *t, char **o) {
  const char *q = lx->p + 1;
  t->str = *o;
  for (;;) {
    if (q >= lx->end || *q == '\n') return lex_fail(lx, lx->p, "unterminated string: expected a closing '\"'");
    unsigned char c = (unsigned char)*q;
    if (c == '"') break;
    if (c < 0x20 || c == 0x7F) return lex_fail(lx, q, "control character in a string (write \\n, \\t or \\uXXXX)");
    if (c != '\\') {
      *(*o)++ = *q++;
      continue;
    }
    char e = q + 1 < lx->end ? q[1] : 0;
    switch (e) {
      case '"': *(*o)++ = '"'; q += 2; break;
      case '\\': *(*o)++ = '\\'; q += 2; break;
      case '/': *(*o)++ = '/'; q += 2; break;
      case 'n': *(*o)++ = '\n'; q += 2; break;
      case 't': *(*o)++ = '\t'; q += 2; break;
      case 'r': *(*o)++ = '\r'; q += 2; break;
      case 'u': {
        int cp = hex4(q + 2, lx->end);
        if (cp < 0) return lex_fail(lx, q, "invalid \\u escape: expected 4 hex digits");
        const char *next = q + 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          int lo = next + 1 < lx->end && next[0] == '\\' && next[1] == 'u' ? hex4(next + 2, lx->end) : -1;
          if (lo < 0xDC00 || lo > 0xDFFF) return lex_fail(lx, q, "invalid \\u escape: unpaired surrogate");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          next += 6;
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          return lex_fail(lx, q, "invalid \\u escape: unpaired surrogate");
        }
        if (cp == 0) return lex_fail(lx, q, "\\u0000 is not allowed in a string");
        *o = put_utf8(*o, (unsigned)cp);
        q = next;
        break;
      }
      default:
        return lex_fail(lx, q, "invalid escape in a string: expected \\\", \\\\, \\/, \\n, \\t, \\r or \\uXXXX");
    }
  }
  t->slen = (size_t)(*o - t->str);
  *(*o)++ = 0;
  lx->p = q + 1;
  return PX_OK;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_word_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_word(char c) { return is_word_start(c) || is_digit(c); }

static px_status lex_number(lexer *lx, rtok *t) {
  const char *q = lx->p;
  while (q < lx->end && is_digit(*q)) q++;
  if (q + 1 < lx->end && *q == '.' && is_digit(q[1])) {
    q++;
    while (q < lx->end && is_digit(*q)) q++;
  }
  if (q < lx->end && (*q == 'e' || *q == 'E')) {
    const char *e = q + 1;
    if (e < lx->end && (*e == '+' || *e == '-')) e++;
    if (e < lx->end && is_digit(*e)) {
      while (e < lx->end && is_digit(*e)) e++;
      q = e;
    }
  }
  if (q < lx->end && (is_word(*q) || *q == '.')) {
    const char *e = q;
    while (e < lx->end && (is_word(*e) || *e == '.')) e++;
    return lex_fail(lx, lx->p, "malformed number '%.*s'", (int)(e - lx->p > 40 ? 40 : e - lx->p), lx->p);
  }
  char buf[80];
  size_t n = (size_t)(q - lx->p);
  if (n >= sizeof buf) return lex_fail(lx, lx->p, "number too long (at most 79 characters)");
  memcpy(buf, lx->p, n);
  buf[n] = 0;
  t->num = strtod(buf, NULL);
  if (!isfinite(t->num)) return lex_fail(lx, lx->p, "number out of range '%s'", buf);
  lx->p = q;
  return PX_OK;
}

px_status px_rule_lex(const char *src, size_t n, rtok **toks, int *ntok, char **scratch, px_rule_error *err) {
  lexer lx = {src, src, src + n, 1, src, err};
  *toks = NULL;
  *ntok = 0;
  *scratch = NULL;
  long bad = px_utf8_invalid_at(src, n);
  if (bad >= 0) {
    for (const char *q = src; q < src + bad; q++)
      if (*q == '\n') lx.line++, lx.line_start = q + 1;
    return lex_fail(&lx, src + bad, "invalid UTF-8 in the rule");
  }
  if (memchr(src, 0, n)) {
    const char *z = memchr(src, 0, n);
    for (const char *q = src; q < z; q++)
      if (*q == '\n') lx.line++, lx.line_start = q + 1;
    return lex_fail(&lx, z, "unexpected character NUL");
  }
  /* At most one token per source byte, plus the end. */
  rtok *t = malloc((n + 1) * sizeof *t);
  char *o = *scratch = malloc(n + 1);
  if (!t || !o) {
    free(t);
    return PX_NOMEM;
  }
  *toks = t;
  int k = 0;
  for (;;) {
    while (lx.p < lx.end) {
      char c = *lx.p;
      if (c == '\n') {
        lx.line++;
        lx.line_start = ++lx.p;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        lx.p++;
      } else if (c == '#') {
        while (lx.p < lx.end && *lx.p != '\n') lx.p++;
      } else {
        break;
      }
    }
    rtok *x = &t[k];
    memset(x, 0, sizeof *x);
    x->p = lx.p;
    x->line = lx.line;
    x->col = column_of(&lx, lx.p);
    if (lx.p >= lx.end) {
      x->kind = K_EOF;
      k++;
      break;
    }
    char c = *lx.p, d = lx.p + 1 < lx.end ? lx.p[1] : 0;
    px_status s = PX_OK;
    if (is_word_start(c)) {
      x->kind = K_IDENT;
      while (lx.p < lx.end && is_word(*lx.p)) lx.p++;
    } else if (is_digit(c)) {
      x->kind = K_NUM;
      s = lex_number(&lx, x);
    } else if (c == '"') {
      x->kind = K_STR;
      s = lex_string(&lx, x, &o);
    } else {
      int two = 0;
      switch (c) {
        case '(': x->kind = K_LPAREN; break;
        case ')': x->kind = K_RPAREN; break;
        case '[': x->kind = K_LBRACK; break;
        case ']': x->kind = K_RBRACK; break;
        case ',': x->kind = K_COMMA; break;
        case '.': x->kind = K_DOT; break;
        case '=': x->kind = K_EQ; break;
        case '+': x->kind = K_PLUS; break;
        case '-': x->kind = K_MINUS; break;
        case '*': x->kind = K_STAR; break;
        case '/': x->kind = K_SLASH; break;
        case '<': x->kind = d == '=' ? (two = 1, K_LE) : K_LT; break;
        case '>': x->kind = d == '=' ? (two = 1, K_GE) : K_GT; break;
        case '!':
          if (d == '=') {
            x->kind = K_NE, two = 1;
            break;
          }
          /* fall through */
        default:
          if ((unsigned char)c >= 0x80) {
            size_t len = 1;
            while (lx.p + len < lx.end && ((unsigned char)lx.p[len] & 0xC0) == 0x80) len++;
            return lex_fail(&lx, lx.p, "unexpected character '%.*s'", (int)len, lx.p);
          }
          if ((unsigned char)c < 0x20 || c == 0x7F)
            return lex_fail(&lx, lx.p, "unexpected control character 0x%02x", (unsigned)(unsigned char)c);
          return lex_fail(&lx, lx.p, "unexpected character '%c'", c);
      }
      lx.p += 1 + two;
    }
    if (s != PX_OK) return s;
    x->len = (size_t)(lx.p - x->p);
    k++;
  }
  *ntok = k;
  return PX_OK;
}

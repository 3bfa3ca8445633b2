/* One status enum for the whole of pickaxe. Numbers are never reused. */
#ifndef PX_BASE_STATUS_H
#define PX_BASE_STATUS_H

#define PX_STATUS_MAP(X)                                                     \
  X(OK, 0, "ok")                                                             \
  X(NOT_FOUND, 1, "not found")                                               \
  X(INVALID, 2, "invalid input")                                             \
  X(NOMEM, 3, "out of memory")                                               \
  X(IO, 4, "input/output error")                                             \
  X(STORE, 5, "store error")                                                 \
  X(TOO_LARGE, 6, "too large")                                               \
  X(BAD_JSON, 7, "malformed JSON")                                           \
  X(BAD_UTF8, 8, "invalid UTF-8")                                            \
  X(UNAUTHORIZED, 9, "missing or unknown credentials")                       \
  X(FORBIDDEN, 10, "credentials not allowed here")                           \
  X(OVERLOADED, 11, "overloaded")                                            \
  X(DUPLICATE, 12, "duplicate")                                              \
  X(EXISTS, 13, "already exists")                                            \
  X(BLOCKED, 14, "blocked by a rule")                                        \
  X(SHUTDOWN, 15, "shutting down")                                           \
  X(STORE_FULL, 16, "store map full")                                        \
  X(USAGE, 17, "bad command-line usage")                                    \
  X(DISK_FULL, 18, "free disk space below the reserve")                     \
  X(BEHIND, 19, "the state must catch up with the log first")             \
  X(NOT_CONVERGED, 20, "the fit did not converge")

typedef enum px_status {
#define PX_STATUS_ENUM(name, num, text) PX_##name = num,
  PX_STATUS_MAP(PX_STATUS_ENUM)
#undef PX_STATUS_ENUM
} px_status;

const char *px_status_str(px_status s);

/* Optional detail for a human: which field, where, why. */
typedef struct px_error {
  char field[128];   /* e.g. "batch[3].userId"; empty when not about a field */
  char reason[256];  /* e.g. "must be a string of at most 256 bytes" */
  long offset;       /* byte offset in the input, or -1 */
} px_error;

/* Fills err (when not NULL) and returns s. field may be NULL. */
px_status px_error_set(px_error *err, px_status s, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void px_error_clear(px_error *err);

#endif

/* The SVG picture of a calibration/holdout check: see chart.h. A writer
 * that remembers its first error, plots in frames (a rectangle on the page
 * and the data ranges it shows), and "nice" ticks (1, 2 or 5 times a power
 * of ten). */
#include "clv/chart.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define WIDTH 860
#define HEIGHT 940
#define LEFT 90      /* the plots' left edge: room for the y tick labels */
#define PLOT_W 730
#define PLOT_H 310
#define TOP1 90      /* the first plot's top */
#define TOP2 540     /* the second's */
#define COLOR_ACTUAL "#1f77b4"
#define COLOR_MODEL "#d62728"

typedef struct svg {
  px_buf *b;
  px_status st;
} svg;

static void put(svg *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(svg *w, const char *fmt, ...) {
  if (w->st != PX_OK) return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof line) w->st = PX_INVALID; /* every piece here is short */
  else w->st = px_buf_append(w->b, line, (size_t)n);
}

/* Text content or an attribute value, escaped. */
static void put_text(svg *w, const char *s) {
  for (; *s && w->st == PX_OK; s++) {
    const char *e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '"' ? "&quot;" : NULL;
    w->st = e ? px_buf_puts(w->b, e) : px_buf_putc(w->b, *s);
  }
}

static void label(svg *w, double x, double y, const char *anchor, int size, const char *extra, const char *s) {
  put(w, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\"%s>", x, y, anchor, size, extra);
  put_text(w, s);
  put(w, "</text>\n");
}

/* A plot area and the ranges it shows. */
typedef struct frame {
  double left, top, w, h;
  double x0, x1, y0, y1;
} frame;

static double px_of(const frame *f, double x) { return f->left + (x - f->x0) / (f->x1 - f->x0) * f->w; }
static double py_of(const frame *f, double y) { return f->top + f->h - (y - f->y0) / (f->y1 - f->y0) * f->h; }

/* A step of 1, 2 or 5 times a power of ten giving about n ticks over
 * [0, max]. */
static double nice_step(double max, int n) {
  double raw = max / n, p = pow(10, floor(log10(raw))), r = raw / p;
  return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * p;
}

/* The upper end of an axis from 0 showing max: a whole number of steps. */
static double axis_max(double max, double *step) {
  if (!(max > 0) || !isfinite(max)) max = 1;
  *step = nice_step(max, 5);
  return ceil(max / *step - 1e-9) * *step;
}

/* The y axis: grid lines, tick labels and its title (rotated). */
static void y_axis(svg *w, const frame *f, double step, const char *title) {
  for (int i = 0; i * step <= f->y1 * (1 + 1e-9); i++) {
    double v = i * step, y = py_of(f, v);
    char t[32];
    snprintf(t, sizeof t, "%g", v);
    put(w, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n", f->left, y,
        f->left + f->w, y);
    label(w, f->left - 8, y + 4, "end", 12, "", t);
  }
  double x = f->left - 58, y = f->top + f->h / 2;
  char rot[64];
  snprintf(rot, sizeof rot, " transform=\"rotate(-90 %.1f %.1f)\"", x, y);
  label(w, x, y, "middle", 13, rot, title);
}

/* The frame's box, drawn last over the grid. */
static void box(svg *w, const frame *f) {
  put(w, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n", f->left,
      f->top, f->w, f->h);
}

/* A legend in the frame's top left corner; dashed[i] draws entry i's
 * sample as a dashed line, else as a filled square. */
static void legend(svg *w, const frame *f, const char *const *names, const char *const *colors, const int *dashed,
                   int n) {
  double x = f->left + 14, y = f->top + 14;
  put(w, "<rect x=\"%.1f\" y=\"%.1f\" width=\"190\" height=\"%d\" fill=\"white\" stroke=\"#999\"/>\n", x, y,
      12 + 20 * n);
  for (int i = 0; i < n; i++) {
    double yy = y + 16 + 20 * i;
    if (dashed[i] >= 0)
      put(w,
          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\"%s/>\n",
          x + 10, yy, x + 34, yy, colors[i], dashed[i] ? " stroke-dasharray=\"6 4\"" : "");
    else
      put(w, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"12\" fill=\"%s\"/>\n", x + 15, yy - 6, colors[i]);
    label(w, x + 42, yy + 4, "start", 12, "", names[i]);
  }
}

static void bar(svg *w, const frame *f, double x, double bw, double v, const char *color) {
  if (!isfinite(v)) return;
  double top = py_of(f, v), base = py_of(f, 0);
  put(w, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", x, top, bw, base - top,
      color);
  char t[32];
  snprintf(t, sizeof t, "%.2f", v);
  label(w, x + bw / 2, top - 4, "middle", 10, " fill=\"#444\"", t);
}

/* Panel 1: the holdout by calibration frequency. */
static void frequency_panel(svg *w, const px_clv_validation *v) {
  double max = 0, step;
  for (int b = 0; b < PX_CLV_FREQ_BUCKETS; b++) {
    if (isfinite(v->freq[b].actual)) max = fmax(max, v->freq[b].actual);
    if (isfinite(v->freq[b].predicted)) max = fmax(max, v->freq[b].predicted);
  }
  /* Headroom for the legend and the bars' value labels. */
  frame f = {LEFT, TOP1, PLOT_W, PLOT_H, 0, PX_CLV_FREQ_BUCKETS, 0, axis_max(max * 1.25, &step)};
  label(w, f.left + f.w / 2, f.top - 14, "middle", 14, " font-weight=\"bold\"",
        "Repeat purchases in the holdout by calibration frequency (mean per customer)");
  y_axis(w, &f, step, "mean repeat purchases in the holdout");
  double group = f.w / PX_CLV_FREQ_BUCKETS, bw = group * 0.34;
  for (int b = 0; b < PX_CLV_FREQ_BUCKETS; b++) {
    double x = px_of(&f, b);
    bar(w, &f, x + group / 2 - bw, bw, v->freq[b].actual, COLOR_ACTUAL);
    bar(w, &f, x + group / 2, bw, v->freq[b].predicted, COLOR_MODEL);
    char t[32], k[48];
    snprintf(t, sizeof t, b == PX_CLV_FREQ_BUCKETS - 1 ? "%d+" : "%d", b);
    snprintf(k, sizeof k, "%zu customers", v->freq[b].customers);
    label(w, x + group / 2, f.top + f.h + 18, "middle", 12, "", t);
    label(w, x + group / 2, f.top + f.h + 32, "middle", 10, " fill=\"#666\"", k);
  }
  label(w, f.left + f.w / 2, f.top + f.h + 54, "middle", 13, "",
        "repeat purchases in the calibration period (frequency x)");
  box(w, &f);
  const char *names[] = {"actual", "predicted (BG/NBD)"}, *colors[] = {COLOR_ACTUAL, COLOR_MODEL};
  const int dashed[] = {-1, -1};
  legend(w, &f, names, colors, dashed, 2);
}

/* A curve from (0, 0) through (t[i], y[i]); points the model could not
 * give (NAN) are left out. */
static void curve(svg *w, const frame *f, const double *t, const double *y, size_t n, const char *color,
                  int dashed) {
  put(w, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"%.1f,%.1f", color,
      dashed ? " stroke-dasharray=\"6 4\"" : "", px_of(f, 0), py_of(f, 0));
  for (size_t i = 0; i < n; i++)
    if (isfinite(y[i])) put(w, " %.1f,%.1f", px_of(f, t[i]), py_of(f, y[i]));
  put(w, "\"/>\n");
}

/* Panel 2: cumulative repeat purchases over time. */
static void cumulative_panel(svg *w, const px_clv_validation *v, const char *unit, const char *start) {
  double max = 0, ystep, xstep, tmax = v->t[v->periods - 1];
  for (size_t i = 0; i < v->periods; i++) {
    if (isfinite(v->actual[i])) max = fmax(max, v->actual[i]);
    if (isfinite(v->predicted[i])) max = fmax(max, v->predicted[i]);
  }
  frame f = {LEFT, TOP2, PLOT_W, PLOT_H, 0, tmax, 0, axis_max(max * 1.05, &ystep)};
  char text[160];
  snprintf(text, sizeof text, "Cumulative repeat purchases by %s", unit);
  label(w, f.left + f.w / 2, f.top - 14, "middle", 14, " font-weight=\"bold\"", text);
  y_axis(w, &f, ystep, "cumulative repeat purchases");
  xstep = nice_step(tmax, 8);
  for (int i = 0; i * xstep <= tmax * (1 + 1e-9); i++) {
    double x = px_of(&f, i * xstep);
    char t[32];
    snprintf(t, sizeof t, "%g", i * xstep);
    put(w, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", x, f.top + f.h, x,
        f.top + f.h + 5);
    label(w, x, f.top + f.h + 19, "middle", 12, "", t);
  }
  snprintf(text, sizeof text, "%ss since %s", unit, start);
  label(w, f.left + f.w / 2, f.top + f.h + 42, "middle", 13, "", text);
  double cx = px_of(&f, v->calibration_units);
  put(w,
      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\" stroke-width=\"1.5\" "
      "stroke-dasharray=\"3 3\"/>\n",
      cx, f.top, cx, f.top + f.h);
  label(w, cx + 6, f.top + f.h - 10, "start", 12, " fill=\"#555\"", "calibration end");
  curve(w, &f, v->t, v->actual, v->periods, COLOR_ACTUAL, 0);
  curve(w, &f, v->t, v->predicted, v->periods, COLOR_MODEL, 1);
  box(w, &f);
  const char *names[] = {"actual", "predicted (BG/NBD)"}, *colors[] = {COLOR_ACTUAL, COLOR_MODEL};
  const int dashed[] = {0, 1};
  legend(w, &f, names, colors, dashed, 2);
}

px_status px_clv_chart_svg(const px_clv_validation *v, const char *title, const char *unit, const char *start,
                           px_buf *out) {
  if (!v || !v->periods || !v->t || !v->actual || !v->predicted || !title || !unit || !start || !out)
    return PX_INVALID;
  svg w = {out, PX_OK};
  put(&w,
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
      "font-family=\"Helvetica, Arial, sans-serif\">\n",
      WIDTH, HEIGHT, WIDTH, HEIGHT);
  put(&w, "<title>");
  put_text(&w, title);
  put(&w, "</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
  label(&w, WIDTH / 2.0, 36, "middle", 18, " font-weight=\"bold\"", title);
  put(&w, "<g id=\"by-frequency\">\n");
  frequency_panel(&w, v);
  put(&w, "</g>\n<g id=\"cumulative\">\n");
  cumulative_panel(&w, v, unit, start);
  put(&w, "</g>\n</svg>\n");
  return w.st;
}

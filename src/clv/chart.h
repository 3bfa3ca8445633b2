/* A picture of a calibration/holdout check (validate.h) as a
 * self-contained SVG document: a title and two panels, each with axes,
 * tick labels, axis titles and a legend:
 *   1. mean repeat purchases in the holdout by calibration frequency,
 *      actual and predicted side by side as bars;
 *   2. cumulative repeat purchases over time, actual (solid) and the
 *      model's (dashed), with a vertical line at the calibration end.
 * Depends on base (px_buf) only; no fonts or scripts. */
#ifndef PX_CLV_CHART_H
#define PX_CLV_CHART_H

#include "base/buf.h"
#include "clv/validate.h"

/* Appends the SVG document for v to out. title is printed as given
 * (escaped); unit names the time unit in the axis titles ("week", "day");
 * start names the first day (e.g. "1997-01-01"). PX_TOO_LARGE when out's
 * cap is reached, PX_NOMEM; PX_INVALID when v has no periods. */
px_status px_clv_chart_svg(const px_clv_validation *v, const char *title, const char *unit, const char *start,
                           px_buf *out);

#endif

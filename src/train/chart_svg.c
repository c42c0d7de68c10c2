/* chart_svg.c — the run's learning curves as one SVG file (curve.svg): left panel loss, right
 * panel accuracy (classification, in %) or MAE (regression), train and validation per epoch.
 * Plain SVG 1.1 (polylines, text), no scripts; values that were not measured are skipped. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>

#include "train/metrics.h"

enum { W = 900, H = 360, PANEL_W = 400, PANEL_H = 260, LEFT = 60, TOP = 50 };

typedef double (*row_get)(const tm_row *r);
static double g_train_loss(const tm_row *r) { return r->train_loss; }
static double g_val_loss(const tm_row *r) { return r->val_loss; }
static double g_train_metric(const tm_row *r) { return r->train_metric; }
static double g_val_metric(const tm_row *r) { return r->val_metric; }

static void range(const tm_row *rows, int n, row_get a, row_get b, double scale, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        const double v[2] = {a(&rows[i]) * scale, b(&rows[i]) * scale};
        for (int k = 0; k < 2; k++)
            if (isfinite(v[k])) {
                *lo = v[k] < *lo ? v[k] : *lo;
                *hi = v[k] > *hi ? v[k] : *hi;
            }
    }
    if (!isfinite(*lo)) {
        *lo = 0;
        *hi = 1;
    }
    if (*hi - *lo < 1e-12) {
        *hi += 0.5;
        *lo -= 0.5;
    }
    double pad = (*hi - *lo) * 0.05;
    *hi += pad;
    *lo -= pad;
}

static void line(FILE *f, const tm_row *rows, int n, row_get get, double scale, double lo, double hi, int x0,
                 const char *color, const char *dash)
{
    bool open = false;
    for (int i = 0; i < n; i++) {
        double v = get(&rows[i]) * scale;
        if (!isfinite(v))
            continue;
        double x = x0 + (n > 1 ? (double)i / (n - 1) : 0.5) * PANEL_W;
        double y = TOP + PANEL_H - (v - lo) / (hi - lo) * PANEL_H;
        /* a dot per epoch, joined by one polyline */
        fprintf(f, "  <circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n", x, y, color);
    }
    fprintf(f, "  <polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", color, dash);
    for (int i = 0; i < n; i++) {
        double v = get(&rows[i]) * scale;
        if (!isfinite(v))
            continue;
        double x = x0 + (n > 1 ? (double)i / (n - 1) : 0.5) * PANEL_W;
        double y = TOP + PANEL_H - (v - lo) / (hi - lo) * PANEL_H;
        fprintf(f, "%s%.1f,%.1f", open ? " " : "", x, y);
        open = true;
    }
    fputs("\"/>\n", f);
}

static void panel(FILE *f, const tm_row *rows, int n, int x0, const char *title, row_get a, row_get b,
                  double scale)
{
    double lo, hi;
    range(rows, n, a, b, scale, &lo, &hi);
    fprintf(f, "  <rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", x0, TOP,
            PANEL_W, PANEL_H);
    fprintf(f, "  <text x=\"%d\" y=\"%d\" font-size=\"14\" text-anchor=\"middle\">%s</text>\n", x0 + PANEL_W / 2,
            TOP - 10, title);
    for (int k = 0; k <= 4; k++) {
        double v = lo + (hi - lo) * k / 4;
        int y = TOP + PANEL_H - PANEL_H * k / 4;
        fprintf(f, "  <line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n", x0, y, x0 + PANEL_W, y);
        fprintf(f, "  <text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%.4g</text>\n", x0 - 4, y + 4, v);
    }
    int step = n > 10 ? (n + 9) / 10 : 1;
    for (int i = 0; i < n; i += step) {
        double x = x0 + (n > 1 ? (double)i / (n - 1) : 0.5) * PANEL_W;
        fprintf(f, "  <text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%d</text>\n", x,
                TOP + PANEL_H + 15, (int)rows[i].epoch);
    }
    fprintf(f, "  <text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">epoch</text>\n", x0 + PANEL_W / 2,
            TOP + PANEL_H + 32);
    line(f, rows, n, a, scale, lo, hi, x0, "#1f77b4", "");
    line(f, rows, n, b, scale, lo, hi, x0, "#ff7f0e", " stroke-dasharray=\"6,3\"");
}

nn_status tm_write_svg(const char *dir, const char *title, const tm_row *rows, int n, bool classify, nn_err *err)
{
    char tmp[4096];
    FILE *f = tm_begin(dir, "curve.svg", tmp, sizeof tmp, err);
    if (!f)
        return NN_E_IO;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"sans-serif\">\n  <rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H, W, H);
    fputs("  <text x=\"10\" y=\"18\" font-size=\"13\">", f);
    for (const char *p = title; p && *p; p++) {
        if (*p == '<')
            fputs("&lt;", f);
        else if (*p == '&')
            fputs("&amp;", f);
        else if (*p == '>')
            fputs("&gt;", f);
        else
            fputc(*p, f);
    }
    fputs("</text>\n", f);
    panel(f, rows, n, LEFT, "loss", g_train_loss, g_val_loss, 1.0);
    panel(f, rows, n, LEFT + PANEL_W + 70, classify ? "accuracy (%)" : "MAE", g_train_metric, g_val_metric,
          classify ? 100.0 : 1.0);
    fprintf(f, "  <line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#1f77b4\" stroke-width=\"2\"/>"
               "<text x=\"%d\" y=\"%d\" font-size=\"12\">train</text>\n", W - 220, 18, W - 195, 18, W - 190, 22);
    fprintf(f, "  <line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ff7f0e\" stroke-width=\"2\" "
               "stroke-dasharray=\"6,3\"/><text x=\"%d\" y=\"%d\" font-size=\"12\">validation</text>\n",
            W - 140, 18, W - 115, 18, W - 110, 22);
    fputs("</svg>\n", f);
    return tm_commit(f, tmp, dir, "curve.svg", err);
}

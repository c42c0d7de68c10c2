/* road.c — clothoid road generation, sampling and projection (see road.h). */
#include "sim/road.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SUBSTEPS 8 /* integration steps per sample (Simpson's rule over each) */

static nn_status reserve(road *r, size_t n, nn_err *err)
{
    if (n <= r->cap)
        return NN_OK;
    road_pt *p = realloc(r->p, n * sizeof *p);
    if (!p)
        return nn_fail(err, NN_E_NOMEM, "road: out of memory for %zu samples", n);
    r->p = p;
    r->cap = n;
    return NN_OK;
}

/* Heading at distance u into a piece starting at heading h0 with curvature k0 -> k1 over len. */
static double piece_heading(double h0, double k0, double k1, double len, double u)
{
    return h0 + k0 * u + (k1 - k0) * u * u / (2.0 * len);
}

nn_status road_generate(road *r, double length, double max_kappa, double lane_width, sim_rng *rng, nn_err *err)
{
    if (!(length > 0) || !(max_kappa >= 0) || !(lane_width > 0))
        return nn_fail(err, NN_E_ARG, "road: bad parameters (length %g m, curvature %g 1/m, lane width %g m)", length,
                       max_kappa, lane_width);
    double total = length + ROAD_LEAD_IN;
    size_t n = (size_t)ceil(total / ROAD_DS) + 1;
    nn_status s = reserve(r, n, err);
    if (s)
        return s;
    r->n = n;
    r->length = (double)(n - 1) * ROAD_DS;
    r->lane_width = lane_width;

    double x = 0, y = 0, h = 0;
    double k0 = 0, k1 = 0;           /* current piece: curvature from k0 to k1 */
    double len = ROAD_LEAD_IN, u = 0; /* piece length, position in it */
    r->p[0] = (road_pt){0, 0, 0, 0};
    const double step = ROAD_DS / SUBSTEPS;
    for (size_t i = 1; i < n; i++) {
        for (int k = 0; k < SUBSTEPS; k++) {
            if (u + step > len + 1e-9) {
                /* Start the next piece (its start curvature is the end of this one). */
                h = piece_heading(h, k0, k1, len, len);
                u = u - len;
                k0 = k1;
                len = sim_rng_range(rng, 15, 70);
                double pick = sim_rng_unit(rng);
                if (pick < 1.0 / 3.0) {
                    k1 = 0;
                } else {
                    double mag = max_kappa * pow(sim_rng_unit(rng), 0.7);
                    k1 = sim_rng_unit(rng) < 0.5 ? -mag : mag;
                }
                /* This piece's heading origin: h is at u = 0 now, x/y continue as they are. */
            }
            double ha = piece_heading(h, k0, k1, len, u), hm = piece_heading(h, k0, k1, len, u + step / 2),
                   hb = piece_heading(h, k0, k1, len, u + step);
            x += step * (cos(ha) + 4 * cos(hm) + cos(hb)) / 6.0;
            y += step * (sin(ha) + 4 * sin(hm) + sin(hb)) / 6.0;
            u += step;
        }
        r->p[i].x = x;
        r->p[i].y = y;
        r->p[i].heading = piece_heading(h, k0, k1, len, u);
        r->p[i].kappa = k0 + (k1 - k0) * u / len;
    }
    return NN_OK;
}

void road_free(road *r)
{
    free(r->p);
    memset(r, 0, sizeof *r);
}

road_pt road_at(const road *r, double s)
{
    if (s <= 0)
        return r->p[0];
    if (s >= r->length)
        return r->p[r->n - 1];
    double f = s / ROAD_DS;
    size_t i = (size_t)f;
    if (i >= r->n - 1)
        i = r->n - 2;
    double t = f - (double)i;
    const road_pt *a = &r->p[i], *b = &r->p[i + 1];
    road_pt o;
    o.x = a->x + t * (b->x - a->x);
    o.y = a->y + t * (b->y - a->y);
    o.heading = a->heading + t * (b->heading - a->heading);
    o.kappa = a->kappa + t * (b->kappa - a->kappa);
    return o;
}

static double d2(const road_pt *p, double x, double y)
{
    double dx = p->x - x, dy = p->y - y;
    return dx * dx + dy * dy;
}

road_proj road_project(const road *r, double x, double y, size_t hint)
{
    size_t i = hint < r->n ? hint : r->n - 1;
    /* Walk downhill in distance; a wider look (+-8 samples) steps over tiny local bumps. */
    for (;;) {
        size_t best = i;
        double bd = d2(&r->p[i], x, y);
        size_t lo = i >= 8 ? i - 8 : 0, hi = i + 8 < r->n ? i + 8 : r->n - 1;
        for (size_t j = lo; j <= hi; j++) {
            double d = d2(&r->p[j], x, y);
            if (d < bd) {
                bd = d;
                best = j;
            }
        }
        if (best == i)
            break;
        i = best;
    }
    /* Refine on the segment after or before sample i. */
    road_proj o;
    double best_d = INFINITY;
    for (int side = 0; side < 2; side++) {
        if ((side == 0 && i + 1 >= r->n) || (side == 1 && i == 0))
            continue;
        size_t a = side == 0 ? i : i - 1;
        const road_pt *pa = &r->p[a], *pb = &r->p[a + 1];
        double ex = pb->x - pa->x, ey = pb->y - pa->y, ee = ex * ex + ey * ey;
        double t = ee > 0 ? ((x - pa->x) * ex + (y - pa->y) * ey) / ee : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        double px = pa->x + t * ex, py = pa->y + t * ey;
        double d = (x - px) * (x - px) + (y - py) * (y - py);
        if (d < best_d) {
            best_d = d;
            o.s = ((double)a + t) * ROAD_DS;
            o.i = a;
            o.heading = pa->heading + t * (pb->heading - pa->heading);
            /* right of the direction of travel = negative cross product */
            double cross = ex * (y - py) - ey * (x - px);
            double dist = sqrt(d);
            o.lat = cross > 0 ? -dist : dist;
        }
    }
    if (best_d == INFINITY) { /* a one-sample road cannot happen (n >= 2); keep the result defined */
        o.s = 0;
        o.i = 0;
        o.heading = r->p[0].heading;
        o.lat = 0;
    }
    return o;
}

void road_offset_point(const road *r, double s, double lat, double *x, double *y)
{
    road_pt p = road_at(r, s);
    /* right normal of heading h: (sin h, -cos h) */
    *x = p.x + lat * sin(p.heading);
    *y = p.y - lat * cos(p.heading);
}

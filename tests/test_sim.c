/* test_sim.c — the simulator's core (src/sim): clothoid roads are continuous in position,
 * heading and curvature and project back onto themselves; the bicycle model drives straight
 * lines and circles of radius L / tan(delta) and its steering lag is first order; the expert
 * brings a car that starts off the lane back to the lane centre on a curvy road without crossing
 * the intervention line; the perturbations push the car off and the expert recovers; rendering
 * and whole episodes are deterministic to the byte (and a different seed gives different bytes);
 * bad options give one line naming the option, its bounds and the value; the video overlay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "test_util.h"

#include "sim/episode.h"
#include "sim/expert.h"
#include "sim/overlay.h"
#include "sim/params.h"
#include "sim/render.h"
#include "sim/road.h"
#include "sim/vehicle.h"

/* cmocka 1.1 has no assert_double_equal. */
#define assert_near(a, b, eps)                                                                        \
    do {                                                                                              \
        double a_ = (a), b_ = (b);                                                                    \
        if (!(fabs(a_ - b_) <= (eps)))                                                                \
            fail_msg("%s = %.12g, want %.12g (+- %g)", #a, a_, b_, (double)(eps));                  \
    } while (0)

static double wrap_angle(double a)
{
    while (a > M_PI)
        a -= 2 * M_PI;
    while (a < -M_PI)
        a += 2 * M_PI;
    return a;
}

static void test_road_continuity(void **state)
{
    (void)state;
    nn_err err = {{0}};
    for (uint64_t seed = 1; seed <= 5; seed++) {
        road r = {0};
        sim_rng rng = sim_rng_make(seed, 0);
        const double kmax = 1.0 / 30;
        assert_int_equal(road_generate(&r, 2000, kmax, 3.6, &rng, &err), NN_OK);
        assert_true(r.length >= 2000 + ROAD_LEAD_IN);
        double max_k = 0;
        for (size_t i = 1; i < r.n; i++) {
            const road_pt *a = &r.p[i - 1], *b = &r.p[i];
            double d = hypot(b->x - a->x, b->y - a->y);
            /* samples are ROAD_DS apart along the arc: the chord is at most that, barely shorter */
            if (d > ROAD_DS + 1e-9 || d < ROAD_DS * (1 - 1e-3))
                fail_msg("seed %llu sample %zu: chord %.9f m", (unsigned long long)seed, i, d);
            /* the chord's direction is the heading at the middle of the step */
            double mid = 0.5 * (a->heading + b->heading);
            if (fabs(wrap_angle(atan2(b->y - a->y, b->x - a->x) - mid)) > 1e-4)
                fail_msg("seed %llu sample %zu: chord direction off the heading", (unsigned long long)seed, i);
            /* heading changes by curvature * ds (trapezoid: exact inside a piece, off by at most
             * slope change * ds^2 / 8 where a piece ends); curvature changes slowly (pieces >= 15 m) */
            double avg_k = 0.5 * (a->kappa + b->kappa);
            double tol = 2 * (2 * kmax / 15) * ROAD_DS * ROAD_DS / 8 + 1e-9;
            if (fabs(b->heading - a->heading - avg_k * ROAD_DS) > tol)
                fail_msg("seed %llu sample %zu: heading jump %.3g", (unsigned long long)seed, i,
                         b->heading - a->heading - avg_k * ROAD_DS);
            if (fabs(b->kappa - a->kappa) > 2 * kmax / 15 * ROAD_DS + 1e-9)
                fail_msg("seed %llu sample %zu: curvature jump %.6f", (unsigned long long)seed, i, b->kappa - a->kappa);
            if (fabs(b->kappa) > max_k)
                max_k = fabs(b->kappa);
        }
        assert_true(max_k <= kmax + 1e-12);
        assert_true(max_k > kmax * 0.3); /* the road does curve */
        /* the lead-in is straight */
        assert_true(fabs(r.p[(size_t)(ROAD_LEAD_IN / ROAD_DS) - 2].kappa) < 1e-12);
        /* points beside the road project back to their arc length and offset */
        size_t hint = 0;
        for (double s = 50; s < 1900; s += 37.3) {
            for (double lat = -3; lat <= 3; lat += 1.5) {
                double x, y;
                road_offset_point(&r, s, lat, &x, &y);
                road_proj p = road_project(&r, x, y, hint);
                hint = p.i;
                /* the centreline is a polyline: off it, s is exact to lat * curvature * ds / 2 */
                if (fabs(p.s - s) > 0.05 || fabs(p.lat - lat) > 0.01)
                    fail_msg("seed %llu: s %.2f lat %.2f projected to s %.4f lat %.4f", (unsigned long long)seed, s, lat,
                             p.s, p.lat);
            }
        }
        road_free(&r);
    }
    road bad = {0};
    sim_rng rng = sim_rng_make(1, 0);
    check_msg("zero lane width", road_generate(&bad, 100, 0.01, 0, &rng, &err), NN_E_ARG, &err, "lane width 0");
    road_free(&bad);
}

static void test_bicycle(void **state)
{
    (void)state;
    veh_params p = {.wheelbase = 2.7, .max_delta = 25 * M_PI / 180, .steer_tau = 0};
    veh_state s = {.v = 10};
    for (int i = 0; i < 100; i++)
        veh_step(&s, &p, 0, 0.01);
    assert_near(s.x, 10.0, 1e-9);
    assert_near(s.y, 0.0, 1e-12);
    assert_near(s.odometer, 10.0, 1e-9);
    /* constant wheel angle: a circle of radius L / tan(delta), back at the start after one turn */
    double delta = 0.2, R = p.wheelbase / tan(delta);
    veh_state c = {.v = 5};
    double period = 2 * M_PI * R / c.v;
    int n = 20000;
    for (int i = 0; i < n; i++) {
        veh_step(&c, &p, delta, period / n);
        double dist_to_centre = hypot(c.x, c.y - R);
        if (fabs(dist_to_centre - R) > 1e-6)
            fail_msg("step %d: off the circle by %.3g m", i, dist_to_centre - R);
    }
    assert_near(c.x, 0, 1e-6);
    assert_near(c.y, 0, 1e-6);
    assert_near(c.heading, 2 * M_PI, 1e-9);
    /* the wheel angle is clamped; Udacity steering +1 = 25 degrees to the right */
    assert_near(veh_delta_of_steer(&p, 1), -p.max_delta, 1e-12);
    assert_near(veh_delta_of_steer(&p, -3), p.max_delta, 1e-12);
    assert_near(veh_steer_of_delta(&p, p.max_delta / 2), -0.5, 1e-12);
    veh_state k = {.v = 1};
    veh_step(&k, &p, 10, 0.01);
    assert_near(k.delta, p.max_delta, 1e-12);
    /* first-order lag: 63.2 % of a step after one time constant */
    p.steer_tau = 0.1;
    veh_state l = {.v = 1};
    for (int i = 0; i < 10; i++)
        veh_step(&l, &p, 0.3, 0.01);
    assert_near(l.delta, 0.3 * (1 - exp(-1)), 1e-9);
}

static void test_expert_converges(void **state)
{
    (void)state;
    nn_err err = {{0}};
    sim_params p;
    sim_params_defaults(&p, 0);
    p.seconds = 40;
    p.curvature = 1.0 / 30;
    for (int road_i = 0; road_i < 4; road_i++) {
        sim_episode e;
        memset(&e, 0, sizeof e);
        assert_int_equal(episode_start(&e, &p, road_i, &err), NN_OK);
        assert_true(fabs(e.cte) < 1e-3);
        /* shift the car 0.7 m to the right of the lane centre, heading 3 degrees further right */
        double sh = e.car.heading;
        e.car.x += 0.7 * sin(sh);
        e.car.y -= 0.7 * cos(sh);
        e.car.heading -= 3 * M_PI / 180;
        episode_step(&e, 0);
        assert_true(e.cte > 0.6);
        /* the label steers back left (negative) */
        assert_true(episode_expert(&e) < -0.05);
        double max_cte = 0;
        long n = sim_params_frames(&p);
        for (long f = 0; f < n; f++) {
            episode_step(&e, episode_expert(&e));
            if (fabs(e.cte) > max_cte)
                max_cte = fabs(e.cte);
            if (f > 5 * 30 && fabs(e.cte) > 0.15)
                fail_msg("road %d frame %ld: still %.3f m off the lane centre", road_i, f, e.cte);
        }
        if (max_cte >= 1.0)
            fail_msg("road %d: crossed the intervention line (%.3f m)", road_i, max_cte);
        assert_true(e.s > 40 * p.speed * 0.95); /* it kept going along the road */
        episode_free(&e);
    }
}

static void test_noise_recovery(void **state)
{
    (void)state;
    nn_err err = {{0}};
    sim_params p;
    sim_params_defaults(&p, 1);
    p.seconds = 120;
    sim_episode e;
    memset(&e, 0, sizeof e);
    assert_int_equal(episode_start(&e, &p, 0, &err), NN_OK);
    double max_cte = 0, sum = 0, max_label = 0;
    long n = sim_params_frames(&p), far = 0;
    for (long f = 0; f < n; f++) {
        double label = fabs(episode_expert(&e));
        if (label > max_label)
            max_label = label;
        episode_step_expert(&e);
        double a = fabs(e.cte);
        sum += a;
        far += a > 0.3;
        if (a > max_cte)
            max_cte = a;
    }
    /* the car drifts (recovery data) but stays recoverable */
    assert_true(max_cte > 0.3);
    assert_true(max_cte < 1.2);
    assert_true(far > 10);
    assert_true(sum / (double)n < 0.4);
    assert_true(max_label > 0.1);
    /* noise 0: the expert alone stays near the centre */
    p.noise = 0;
    assert_int_equal(episode_start(&e, &p, 0, &err), NN_OK);
    for (long f = 0; f < n; f++)
        episode_step_expert(&e);
    assert_true(fabs(e.cte) < 0.1);
    episode_free(&e);
}

static uint64_t fnv(const uint8_t *b, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* Hash of every camera's frames over a noisy drive of 40 frames. */
static uint64_t drive_hash(uint64_t seed, int road_i)
{
    nn_err err = {{0}};
    sim_params p;
    sim_params_defaults(&p, 1);
    p.seed = seed;
    p.frames = 40;
    sim_episode e;
    memset(&e, 0, sizeof e);
    render_ctx rc;
    assert_int_equal(render_init(&rc, SIM_FRAME_W, SIM_FRAME_H, &err), NN_OK);
    size_t bytes = (size_t)SIM_FRAME_W * SIM_FRAME_H * 3;
    uint8_t *img = malloc(bytes);
    assert_non_null(img);
    assert_int_equal(episode_start(&e, &p, road_i, &err), NN_OK);
    uint64_t h = 0;
    for (long f = 0; f < p.frames; f++) {
        for (int cam = -1; cam <= 1; cam++) {
            memset(img, 0xA5, bytes);
            episode_render(&e, &rc, (sim_cam)cam, img);
            h = h * 31 + fnv(img, bytes);
        }
        double label = episode_expert(&e);
        h = h * 31 + fnv((const uint8_t *)&label, sizeof label);
        episode_step_expert(&e);
    }
    free(img);
    render_free(&rc);
    episode_free(&e);
    return h;
}

static void test_render_determinism(void **state)
{
    (void)state;
    uint64_t a = drive_hash(7, 1), b = drive_hash(7, 1);
    assert_true(a == b);
    assert_true(drive_hash(8, 1) != a);
    assert_true(drive_hash(7, 2) != a);

    /* Every pixel is written (the fill pattern does not survive), the sky is above the road, and
     * a straight road straight ahead looks left-right balanced around the lane. */
    nn_err err = {{0}};
    sim_params p;
    sim_params_defaults(&p, 0);
    sim_episode e;
    memset(&e, 0, sizeof e);
    assert_int_equal(episode_start(&e, &p, 0, &err), NN_OK);
    render_ctx rc;
    assert_int_equal(render_init(&rc, SIM_FRAME_W, SIM_FRAME_H, &err), NN_OK);
    size_t bytes = (size_t)SIM_FRAME_W * SIM_FRAME_H * 3;
    uint8_t *x = malloc(bytes), *y = malloc(bytes);
    assert_non_null(x);
    assert_non_null(y);
    memset(x, 0x00, bytes);
    memset(y, 0xFF, bytes);
    episode_render(&e, &rc, CAM_CENTER, x);
    episode_render(&e, &rc, CAM_CENTER, y);
    assert_memory_equal(x, y, bytes);
    /* the left camera sees the road shifted to the right: its bottom-row image differs */
    episode_render(&e, &rc, CAM_LEFT, y);
    assert_memory_not_equal(x, y, bytes);
    free(x);
    free(y);
    render_free(&rc);
    episode_free(&e);
    assert_int_equal(render_init(&rc, 2, 2, &err), NN_E_ARG);
}

static void test_bad_options(void **state)
{
    (void)state;
    sim_params p;
    sim_params_defaults(&p, 1);
    nn_err err = {{0}};
    static const struct {
        const char *opt, *val, *want;
    } bad[] = {
        {"--speed", "-3", "--speed: expected a number in (0, 40] m/s (got '-3')"},
        {"--speed", "0", "(got '0')"},
        {"--lane-width", "0", "--lane-width: expected a number in [2, 6] m (got '0')"},
        {"--frames", "1.5", "--frames: expected an integer"},
        {"--frames", "-1", "(got '-1')"},
        {"--roads", "abc", "--roads: expected an integer in [1, 10000] (got 'abc')"},
        {"--fps", "nan", "--fps"},
        {"--seconds", "inf", "--seconds"},
        {"--seed", "1e3", "--seed: expected an integer"},
        {"--curvature", "", "(got '')"},
        {"--noise", NULL, "--noise: missing value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = 0;
        int r = sim_params_parse(&p, bad[i].opt, bad[i].val, &err);
        if (r != -1)
            fail_msg("case %s %s: returned %d", bad[i].opt, bad[i].val ? bad[i].val : "(none)", r);
        check_msg(bad[i].opt, NN_E_ARG, NN_E_ARG, &err, bad[i].want);
    }
    assert_int_equal(sim_params_parse(&p, "--frobnicate", "1", &err), 0);
    assert_int_equal(sim_params_parse(&p, "--speed", "12.5", &err), 1);
    assert_near(p.speed, 12.5, 0);
    assert_int_equal(sim_params_parse(&p, "--seed", "42", &err), 1);
    assert_true(p.seed == 42);
    assert_int_equal(sim_params_check(&p, &err), NN_OK);
    /* fields set directly are checked too; a road longer than 200 km is refused */
    sim_params q = p;
    q.lane_width = 0;
    check_msg("lane width 0", sim_params_check(&q, &err), NN_E_ARG, &err, "--lane-width");
    q = p;
    q.speed = -1;
    check_msg("negative speed", sim_params_check(&q, &err), NN_E_ARG, &err, "--speed");
    q = p;
    q.frames = 10000000;
    q.fps = 1;
    q.speed = 40;
    check_msg("long road", sim_params_check(&q, &err), NN_E_ARG, &err, "200 km");
    sim_episode e;
    memset(&e, 0, sizeof e);
    check_msg("episode with a bad lane", episode_start(&e, &(sim_params){0}, 0, &err), NN_E_ARG, &err, "--roads");
    episode_free(&e);
}

static void test_overlay(void **state)
{
    (void)state;
    enum { W = 320, H = 160 };
    static uint8_t frame[W * H * 3], out[W * (H + OVERLAY_PANEL_H) * 3];
    memset(frame, 100, sizeof frame);
    overlay_draw(out, frame, W, H, -0.25, 0.25, 0.0, 0);
    /* expert (green) marker above the steering bar at +0.25 of the +-0.5 scale; predicted (red) below at -0.25 */
    int y_s = H + 11, xe = W / 2 + (W - 20) / 4, xp = W / 2 - (W - 20) / 4;
    const uint8_t *g = out + ((size_t)(y_s - 4) * W + (size_t)xe) * 3, *r = out + ((size_t)(y_s + 4) * W + (size_t)xp) * 3;
    assert_true(g[1] > 200 && g[0] < 100);
    assert_true(r[0] > 200 && r[1] < 100);
    /* the picture is untouched away from the needles */
    assert_int_equal(out[(10 * W + 10) * 3], 100);
    /* an intervention draws a red border; NaN prediction draws no red marker */
    overlay_draw(out, frame, W, H, NAN, 0.0, 2.0, 1);
    assert_int_equal(out[0], 235);
    r = out + ((size_t)(y_s + 4) * W + (size_t)(W / 2)) * 3;
    assert_false(r[0] > 200 && r[1] < 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_road_continuity),   cmocka_unit_test(test_bicycle),
        cmocka_unit_test(test_expert_converges),  cmocka_unit_test(test_noise_recovery),
        cmocka_unit_test(test_render_determinism), cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_overlay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

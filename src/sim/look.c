/* look.c — random appearance of a road (see look.h). */
#include "sim/look.h"

#include <math.h>

static void rgb(float *c, double r, double g, double b)
{
    c[0] = (float)r;
    c[1] = (float)g;
    c[2] = (float)b;
}

static void jitter(float *c, sim_rng *rng, double amount)
{
    for (int k = 0; k < 3; k++) {
        double v = c[k] * (1.0 + sim_rng_range(rng, -amount, amount));
        c[k] = (float)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

void look_random(sim_look *lk, sim_rng *rng)
{
    lk->cam_height = sim_rng_range(rng, 1.35, 1.6);
    lk->focal = sim_rng_range(rng, 260, 295);
    lk->horizon = sim_rng_range(rng, 60, 68);

    /* sky: clear blue, hazy, overcast grey or evening */
    int sky = (int)(sim_rng_unit(rng) * 4);
    switch (sky) {
    case 0: rgb(lk->sky_top, 70, 120, 200); rgb(lk->sky_horizon, 170, 200, 230); break;
    case 1: rgb(lk->sky_top, 120, 150, 190); rgb(lk->sky_horizon, 200, 210, 220); break;
    case 2: rgb(lk->sky_top, 130, 135, 145); rgb(lk->sky_horizon, 185, 185, 190); break;
    default: rgb(lk->sky_top, 90, 100, 160); rgb(lk->sky_horizon, 230, 170, 120); break;
    }
    jitter(lk->sky_top, rng, 0.08);
    jitter(lk->sky_horizon, rng, 0.06);
    rgb(lk->hill, sim_rng_range(rng, 40, 90), sim_rng_range(rng, 60, 110), sim_rng_range(rng, 40, 90));
    lk->hill_base = sim_rng_range(rng, 0.01, 0.06);
    for (int k = 0; k < LOOK_HILL_WAVES; k++) {
        lk->hill_freq[k] = k < 3 ? 1 + (int)(sim_rng_unit(rng) * 5) : 8 + (int)(sim_rng_unit(rng) * 60);
        lk->hill_amp[k] = (k < 3 ? sim_rng_range(rng, 0.0, 0.03) : sim_rng_range(rng, 0.0, 0.006));
        lk->hill_phase[k] = sim_rng_range(rng, 0, 6.283185307179586);
    }

    /* asphalt: dark new tarmac to worn light grey, slightly warm or cool */
    double g = sim_rng_range(rng, 55, 140);
    rgb(lk->asphalt, g * sim_rng_range(rng, 0.95, 1.06), g, g * sim_rng_range(rng, 0.94, 1.08));
    lk->asphalt_grain = (float)sim_rng_range(rng, 0.03, 0.12);
    lk->patch_amp = (float)sim_rng_range(rng, 0.0, 0.18);
    lk->patch_density = sim_rng_range(rng, 0.0, 0.25);
    /* shoulder: gravel, dirt or none (asphalt-coloured) */
    int sh = (int)(sim_rng_unit(rng) * 3);
    if (sh == 0)
        rgb(lk->shoulder, 150, 140, 120);
    else if (sh == 1)
        rgb(lk->shoulder, 120, 100, 75);
    else
        rgb(lk->shoulder, lk->asphalt[0] * 1.1, lk->asphalt[1] * 1.1, lk->asphalt[2] * 1.1);
    jitter(lk->shoulder, rng, 0.1);
    lk->shoulder_width = sim_rng_range(rng, 0.3, 2.0);
    /* verge: grass, dry grass, sand or dirt; two tones */
    int vg = (int)(sim_rng_unit(rng) * 4);
    switch (vg) {
    case 0: rgb(lk->verge[0], 60, 110, 45); rgb(lk->verge[1], 90, 130, 60); break;
    case 1: rgb(lk->verge[0], 150, 140, 80); rgb(lk->verge[1], 120, 120, 60); break;
    case 2: rgb(lk->verge[0], 200, 180, 140); rgb(lk->verge[1], 180, 160, 120); break;
    default: rgb(lk->verge[0], 110, 85, 60); rgb(lk->verge[1], 85, 95, 50); break;
    }
    jitter(lk->verge[0], rng, 0.12);
    jitter(lk->verge[1], rng, 0.12);
    lk->verge_grain = (float)sim_rng_range(rng, 0.05, 0.2);

    /* markings */
    if (sim_rng_unit(rng) < 0.5)
        rgb(lk->centre_line, 235, 235, 225);
    else
        rgb(lk->centre_line, 230, 190, 40);
    rgb(lk->edge_line, 235, 235, 230);
    double wear = sim_rng_range(rng, 0.6, 1.0); /* worn paint is closer to the asphalt */
    for (int k = 0; k < 3; k++) {
        lk->centre_line[k] = (float)(lk->asphalt[k] + wear * (lk->centre_line[k] - lk->asphalt[k]));
        lk->edge_line[k] = (float)(lk->asphalt[k] + wear * (lk->edge_line[k] - lk->asphalt[k]));
    }
    lk->centre_dashed = sim_rng_unit(rng) < 0.8;
    lk->dash_period = sim_rng_range(rng, 8, 14);
    lk->dash_len = lk->dash_period * sim_rng_range(rng, 0.25, 0.5);
    lk->line_width = sim_rng_range(rng, 0.1, 0.18);
    lk->edge_lines = sim_rng_unit(rng) < 0.75;
    lk->edge_inset = sim_rng_range(rng, 0.05, 0.3);

    /* light: level and colour; shadows are sharper and darker in bright light */
    double level = sim_rng_range(rng, 0.65, 1.2);
    rgb(lk->light, level * sim_rng_range(rng, 0.95, 1.08), level, level * sim_rng_range(rng, 0.9, 1.05));
    lk->shadow_density = sim_rng_unit(rng) < 0.3 ? 0 : sim_rng_range(rng, 0.1, 0.7);
    lk->shadow_gain = (float)sim_rng_range(rng, 0.35, 0.7);
    lk->haze_dist = sim_rng_range(rng, 120, 400);
    lk->tex_seed = (uint32_t)sim_rng_next(rng);
}

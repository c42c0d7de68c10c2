/* overlay.h — the frames of the closed-loop video: the camera frame with two steering needles
 * from the bottom centre (green: the expert, red: the prediction steerd returned) and a panel
 * below it with the same two values on a [-0.5, 0.5] scale (top bar), the cross-track error on a
 * +-1.5 m scale whose ends beyond +-1 m are the intervention zone (bottom bar, blue marker), and a
 * red border while an intervention is shown. No allocation. */
#ifndef STEERD_SIM_OVERLAY_H
#define STEERD_SIM_OVERLAY_H

#include <stdint.h>

#define OVERLAY_PANEL_H 40

/* dst: (h + OVERLAY_PANEL_H) rows of w*3 bytes; frame: h rows of w*3 bytes. predicted: NaN when
 * there is none (the expert's own drive draws only the green one). */
void overlay_draw(uint8_t *dst, const uint8_t *frame, int w, int h, double predicted, double expert, double cte_m,
                  int intervention);

#endif

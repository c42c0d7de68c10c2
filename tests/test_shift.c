/* test_shift.c — src/train/shift.c, the random digit shift of `augmentation.shift`: every
 * pixel lands where it should for shifts in all directions (multi-channel too), shifts of the
 * whole size or more leave only the fill, the draws stay in [-max, max], cover every value, are
 * reproducible and differ between epochs and items. (Its draws are also matched against
 * PyTorch training by tests/oracle/check_train_steps.py.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "train/shift.h"

enum { H = 5, W = 7, C = 2 };

static float src_at(int y, int x, int k) { return (float)(100 * y + 10 * x + k + 1); }

static void test_every_direction(void **state)
{
    (void)state;
    float src[H * W * C], dst[H * W * C];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int k = 0; k < C; k++)
                src[(y * W + x) * C + k] = src_at(y, x, k);
    for (int dy = -H - 1; dy <= H + 1; dy++)
        for (int dx = -W - 1; dx <= W + 1; dx++) {
            memset(dst, 0, sizeof dst);
            shift_image(dst, src, H, W, C, dy, dx, -0.5f);
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    for (int k = 0; k < C; k++) {
                        int sy = y - dy, sx = x - dx;
                        float want = sy >= 0 && sy < H && sx >= 0 && sx < W ? src_at(sy, sx, k) : -0.5f;
                        float got = dst[(y * W + x) * C + k];
                        if (got != want)
                            fail_msg("shift (%d, %d): pixel (%d, %d, %d) = %g, expected %g", dy, dx, y, x, k,
                                     (double)got, (double)want);
                    }
        }
}

static void test_draws(void **state)
{
    (void)state;
    int seen[5][5] = {{0}};
    int same_epoch = 0, same_item = 0;
    for (size_t item = 0; item < 2000; item++) {
        int dy, dx, dy2, dx2, dy3, dx3, ey, ex;
        shift_draw(7, 3, item, 2, &dy, &dx);
        assert_true(dy >= -2 && dy <= 2 && dx >= -2 && dx <= 2);
        seen[dy + 2][dx + 2]++;
        shift_draw(7, 3, item, 2, &dy2, &dx2);
        assert_int_equal(dy, dy2);
        assert_int_equal(dx, dx2);
        shift_draw(7, 4, item, 2, &dy3, &dx3);
        same_epoch += dy3 == dy && dx3 == dx;
        shift_draw(7, 3, item + 1, 2, &ey, &ex);
        same_item += ey == dy && ex == dx;
    }
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            if (seen[i][j] < 40) /* 2000 / 25 = 80 expected per cell */
                fail_msg("shift (%d, %d) drawn %d times in 2000", i - 2, j - 2, seen[i][j]);
    /* independent draws agree 1/25 of the time: about 80 of 2000 */
    assert_true(same_epoch < 200);
    assert_true(same_item < 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_direction),
        cmocka_unit_test(test_draws),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* steer-run.c — libsteer's example: load a model, run it on images, print the outputs.
 *   steer-run MODEL.yaml WEIGHTS.safetensors [INPUT.f32]
 * INPUT.f32: preprocessed images as raw float32 (native byte order), NHWC, one after another
 * (numpy: x.astype('float32').tofile(path)); without it one image of 0.5 everywhere. Prints one
 * line per image: the outputs, space-separated, with %.9g (exact float32 round trip).
 * Build: cc steer-run.c $(pkg-config --cflags --libs steer) -o steer-run */
#include <steer/steer.h>

#include <stdio.h>
#include <stdlib.h>

#define MAX_BATCH 64

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: steer-run MODEL.yaml WEIGHTS.safetensors [INPUT.f32]   (libsteer %s)\n",
                steer_version());
        return 64;
    }
    char err[512];
    steer_model *m;
    steer_options opts = {.max_batch = MAX_BATCH, .threads = 1, .backend = STEER_BACKEND_CPU};
    if (steer_open(&m, argv[1], argv[2], &opts, err, sizeof err)) {
        fprintf(stderr, "steer-run: %s\n", err);
        return 1;
    }
    int h, w, c;
    steer_input_shape(m, &h, &w, &c);
    size_t image = (size_t)h * w * c, n_out = (size_t)steer_output_size(m);
    float *x = malloc(MAX_BATCH * image * sizeof *x), *y = malloc(MAX_BATCH * n_out * sizeof *y);
    int status = 0, batch = 1;
    if (!x || !y) {
        fprintf(stderr, "steer-run: out of memory\n");
        status = 1;
    } else if (argc == 4) {
        FILE *f = fopen(argv[3], "rb");
        size_t got = f ? fread(x, sizeof *x, MAX_BATCH * image + 1, f) : 0;
        if (!f || got == 0 || got % image != 0 || got > MAX_BATCH * image) {
            fprintf(stderr, "steer-run: %s: expected 1..%d images of %dx%dx%d float32 (%zu floats read)\n", argv[3],
                    MAX_BATCH, h, w, c, got);
            status = f ? 65 : 66;
        }
        batch = (int)(got / image);
        if (f)
            fclose(f);
    } else {
        for (size_t i = 0; i < image; i++)
            x[i] = 0.5f;
    }
    if (!status && steer_run(m, x, batch, y, MAX_BATCH * n_out, err, sizeof err)) {
        fprintf(stderr, "steer-run: %s\n", err);
        status = 1;
    }
    for (int b = 0; !status && b < batch; b++)
        for (size_t j = 0; j < n_out; j++)
            printf("%.9g%c", y[b * n_out + j], j + 1 < n_out ? ' ' : '\n');
    free(x);
    free(y);
    steer_close(m);
    return status;
}

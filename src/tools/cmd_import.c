/* cmd_import.c — `steerctl import MODEL.onnx|MODEL.h5 --out DIR [--name NAME] [--config MODEL.json]`:
 * a model from another framework (src/import) written as DIR/NAME.yaml + DIR/NAME.safetensors,
 * then its info table. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <sysexits.h>

#include "common/file_read.h"

#include "import/import.h"
#include "tools/steerctl.h"

static const char import_help[] =
    "usage: steerctl import MODEL.onnx|MODEL.h5 --out DIR [--name NAME]\n"
    "       steerctl import WEIGHTS.h5 --config MODEL.json --out DIR [--name NAME]\n"
    "\n"
    "Converts an ONNX model (opsets 7-18: PyTorch's torch.onnx.export, tf2onnx) or a Keras 2 .h5\n"
    "(model.save; Sequential or functional) into the zoo's\n"
    "format: DIR/NAME.yaml (the architecture as primitive layers, editable) and DIR/NAME.safetensors\n"
    "(PyTorch names and layouts), then prints `steerctl model info` of the result. Both files are\n"
    "written only after the engine has loaded them and passed its self-check; an operator, attribute\n"
    "or pattern the engine cannot represent is one error naming the node, and nothing is written.\n"
    "NAME defaults to the model file's name without its extension. Supported operators and what they\n"
    "become: docs/FORMATS.md, section 9. A Keras Lambda layer is refused (declare a normalisation\n"
    "as the YAML's preprocess scale/offset instead).\n"
    "--config MODEL.json gives the architecture of a Keras .h5 apart from its weights: for a\n"
    "model.save_weights file (which has none), the JSON of model.to_json() or a TensorFlow.js\n"
    "model.json (its modelTopology); with a model.save file it replaces the file's own model_config\n"
    "(e.g. with a Lambda layer removed). Weights are matched to layers by name.\n"
    "Exit status: 0 done, 64 usage, 66 MODEL or DIR missing, 73 DIR not writable, 65 malformed model\n"
    "(bad protobuf / HDF5, missing initializer or weight, shapes that do not fit), 78 a model\n"
    "the engine cannot represent (or ONNX support not built), 1 other errors.\n";

static int exit_for(nn_status s)
{
    if (s == NN_E_UNSUPPORTED)
        return EX_CONFIG;
    return s == NN_E_PARSE || s == NN_E_SHAPE || s == NN_E_WEIGHTS || s == NN_E_SPEC ? EX_DATAERR : 1;
}

/* NAME from the file name: its base without extension, other characters than [A-Za-z0-9_.-] as '_'. */
static void default_name(const char *path, char *name, size_t cap)
{
    const char *b = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    snprintf(name, cap, "%s", b);
    char *dot = strrchr(name, '.');
    if (dot && dot != name)
        *dot = '\0';
    for (char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
            *p = '_';
}

int cmd_import(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'}, {"name", required_argument, 0, 'n'},
                                         {"config", required_argument, 0, 'c'}, {0, 0, 0, 0}};
    const char *model = NULL, *out = NULL, *name_arg = NULL, *config = NULL;
    opts_parser p;
    opts_start(&p, "steerctl", "import", argc, argv, "", opts);
    for (int c; (c = opts_next(&p)) != OPTS_END;) {
        if (c == 'o')
            out = p.arg;
        else if (c == 'n')
            name_arg = p.arg;
        else if (c == 'c')
            config = p.arg;
        else if (!opts_positional(&p, c, &model, 1))
            return opts_default(&p, c, import_help);
    }
    if (!model || !out)
        return fputs(import_help, stderr), EXIT_USAGE;
    char name[96];
    if (name_arg && (strlen(name_arg) >= sizeof name || !name_arg[0] || strspn(name_arg, "abcdefghijklmnopqrstuvwxyz"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(name_arg) || name_arg[0] == '.')) {
        fprintf(stderr, "steerctl: import: --name: expected [A-Za-z0-9_.-]+, at most %zu bytes, not starting with "
                "'.'\n", sizeof name - 1);
        return EXIT_USAGE;
    }
    if (name_arg)
        snprintf(name, sizeof name, "%s", name_arg);
    else
        default_name(model, name, sizeof name);
    int rc = opts_input(&p, NULL, model);
    if (rc || (rc = opts_input(&p, "--config", config)))
        return rc;
    struct stat st;
    if (stat(out, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "steerctl: import: --out %s: not an existing directory\n", out);
        return EX_NOINPUT;
    }
    size_t n = strlen(model);
    bool h5 = (n > 3 && strcmp(model + n - 3, ".h5") == 0) || (n > 5 && strcmp(model + n - 5, ".hdf5") == 0) ||
              (n > 6 && strcmp(model + n - 6, ".keras") == 0);
    if (config && !h5)
        return opts_usage(&p, "--config: only for a Keras .h5 (an ONNX file holds its architecture)");
    imp_model m;
    imp_init(&m, model, h5 ? "Keras .h5" : "ONNX");
    nn_err err;
    char yaml[1024], *cfg = NULL;
    size_t cfg_len;
    nn_status s = config ? cm_read_regular(config, IMP_MAX_CONFIG, &cfg, &cfg_len, &err) : NN_OK;
    if (s) {
        fprintf(stderr, "steerctl: import: --config %s\n", err.msg);
        return EX_NOINPUT;
    }
    m.config = cfg;
    m.config_src = config;
#ifdef STEERD_HAVE_HDF5
    if (h5)
        s = imp_read_isolated(&m, imp_keras_parse, "HDF5", &err); /* libhdf5 crashes on damaged files */
#else
    if (h5)
        s = nn_fail(&err, NN_E_UNSUPPORTED, "%s: this steerctl was built without Keras .h5 support (needs libhdf5: "
                    "scripts/deps.sh, then meson setup -Dhdf5=enabled)", model);
#endif
#ifdef STEERD_HAVE_ONNX
    if (!h5)
        s = imp_read(&m, imp_onnx_parse, &err);
#else
    if (!h5)
        s = nn_fail(&err, NN_E_UNSUPPORTED, "%s: this steerctl was built without ONNX support (needs libprotobuf-c "
                    "and protoc-c: scripts/deps.sh, then meson setup -Donnx=enabled)", model);
#endif
    bool read = !s;
    if (read)
        s = imp_write(&m, out, name, yaml, sizeof yaml, &err);
    imp_free(&m);
    free(cfg);
    if (s) {
        fprintf(stderr, "steerctl: import: %s\n", err.msg);
        if (s == NN_E_ARG)
            return EXIT_USAGE; /* a save_weights file without --config */
        return s != NN_E_IO ? exit_for(s) : read ? EX_CANTCREAT : EX_NOINPUT;
    }
    char *info[] = {(char *)"model", (char *)"info", yaml, NULL};
    return cmd_model(3, info);
}

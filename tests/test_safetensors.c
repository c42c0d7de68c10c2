/* test_safetensors.c — safetensors reader/writer: a file laid out exactly as
 * safetensors.torch.save_file writes it (tests/fixtures/st_torch_like.inc, made by
 * tests/oracle/make_safetensors_fixture.py), st_write → st_open bit-exact round trips, and every
 * error path (status + message substring), all from hand-built byte buffers. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"

#include "common/sha256.h"
#include "nn/format/safetensors.h"

#include "fixtures/st_torch_like.inc"

#define UNI_NAME ("\xc3\xbcnic\xc3\xb6" "de.w") /* "ünicöde.w" */

/* Builds a file: u64 LE header length, header, data. Caller frees. */
static uint8_t *mk(const char *hdr, const void *data, size_t dlen, size_t *len)
{
    size_t n = strlen(hdr);
    uint8_t *b = malloc(8 + n + dlen + 1);
    assert_non_null(b);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(b + 8, hdr, n);
    if (dlen)
        memcpy(b + 8 + n, data, dlen);
    *len = 8 + n + dlen;
    return b;
}

static void expect_parse_err(const char *what, const uint8_t *buf, size_t len, nn_status want, const char *substr)
{
    st_file f;
    nn_err err = {{0}};
    nn_status s = st_parse(&f, buf, len, "w.safetensors", &err);
    check_msg(what, s, want, &err, substr);
    if (!strstr(err.msg, "w.safetensors"))
        fail_msg("case %s: message does not name the file: %s", what, err.msg);
    if (f.tensors || f.meta || f.n_tensors || f.n_meta)
        fail_msg("case %s: st_file not released after the error", what);
    st_close(&f);
}

static void expect_hdr_err(const char *what, const char *hdr, size_t dlen, nn_status want, const char *substr)
{
    size_t len;
    uint8_t *data = calloc(dlen + 1, 1), *b;
    assert_non_null(data);
    b = mk(hdr, data, dlen, &len);
    expect_parse_err(what, b, len, want, substr);
    free(b);
    free(data);
}

static st_file parse_ok(const char *what, const uint8_t *buf, size_t len)
{
    st_file f;
    nn_err err = {{0}};
    nn_status s = st_parse(&f, buf, len, what, &err);
    if (s != NN_OK)
        fail_msg("case %s: st_parse failed: %s", what, err.msg);
    return f;
}

static void check_tensor(const char *what, const st_file *f, const char *name, const char *dtype, int ndim,
                         const int64_t *dims, const void *bytes, size_t nbytes)
{
    const st_tensor *t = st_find(f, name);
    if (!t)
        fail_msg("case %s: tensor \"%s\" missing", what, name);
    if (strcmp(t->dtype, dtype) != 0 || t->ndim != ndim)
        fail_msg("case %s: tensor \"%s\": dtype %s ndim %d, want %s %d", what, name, t->dtype, t->ndim, dtype, ndim);
    for (int i = 0; i < ndim; i++)
        if (t->dims[i] != dims[i])
            fail_msg("case %s: tensor \"%s\": dim %d is %lld, want %lld", what, name, i, (long long)t->dims[i],
                     (long long)dims[i]);
    if (t->end - t->begin != nbytes || (nbytes && memcmp(f->data + t->begin, bytes, nbytes) != 0))
        fail_msg("case %s: tensor \"%s\": data differs", what, name);
}

/* ---- compatibility with safetensors.torch.save_file ---- */

static void check_torch_like(const char *what, const st_file *f)
{
    float w[18];
    for (int i = 0; i < 18; i++)
        w[i] = (float)i * 0.5f - 4.0f;
    const float bias[2] = {0.25f, -0.75f}, uni[1] = {42.0f};
    const int64_t nbt = 12345678901LL;
    const uint16_t half[3] = {0x3c00, 0xc100, 0x7bff}, bf16[4] = {0x3fc0, 0xc000, 0x0000, 0x4380};
    const uint8_t mask[4] = {1, 0, 1, 1}, bytes[5] = {0, 1, 2, 3, 4};
    const int32_t idx[3] = {-1, 0, 7};
    const double dbl[2] = {3.141592653589793, -1e300};
    check_tensor(what, f, "conv1.weight", "F32", 4, (const int64_t[]){2, 1, 3, 3}, w, sizeof w);
    check_tensor(what, f, "conv1.bias", "F32", 1, (const int64_t[]){2}, bias, sizeof bias);
    check_tensor(what, f, "bn.num_batches_tracked", "I64", 0, NULL, &nbt, sizeof nbt);
    check_tensor(what, f, "emb.half", "F16", 1, (const int64_t[]){3}, half, sizeof half);
    check_tensor(what, f, "emb.bf16", "BF16", 2, (const int64_t[]){2, 2}, bf16, sizeof bf16);
    check_tensor(what, f, "mask", "BOOL", 1, (const int64_t[]){4}, mask, sizeof mask);
    check_tensor(what, f, "idx", "I32", 1, (const int64_t[]){3}, idx, sizeof idx);
    check_tensor(what, f, "bytes", "U8", 1, (const int64_t[]){5}, bytes, sizeof bytes);
    check_tensor(what, f, "dbl", "F64", 1, (const int64_t[]){2}, dbl, sizeof dbl);
    check_tensor(what, f, "empty", "F32", 2, (const int64_t[]){0, 3}, NULL, 0);
    check_tensor(what, f, UNI_NAME, "F32", 1, (const int64_t[]){1}, uni, sizeof uni);
    /* save_file order: dtype by alignment, then name; contiguous, covering the data section. */
    static const char *const order[] = {"bn.num_batches_tracked", "dbl", "conv1.bias", "conv1.weight", "empty",
                                        UNI_NAME, "idx", "emb.bf16", "emb.half", "bytes", "mask"};
    assert_int_equal(f->n_tensors, 11);
    size_t off = 0;
    for (int i = 0; i < 11; i++) {
        if (strcmp(f->tensors[i].name, order[i]) != 0 || f->tensors[i].begin != off)
            fail_msg("case %s: tensor %d is \"%s\" at %zu, want \"%s\" at %zu", what, i, f->tensors[i].name,
                     f->tensors[i].begin, order[i], off);
        off = f->tensors[i].end;
    }
    if (off != f->data_len || f->n_meta != 0 || st_meta(f, "checksum") != NULL)
        fail_msg("case %s: data_len %zu (want %zu) or unexpected metadata", what, f->data_len, off);
}

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_st.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    return remove_tree(tmpdir);
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static void test_torch_like_fixture(void **state)
{
    (void)state;
    st_file f = parse_ok("torch-like fixture (st_parse)", st_torch_like, sizeof st_torch_like);
    assert_null(f.map);
    check_torch_like("torch-like fixture (st_parse)", &f);
    st_close(&f);

    char path[128];
    nn_err err = {{0}};
    snprintf(path, sizeof path, "%s/torch.safetensors", tmpdir);
    write_file(path, st_torch_like, sizeof st_torch_like);
    if (st_open(&f, path, &err) != NN_OK)
        fail_msg("case torch-like fixture (st_open): %s", err.msg);
    assert_non_null(f.map);
    check_torch_like("torch-like fixture (st_open)", &f);
    st_close(&f);
    st_close(&f); /* idempotent */
}

/* ---- writer round trip ---- */

static void test_write_roundtrip(void **state)
{
    (void)state;
    char path[128], tmp[140];
    snprintf(path, sizeof path, "%s/rt.safetensors", tmpdir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    float a[24], b[3], scalar = -0.0f;
    for (int i = 0; i < 24; i++)
        a[i] = (float)i / 7.0f - 1.0f;
    uint32_t bits[3] = {0x7fc00001u, 0xff800000u, 0x00000001u}; /* NaN payload, -inf, denormal */
    memcpy(b, bits, sizeof b);
    const int da[4] = {2, 3, 2, 2}, db[1] = {3}, dz[2] = {0, 5};
    const st_out_tensor t[] = {
        {"layer2.weight", 4, da, a},
        {"caf\xc3\xa9 \"q\"\\n", 1, db, b},
        {"scalar", 0, NULL, &scalar},
        {"zero", 2, dz, NULL},
        {"ctl\x01\r\b\f\x7f", 1, db, b},
    };
    const char *const meta[] = {"model", "seed-mnist", "note", "line1\nline2 \"quoted\" \\ tab\t \xe2\x82\xac \xf0\x9f\x98\x80",
                                NULL};
    char sum[80];
    nn_err err = {{0}};
    if (st_write(path, t, 5, meta, sum, &err) != NN_OK)
        fail_msg("case write round trip: st_write: %s", err.msg);
    if (access(tmp, F_OK) == 0)
        fail_msg("case write round trip: %s left behind", tmp);

    st_file f;
    if (st_open(&f, path, &err) != NN_OK)
        fail_msg("case write round trip: st_open: %s", err.msg);
    const char *what = "write round trip";
    check_tensor(what, &f, "layer2.weight", "F32", 4, (const int64_t[]){2, 3, 2, 2}, a, sizeof a);
    check_tensor(what, &f, "caf\xc3\xa9 \"q\"\\n", "F32", 1, (const int64_t[]){3}, b, sizeof b);
    check_tensor(what, &f, "scalar", "F32", 0, NULL, &scalar, sizeof scalar);
    check_tensor(what, &f, "zero", "F32", 2, (const int64_t[]){0, 5}, NULL, 0);
    check_tensor(what, &f, "ctl\x01\r\b\f\x7f", "F32", 1, (const int64_t[]){3}, b, sizeof b);
    /* order and contiguity follow the caller's order */
    size_t off = 0;
    for (int i = 0; i < 5; i++) {
        if (strcmp(f.tensors[i].name, t[i].name) != 0 || f.tensors[i].begin != off)
            fail_msg("case %s: tensor %d out of order or not contiguous", what, i);
        off = f.tensors[i].end;
    }
    assert_int_equal(off, f.data_len);
    assert_string_equal(st_meta(&f, "model"), "seed-mnist");
    assert_string_equal(st_meta(&f, "note"), meta[3]);
    assert_string_equal(st_meta(&f, "checksum"), sum);
    assert_int_equal(f.n_meta, 3);
    char want[72];
    sha256_tag(f.data, f.data_len, want);
    assert_string_equal(sum, want);
    /* header: __metadata__ first, padded with spaces to a multiple of 8 */
    const uint8_t *raw = f.map;
    size_t hlen = f.map_len - 8 - f.data_len;
    assert_int_equal(hlen % 8, 0);
    assert_memory_equal(raw + 8, "{\"__metadata__\":{\"model\":", 25);
    size_t close_at = hlen + 7;
    while (raw[close_at] == ' ')
        close_at--;
    assert_int_equal(raw[close_at], '}');
    assert_true(hlen + 7 - close_at < 8);
    st_close(&f);

    /* Writing twice replaces the file atomically; no tensors is valid too. */
    if (st_write(path, NULL, 0, NULL, sum, &err) != NN_OK)
        fail_msg("case write empty: %s", err.msg);
    if (st_open(&f, path, &err) != NN_OK)
        fail_msg("case write empty: st_open: %s", err.msg);
    assert_int_equal(f.n_tensors, 0);
    assert_int_equal(f.data_len, 0);
    assert_string_equal(st_meta(&f, "checksum"),
                        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    st_close(&f);
}

static void test_write_errors(void **state)
{
    (void)state;
    char path[128], tmp[140], dirpath[128];
    snprintf(path, sizeof path, "%s/bad.safetensors", tmpdir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    float x[2] = {1, 2};
    const int d2[1] = {2}, dneg[1] = {-2};
    const int dbig[8] = {65536, 65536, 65536, 65536, 65536, 65536, 65536, 65536};
    char longname[ST_NAME_LEN + 1];
    memset(longname, 'n', ST_NAME_LEN);
    longname[ST_NAME_LEN] = '\0';
    nn_err err = {{0}};
    struct {
        const char *what;
        st_out_tensor t[2];
        int n;
        const char *const *meta;
        nn_status want;
        const char *substr;
    } cases[] = {
        {"duplicate name", {{"a", 1, d2, x}, {"a", 1, d2, x}}, 2, NULL, NN_E_ARG, "duplicate tensor 'a'"},
        {"name too long", {{longname, 1, d2, x}}, 1, NULL, NN_E_ARG, "at most 191 bytes"},
        {"invalid UTF-8 name", {{"bad\xff", 1, d2, x}}, 1, NULL, NN_E_ARG, "must be UTF-8"},
        {"negative dim", {{"a", 1, dneg, x}}, 1, NULL, NN_E_ARG, "negative dimension -2"},
        {"ndim 9", {{"a", 9, d2, x}}, 1, NULL, NN_E_ARG, "bad ndim 9"},
        {"no data", {{"a", 1, d2, NULL}}, 1, NULL, NN_E_ARG, "no data"},
        {"no name", {{NULL, 1, d2, x}}, 1, NULL, NN_E_ARG, "has no name"},
        {"checksum in meta", {{"a", 1, d2, x}}, 1, (const char *const[]){"checksum", "x", NULL}, NN_E_ARG,
         "\"checksum\" is computed"},
        {"meta key without value", {{"a", 1, d2, x}}, 1, (const char *const[]){"k", NULL}, NN_E_ARG, "has no value"},
        {"duplicate meta key", {{"a", 1, d2, x}}, 1, (const char *const[]){"k", "1", "k", "2", NULL}, NN_E_ARG,
         "duplicate key 'k'"},
        {"tensor too large", {{"a", 8, dbig, x}}, 1, NULL, NN_E_ARG, "tensor 'a': too large"},
        {"meta value not UTF-8", {{"a", 1, d2, x}}, 1, (const char *const[]){"k", "v\xc3", NULL}, NN_E_ARG,
         "__metadata__ 'k': value must be UTF-8, at most 255 bytes"},
        {"meta key too long", {{"a", 1, d2, x}}, 1,
         (const char *const[]){"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", "v", NULL}, NN_E_ARG,
         "at most 63 bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nn_status s = st_write(path, cases[i].t, cases[i].n, cases[i].meta, NULL, &err);
        check_msg(cases[i].what, s, cases[i].want, &err, cases[i].substr);
        if (access(path, F_OK) == 0 || access(tmp, F_OK) == 0)
            fail_msg("case %s: a file was written", cases[i].what);
    }
    nn_status s = st_write(path, NULL, -1, NULL, NULL, &err);
    check_msg("negative tensor count", s, NN_E_ARG, &err, "bad arguments (n = -1)");
    s = st_write(path, NULL, 1, NULL, NULL, &err);
    check_msg("NULL tensors", s, NN_E_ARG, &err, "bad arguments (n = 1)");
    const st_out_tensor ok[1] = {{"a", 1, d2, x}};
    /* directory that does not exist */
    s = st_write("/nonexistent-dir/x.safetensors", ok, 1, NULL, NULL, &err);
    check_msg("missing directory", s, NN_E_IO, &err, "/nonexistent-dir/x.safetensors: cannot create");
    /* the target is a directory: the rename fails and the temp file is removed */
    snprintf(dirpath, sizeof dirpath, "%s/adir", tmpdir);
    assert_int_equal(mkdir(dirpath, 0755), 0);
    s = st_write(dirpath, ok, 1, NULL, NULL, &err);
    check_msg("target is a directory", s, NN_E_IO, &err, "cannot rename");
    snprintf(tmp, sizeof tmp, "%s.tmp", dirpath);
    if (access(tmp, F_OK) == 0)
        fail_msg("case target is a directory: %s left behind", tmp);
}

/* ---- valid hand-built headers ---- */

static void test_valid_variants(void **state)
{
    (void)state;
    size_t len;
    uint8_t data[64];
    for (int i = 0; i < 64; i++)
        data[i] = (uint8_t)i;
    uint8_t *b;
    st_file f;

    b = mk("{}", NULL, 0, &len);
    f = parse_ok("empty object", b, len);
    assert_int_equal(f.n_tensors, 0);
    st_close(&f);
    free(b);

    b = mk(" \t\n{ } \n  ", NULL, 0, &len);
    f = parse_ok("whitespace around the object", b, len);
    st_close(&f);
    free(b);

    /* escapes: \" \\ \/ \b \f \n \r \t \u00e9 and a surrogate pair (U+1F600) */
    b = mk("{\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00z\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
           "\"__metadata__\":{\"k\\u0041\":\"v\\u20AC\xf0\x9f\x98\x80\"}}",
           data, 2, &len);
    f = parse_ok("string escapes", b, len);
    assert_non_null(st_find(&f, "a\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80z"));
    assert_string_equal(st_meta(&f, "kA"), "v\xe2\x82\xac\xf0\x9f\x98\x80");
    st_close(&f);
    free(b);

    /* gaps between tensors and trailing data are accepted; zero-size tensors anywhere at a boundary */
    b = mk("{\"x\":{\"shape\":[1,2],\"data_offsets\":[8,16],\"dtype\":\"F32\"},"
           "\"y\":{\"dtype\":\"I16\",\"shape\":[],\"data_offsets\":[20,22]},"
           "\"z\":{\"dtype\":\"BOOL\",\"shape\":[0],\"data_offsets\":[16,16]},"
           "\"w\":{\"dtype\":\"F64\",\"shape\":[3,0,9223372036854775807],\"data_offsets\":[0,0]}}",
           data, 40, &len);
    f = parse_ok("gaps and zero-size", b, len);
    check_tensor("gaps and zero-size", &f, "x", "F32", 2, (const int64_t[]){1, 2}, data + 8, 8);
    check_tensor("gaps and zero-size", &f, "y", "I16", 0, NULL, data + 20, 2);
    st_close(&f);
    free(b);

    /* longest name and metadata key/value */
    char hdr[1024], name[ST_NAME_LEN], key[64], val[256];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    memset(val, 'v', sizeof val - 1);
    val[sizeof val - 1] = '\0';
    snprintf(hdr, sizeof hdr, "{\"__metadata__\":{\"%s\":\"%s\"},\"%s\":{\"dtype\":\"I8\",\"shape\":[1],"
             "\"data_offsets\":[0,1]}}", key, val, name);
    b = mk(hdr, data, 1, &len);
    f = parse_ok("longest name, key and value", b, len);
    assert_non_null(st_find(&f, name));
    assert_string_equal(st_meta(&f, key), val);
    assert_null(st_find(&f, "nope"));
    assert_null(st_meta(&f, "nope"));
    st_close(&f);
    free(b);

    /* a valid checksum, upper-case hex accepted */
    char tag[72];
    sha256_tag(data, 8, tag);
    for (char *p = tag + 7; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    snprintf(hdr, sizeof hdr, "{\"__metadata__\":{\"checksum\":\"%s\"},\"t\":{\"dtype\":\"F64\",\"shape\":[1],"
             "\"data_offsets\":[0,8]}}", tag);
    b = mk(hdr, data, 8, &len);
    f = parse_ok("valid checksum", b, len);
    st_close(&f);
    free(b);

    /* st_dtype_size */
    assert_int_equal(st_dtype_size("F32"), 4);
    assert_int_equal(st_dtype_size("BF16"), 2);
    assert_int_equal(st_dtype_size("BOOL"), 1);
    assert_int_equal(st_dtype_size("F8_E4M3"), 0);
}

/* ---- every error path ---- */

#define T1(dt, shape, offs) "{\"t\":{\"dtype\":" dt ",\"shape\":" shape ",\"data_offsets\":" offs "}}"

static void test_header_errors(void **state)
{
    (void)state;
    static const struct {
        const char *what, *hdr;
        size_t dlen;
        nn_status want;
        const char *substr;
    } cases[] = {
        {"not JSON", "hello", 0, NN_E_PARSE, "header: invalid JSON at byte 0: expected a value"},
        {"empty header", "", 0, NN_E_PARSE, "invalid JSON at byte 0: expected a value, got end of header"},
        {"array", "[]", 0, NN_E_PARSE, "header is not a JSON object"},
        {"string top level", "\"x\"", 0, NN_E_PARSE, "header is not a JSON object"},
        {"trailing garbage", "{} x", 0, NN_E_PARSE, "trailing garbage at byte 3"},
        {"two objects", "{}{}", 0, NN_E_PARSE, "trailing garbage at byte 2"},
        {"trailing NUL", "{}\x01", 0, NN_E_PARSE, "trailing garbage"},
        {"unterminated object", "{\"t\":{}", 0, NN_E_PARSE, "invalid JSON"},
        {"missing colon", "{\"t\" {}}", 0, NN_E_PARSE, "expected ':'"},
        {"missing comma", "{\"a\":{} \"b\":{}}", 0, NN_E_PARSE, "expected ',' or '}'"},
        {"trailing comma", "{\"a\":{},}", 0, NN_E_PARSE, "expected a string"},
        {"unquoted key", "{a:1}", 0, NN_E_PARSE, "expected a string, got 'a'"},
        {"unterminated string", "{\"abc", 0, NN_E_PARSE, "unterminated string"},
        {"bad escape", "{\"a\\x\":{}}", 0, NN_E_PARSE, "invalid escape '\\x'"},
        {"lone high surrogate", "{\"\\ud800\":{}}", 0, NN_E_PARSE, "not followed by a low one"},
        {"high + non-low surrogate", "{\"\\ud800\\u0041\":{}}", 0, NN_E_PARSE, "followed by \\u0041"},
        {"lone low surrogate", "{\"\\udc00\":{}}", 0, NN_E_PARSE, "lone low surrogate"},
        {"escape of a control byte", "{\"a\\\x01\":{}}", 0, NN_E_PARSE, "invalid escape (byte 0x01)"},
        {"backslash at end", "{\"a\\", 0, NN_E_PARSE, "unterminated string"},
        {"control byte as value", "{\"a\":\x01}", 0, NN_E_PARSE, "expected a value, got byte 0x01"},
        {"metadata value false", "{\"__metadata__\":{\"b\":false}}", 0, NN_E_PARSE, "__metadata__ 'b': value must be a string"},
        {"truncated 4-byte UTF-8", "{\"\xf0\x9f\x98", 0, NN_E_PARSE, "invalid UTF-8"},
        {"bad hex digit", "{\"\\u12g4\":{}}", 0, NN_E_PARSE, "bad hex digit"},
        {"truncated \\u", "{\"\\u12", 0, NN_E_PARSE, "truncated \\u escape"},
        {"\\u0000", "{\"a\\u0000\":{}}", 0, NN_E_PARSE, "\\u0000 in string is not supported"},
        {"control char", "{\"a\tb\":{}}", 0, NN_E_PARSE, "control character 0x09"},
        {"invalid UTF-8", "{\"a\xff\":{}}", 0, NN_E_PARSE, "invalid UTF-8"},
        {"overlong UTF-8", "{\"a\xc0\xaf\":{}}", 0, NN_E_PARSE, "invalid UTF-8"},
        {"UTF-8 surrogate", "{\"a\xed\xa0\x80\":{}}", 0, NN_E_PARSE, "invalid UTF-8"},
        {"bad literal", "{\"__metadata__\":{\"a\":tru}}", 0, NN_E_PARSE, "invalid literal"},
        {"leading zero", T1("\"F32\"", "[01]", "[0,4]"), 4, NN_E_PARSE, "leading zero"},
        {"bad fraction", T1("\"F32\"", "[1.]", "[0,4]"), 4, NN_E_PARSE, "no digits after '.'"},
        {"bad exponent", T1("\"F32\"", "[1e]", "[0,4]"), 4, NN_E_PARSE, "no exponent digits"},
        {"lone minus", T1("\"F32\"", "[-]", "[0,4]"), 4, NN_E_PARSE, "invalid number"},
        {"float dim", T1("\"F32\"", "[2.0]", "[0,8]"), 8, NN_E_PARSE, "tensor 't': \"shape\": expected a non-negative integer, got 2.0"},
        {"exponent dim", T1("\"F32\"", "[1e1]", "[0,40]"), 40, NN_E_PARSE, "got 1e1"},
        {"negative dim", T1("\"F32\"", "[-1]", "[0,4]"), 4, NN_E_PARSE, "got -1"},
        {"dim is a string", T1("\"F32\"", "[\"2\"]", "[0,8]"), 8, NN_E_PARSE, "expected a non-negative integer, got '\"'"},
        {"huge integer", T1("\"F32\"", "[99999999999999999999]", "[0,4]"), 4, NN_E_PARSE, "integer 99999999999999999999 is too large"},
        {"dim > INT64_MAX", T1("\"F32\"", "[9223372036854775808]", "[0,4]"), 4, NN_E_PARSE, "shape dimension 9223372036854775808 is too large"},
        {"9 dims", T1("\"F32\"", "[1,1,1,1,1,1,1,1,1]", "[0,4]"), 4, NN_E_PARSE, "more than 8 dimensions"},
        {"shape not array", T1("\"F32\"", "2", "[0,8]"), 8, NN_E_PARSE, "\"shape\": expected '['"},
        {"shape unclosed", "{\"t\":{\"shape\":[2 \"x\"]}}", 8, NN_E_PARSE, "invalid JSON at byte 17: expected ',' or ']'"},
        {"unknown dtype", T1("\"F8\"", "[1]", "[0,1]"), 1, NN_E_PARSE, "tensor 't': unknown dtype 'F8'"},
        {"lower-case dtype", T1("\"f32\"", "[1]", "[0,4]"), 4, NN_E_PARSE, "unknown dtype 'f32'"},
        {"long dtype", T1("\"F32F32F32F32F32F32\"", "[1]", "[0,4]"), 4, NN_E_PARSE, "unknown dtype"},
        {"dtype not string", T1("32", "[1]", "[0,4]"), 4, NN_E_PARSE, "\"dtype\": expected a string, got '3'"},
        {"missing dtype", "{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, NN_E_PARSE, "tensor 't': missing \"dtype\""},
        {"missing shape", "{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, NN_E_PARSE, "missing \"shape\""},
        {"missing offsets", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, NN_E_PARSE, "missing \"data_offsets\""},
        {"empty entry", "{\"t\":{}}", 0, NN_E_PARSE, "tensor 't': missing \"dtype\""},
        {"extra key", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"foo\":1}}", 4, NN_E_PARSE, "tensor 't': unknown key 'foo'"},
        {"duplicate dtype", "{\"t\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, NN_E_PARSE, "duplicate key \"dtype\""},
        {"duplicate shape", "{\"t\":{\"shape\":[1],\"shape\":[1]}}", 4, NN_E_PARSE, "duplicate key \"shape\""},
        {"duplicate offsets", "{\"t\":{\"data_offsets\":[0,4],\"data_offsets\":[0,4]}}", 4, NN_E_PARSE, "duplicate key \"data_offsets\""},
        {"entry not object", "{\"t\":[1]}", 0, NN_E_PARSE, "tensor 't': expected an object"},
        {"3 offsets", T1("\"F32\"", "[1]", "[0,4,8]"), 8, NN_E_PARSE, "\"data_offsets\" must be [begin, end]"},
        {"1 offset", T1("\"F32\"", "[1]", "[4]"), 4, NN_E_PARSE, "\"data_offsets\": expected ','"},
        {"negative offset", T1("\"F32\"", "[1]", "[-4,0]"), 4, NN_E_PARSE, "got -4"},
        {"begin > end", T1("\"F32\"", "[0]", "[8,4]"), 8, NN_E_WEIGHTS, "tensor 't': data_offsets [8, 4]: begin is after end"},
        {"past end", "{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[100],\"data_offsets\":[0,400]}}", 256, NN_E_WEIGHTS,
         "w.safetensors: tensor 'conv1.weight': data_offsets [0, 400] past end of data (256 bytes)"},
        {"huge offsets", T1("\"F32\"", "[1]", "[18446744073709551611,18446744073709551615]"), 4, NN_E_WEIGHTS, "past end of data (4 bytes)"},
        {"size mismatch", T1("\"F32\"", "[3]", "[0,8]"), 8, NN_E_WEIGHTS, "data_offsets [0, 8] hold 8 bytes but shape [3] of F32 needs 12"},
        {"size mismatch BF16", T1("\"BF16\"", "[2,2]", "[0,4]"), 8, NN_E_WEIGHTS, "shape [2, 2] of BF16 needs 8"},
        {"size mismatch zero-size", T1("\"F32\"", "[0,3]", "[0,4]"), 8, NN_E_WEIGHTS, "needs 0"},
        {"size overflow", T1("\"F64\"", "[4294967296,4294967296,4294967296]", "[0,8]"), 8, NN_E_WEIGHTS,
         "shape [4294967296, 4294967296, 4294967296] of F64 is too large"},
        {"overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, NN_E_WEIGHTS,
         "tensor 'b' data [4, 12] overlaps tensor 'a' data [0, 8]"},
        {"identical ranges", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                             "\"b\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, NN_E_WEIGHTS, "overlaps"},
        {"zero-size inside another", "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                                     "\"b\":{\"dtype\":\"I8\",\"shape\":[0],\"data_offsets\":[2,2]}}", 4, NN_E_WEIGHTS, "overlaps"},
        {"duplicate tensor", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                             "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, NN_E_PARSE, "duplicate tensor 'a'"},
        {"duplicate via escape", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                                 "\"\\u0061\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, NN_E_PARSE, "duplicate tensor 'a'"},
        {"name with newline", "{\"bad\\nname\":{\"dtype\":\"F32\",\"shape\":[9],\"data_offsets\":[0,4]}}", 4, NN_E_WEIGHTS,
         "tensor <8 bytes, not shown>: data_offsets [0, 4] hold 4 bytes"},
        {"metadata not object", "{\"__metadata__\":[]}", 0, NN_E_PARSE, "__metadata__: expected '{'"},
        {"metadata value number", "{\"__metadata__\":{\"epochs\":10}}", 0, NN_E_PARSE, "__metadata__ 'epochs': value must be a string"},
        {"metadata value object", "{\"__metadata__\":{\"o\":{\"a\":\"b\"}}}", 0, NN_E_PARSE, "value must be a string"},
        {"metadata value null", "{\"__metadata__\":{\"n\":null}}", 0, NN_E_PARSE, "value must be a string"},
        {"metadata key 64", "{\"__metadata__\":{\"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\":\"v\"}}", 0,
         NN_E_PARSE, "longer than 63 bytes (64)"},
        {"duplicate metadata key", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, NN_E_PARSE, "__metadata__: duplicate key 'k'"},
        {"duplicate __metadata__", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, NN_E_PARSE, "duplicate \"__metadata__\""},
        {"checksum bad prefix", "{\"__metadata__\":{\"checksum\":\"md5:abc\"}}", 0, NN_E_CHECKSUM,
         "\"checksum\" must be \"sha256:<64 hex digits>\", got <7 bytes, not shown>"},
        {"checksum short", "{\"__metadata__\":{\"checksum\":\"sha256:e3b0\"}}", 0, NN_E_CHECKSUM, "got <11 bytes, not shown>"},
        {"checksum non-hex", "{\"__metadata__\":{\"checksum\":\"sha256:z3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}}",
         0, NN_E_CHECKSUM, "must be \"sha256:<64 hex digits>\""},
        {"checksum mismatch", "{\"__metadata__\":{\"checksum\":\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"},"
                              "\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, NN_E_CHECKSUM,
         "w.safetensors: checksum mismatch: __metadata__ says sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855, "
         "data section hashes to sha256:6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_hdr_err(cases[i].what, cases[i].hdr, cases[i].dlen, cases[i].want, cases[i].substr);
}

static void test_limits(void **state)
{
    (void)state;
    char what[64];
    /* files shorter than the length field */
    for (size_t n = 0; n < 8; n++) {
        uint8_t b[8] = {0};
        snprintf(what, sizeof what, "%zu-byte file", n);
        expect_parse_err(what, n ? b : NULL, n, NN_E_PARSE, "too short for a safetensors header");
    }
    /* header length over the 100 MB limit, and past the end of the file */
    uint8_t big[16] = {0x01, 0xe1, 0xf5, 0x05, 0, 0, 0, 0, '{', '}'}; /* 100000001 */
    expect_parse_err("header length 100000001", big, sizeof big, NN_E_PARSE, "the header length (bytes 0-7, little-endian) exceeds the limit of 100000000 bytes");
    uint8_t huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    expect_parse_err("header length 2^64-1", huge, sizeof huge, NN_E_PARSE, "exceeds the limit");
    uint8_t trunc[12] = {5, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
    expect_parse_err("header past end of file", trunc, sizeof trunc, NN_E_PARSE,
                     "the header length (bytes 0-7) exceeds the 4 bytes after the length field");
    /* nesting depth: 100 levels inside metadata are refused without deep recursion */
    char hdr[400];
    size_t n = (size_t)snprintf(hdr, sizeof hdr, "{\"__metadata__\":{\"k\":");
    for (int i = 0; i < 100; i++)
        hdr[n++] = '[';
    for (int i = 0; i < 100; i++)
        hdr[n++] = ']';
    memcpy(hdr + n, "}}", 3);
    expect_hdr_err("nesting 100 deep", hdr, 0, NN_E_PARSE, "nesting deeper than 64 levels");
    /* over-long tensor name (192 bytes) */
    char name[ST_NAME_LEN + 1], h2[512];
    memset(name, 'x', ST_NAME_LEN);
    name[ST_NAME_LEN] = '\0';
    snprintf(h2, sizeof h2, "{\"%s\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", name);
    expect_hdr_err("name 192 bytes", h2, 1, NN_E_PARSE, "name longer than 191 bytes (192)");
    /* over-long metadata value (256 bytes) */
    char val[257];
    memset(val, 'v', 256);
    val[256] = '\0';
    snprintf(h2, sizeof h2, "{\"__metadata__\":{\"k\":\"%s\"}}", val);
    expect_hdr_err("metadata value 256 bytes", h2, 0, NN_E_PARSE, "longer than 255 bytes (256)");
}

static void test_open_errors(void **state)
{
    (void)state;
    char path[128];
    st_file f;
    nn_err err = {{0}};
    snprintf(path, sizeof path, "%s/missing.safetensors", tmpdir);
    check_msg("missing file", st_open(&f, path, &err), NN_E_IO, &err, "missing.safetensors: cannot open: No such file");
    check_msg("directory", st_open(&f, tmpdir, &err), NN_E_IO, &err, "is a directory, expected a regular file");
    snprintf(path, sizeof path, "%s/empty.safetensors", tmpdir);
    write_file(path, "", 0);
    check_msg("empty file", st_open(&f, path, &err), NN_E_PARSE, &err, "empty.safetensors: file is 0 bytes, too short");
    /* a file written by st_write, then truncated inside the data and inside the header */
    float x[4] = {1, 2, 3, 4};
    const int d[1] = {4};
    const st_out_tensor t[1] = {{"conv1.weight", 1, d, x}};
    snprintf(path, sizeof path, "%s/trunc.safetensors", tmpdir);
    assert_int_equal(st_write(path, t, 1, NULL, NULL, &err), NN_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size - 4), 0);
    check_msg("truncated data", st_open(&f, path, &err), NN_E_WEIGHTS, &err,
              "tensor 'conv1.weight': data_offsets [0, 16] past end of data (12 bytes)");
    assert_int_equal(truncate(path, 40), 0);
    check_msg("truncated header", st_open(&f, path, &err), NN_E_PARSE, &err, "(truncated file?)");
    /* corrupted data byte: checksum mismatch names the file and both values */
    assert_int_equal(st_write(path, t, 1, NULL, NULL, &err), NN_OK);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, -1, SEEK_END), 0);
    assert_int_equal(fputc(0x55, fp), 0x55);
    assert_int_equal(fclose(fp), 0);
    check_msg("corrupted data", st_open(&f, path, &err), NN_E_CHECKSUM, &err, "trunc.safetensors: checksum mismatch");
    assert_null(f.map);
}

/* Every one of the 65536 halves against an independent decoding (ldexp of the fields), bit for
 * bit: the conversion on load is exact, so F16 weights give the same model as their F32 copy. */
static void test_f16_to_f32_exhaustive(void **state)
{
    (void)state;
    uint8_t src[2 * 65536];
    for (uint32_t h = 0; h < 65536; h++)
        src[2 * h] = (uint8_t)h, src[2 * h + 1] = (uint8_t)(h >> 8); /* little-endian */
    static float got[65536];
    st_f16_to_f32(src + 1, got, 0);     /* n = 0 writes nothing, any alignment is fine */
    st_f16_to_f32(src, got, 65536);
    for (uint32_t h = 0; h < 65536; h++) {
        int sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
        float want;
        if (exp == 31 && man) {
            uint32_t bits;
            memcpy(&bits, &got[h], sizeof bits);
            if (!isnan(got[h]) || (bits >> 31) != (uint32_t)sign || ((bits >> 13) & 1023) != (uint32_t)man)
                fail_msg("half 0x%04x: got %a (bits 0x%08x), want NaN with payload 0x%x", h, (double)got[h], bits, man);
            continue;
        }
        if (exp == 31)
            want = INFINITY;
        else if (exp)
            want = ldexpf(1.0f + (float)man / 1024.0f, exp - 15);
        else
            want = ldexpf((float)man, -24);
        if (sign)
            want = -want;
        if (memcmp(&got[h], &want, sizeof want) != 0)
            fail_msg("half 0x%04x: got %a, want %a", h, (double)got[h], (double)want);
    }
    /* a few known values: 1, -2, the largest half, the smallest subnormal, -0 */
    const uint8_t known[] = {0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00, 0x00, 0x80};
    float k[5];
    st_f16_to_f32(known, k, 5);
    assert_true(k[0] == 1.0f && k[1] == -2.0f && k[2] == 65504.0f && k[3] == 0x1p-24f && k[4] == 0.0f && signbit(k[4]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torch_like_fixture),
        cmocka_unit_test(test_f16_to_f32_exhaustive),
        cmocka_unit_test(test_write_roundtrip),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_valid_variants),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}

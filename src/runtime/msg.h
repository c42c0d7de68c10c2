/* msg.h — the steering runtime's ZeroMQ messages as single frames `"<topic> <json>"`: the `steer`
 * and `status` formatters over a caller-owned buffer (no allocation), written with the common JSON
 * writer (`stats` lives in stats.c). Schema: docs/FORMATS.md section 4. */
#ifndef STEERD_RUNTIME_MSG_H
#define STEERD_RUNTIME_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/json_writer.h"

#define MSG_SCHEMA_VERSION 1
#define MSG_MAX 8192        /* bytes: the largest message any formatter writes */
#define MSG_MAX_OUTPUTS 16  /* outputs listed in `outputs` */

typedef struct {
    uint64_t seq, frame_id;
    uint64_t t_capture_ns, t_publish_ns;
    const float *outputs;
    int n_outputs;
    bool has_angle;
    double angle_deg;
    uint64_t source_ns;     /* capture -> arrival in steerd (the GStreamer pipeline) */
    uint64_t queue_ns, preprocess_ns, infer_ns, total_ns;
    const char *model_name, *model_checksum, *backend;
} steer_msg;

/* Formats `steer {...}`; returns the length, or 0 when it does not fit. */
size_t msg_steer(char *buf, size_t cap, const steer_msg *m);

/* `status {"v":1,"t_ns":..,"status":..,"message":..}` for state changes. */
size_t msg_status(char *buf, size_t cap, uint64_t t_ns, const char *status, const char *message);

#endif

/* msg.c — the steer/status message formatters. */
#include "runtime/msg.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

size_t msg_steer(char *buf, size_t cap, const steer_msg *m)
{
    jbuf j;
    jb_init(&j, buf, cap);
    jb_printf(&j, "steer {\"v\":%d,\"seq\":%" PRIu64 ",\"frame_id\":%" PRIu64 ",\"t_capture_ns\":%" PRIu64
                  ",\"t_publish_ns\":%" PRIu64 ",\"steering\":",
              MSG_SCHEMA_VERSION, m->seq, m->frame_id, m->t_capture_ns, m->t_publish_ns);
    jb_num(&j, m->n_outputs > 0 ? (double)m->outputs[0] : NAN, 7);
    if (m->has_angle) {
        jb_raw(&j, ",\"angle_deg\":");
        jb_num(&j, m->angle_deg, 6);
    }
    if (m->n_outputs > 1) {
        jb_raw(&j, ",\"outputs\":[");
        int n = m->n_outputs < MSG_MAX_OUTPUTS ? m->n_outputs : MSG_MAX_OUTPUTS;
        for (int i = 0; i < n; i++) {
            if (i)
                jb_raw(&j, ",");
            jb_num(&j, m->outputs[i], 7);
        }
        jb_raw(&j, "]");
    }
    jb_printf(&j,
              ",\"latency_us\":{\"source\":%.1f,\"queue\":%.1f,\"preprocess\":%.1f,\"infer\":%.1f,\"total\":%.1f}",
              us(m->source_ns), us(m->queue_ns), us(m->preprocess_ns), us(m->infer_ns), us(m->total_ns));
    jb_raw(&j, ",\"model\":{\"name\":");
    jb_str(&j, m->model_name);
    jb_raw(&j, ",\"weights\":");
    jb_str(&j, m->model_checksum);
    jb_raw(&j, "},\"backend\":");
    jb_str(&j, m->backend);
    jb_raw(&j, "}");
    return j.overflow ? 0 : j.len;
}

size_t msg_status(char *buf, size_t cap, uint64_t t_ns, const char *status, const char *message)
{
    jbuf j;
    jb_init(&j, buf, cap);
    jb_printf(&j, "status {\"v\":%d,\"t_ns\":%" PRIu64 ",\"status\":", MSG_SCHEMA_VERSION, t_ns);
    jb_str(&j, status);
    jb_raw(&j, ",\"message\":");
    jb_str(&j, message);
    jb_raw(&j, "}");
    return j.overflow ? 0 : j.len;
}

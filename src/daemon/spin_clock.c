/* spin_clock.c — a GstSystemClock (monotonic) whose synchronous waits end in a busy-wait
 * (see spin_clock.h). */
#include "daemon/spin_clock.h"

#include "common/cpu_relax.h"

typedef struct {
    GstSystemClock parent;
    GstClockTime spin_ns; /* sleeping stops this long before a deadline; read-only after creation */
} SpinClock;

typedef struct {
    GstSystemClockClass parent_class;
} SpinClockClass;

/* GLib's type registration keeps the type id and the parent class in statics, written once. */
G_DEFINE_TYPE(SpinClock, spin_clock, GST_TYPE_SYSTEM_CLOCK)

static GstClockReturn entry_status(GstClockEntry *entry)
{
    /* written under the entry's lock by gst_clock_id_unschedule on another thread */
    return __atomic_load_n(&GST_CLOCK_ENTRY_STATUS(entry), __ATOMIC_ACQUIRE);
}

static GstClockReturn spin_clock_wait(GstClock *clock, GstClockEntry *entry, GstClockTimeDiff *jitter)
{
    const SpinClock *self = (const SpinClock *)clock;
    GstClockTime target = GST_CLOCK_ENTRY_TIME(entry);
    GstClockTime now = gst_clock_get_time(clock);
    if (jitter)
        *jitter = GST_CLOCK_DIFF(target, now); /* as the system clock reports it: < 0 = waited */
    if (now >= target) {
        if (entry_status(entry) == GST_CLOCK_UNSCHEDULED)
            return GST_CLOCK_UNSCHEDULED;
        return now == target ? GST_CLOCK_OK : GST_CLOCK_EARLY; /* too late to wait */
    }
    if (target - now > self->spin_ns) {
        /* The system clock's own wait (which unscheduling interrupts), ending spin_ns early: the
         * entry is ours to adjust while it is waited on, and gets its time back right after. */
        GST_CLOCK_ENTRY_TIME(entry) = target - self->spin_ns;
        GstClockReturn r = GST_CLOCK_CLASS(spin_clock_parent_class)->wait(clock, entry, NULL);
        GST_CLOCK_ENTRY_TIME(entry) = target;
        if (r != GST_CLOCK_OK && r != GST_CLOCK_EARLY)
            return r; /* unscheduled, or an error */
    }
    while (gst_clock_get_time(clock) < target) {
        if (entry_status(entry) == GST_CLOCK_UNSCHEDULED)
            return GST_CLOCK_UNSCHEDULED;
        cpu_relax();
    }
    return GST_CLOCK_OK;
}

static void spin_clock_class_init(SpinClockClass *klass)
{
    GST_CLOCK_CLASS(klass)->wait = spin_clock_wait;
}

static void spin_clock_init(SpinClock *self)
{
    self->spin_ns = 0;
}

GstClock *spin_clock_new(int spin_us)
{
    SpinClock *c = g_object_new(spin_clock_get_type(), "clock-type", GST_CLOCK_TYPE_MONOTONIC, "name",
                                "steerd-spin-clock", NULL);
    if (!c)
        return NULL;
    c->spin_ns = spin_us > 0 ? (GstClockTime)spin_us * GST_USECOND : 0;
    gst_object_ref_sink(c);
    return GST_CLOCK(c);
}

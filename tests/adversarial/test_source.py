"""test_source.py — adversarial cases for steerd's sources (issue 12, defects 2, 3, 5, 9): drive logs
mixing PNG and JPEG under any name, garbage / truncated / non-image files at a given row, images
that vanish or turn into a FIFO or a directory while the drive plays, caps the appsink cannot take
(GRAY8, audio), a missing filesrc file, and frame ids across source restarts. Each case runs the
real steerd and asserts the exit status, the exact log / status line, the stats counters (every
frame read is accounted for: processed, dropped, bad or failed), the frame_id gaps, no crash and
no hang. Frames are made with gst-launch-1.0 (test_replay.py's helpers)."""
import os
import re
import signal
import sys
import time
import unittest

import adv
import harness as h
import test_replay as tr  # tests/integration: make_frames, write_udacity (and its quick-reconnect SUB)

DRIVE = "appsrc name=src ! decodebin ! videoconvert ! appsink name=sink"


def final_stats(tc, d, timeout=120):
    """Messages until the final stats of a daemon that ends by itself; checks exit 0 and no crash."""
    msgs = d.collect(lambda m: m[0] == "stats" and m[1]["final"], 1, timeout=timeout)
    tc.assertEqual(d.proc.wait(60), 0, d.stderr())
    tc.assert_no_crash(adv.Result(0, "", d.stderr(), 0))
    final = msgs[-1][1]
    h.check_stats(tc, final)
    return [m for t, m in msgs if t == "steer"], final


def accounted(tc, final, rows):
    """Every row read is a processed, dropped, bad or failed frame (nothing lost silently)."""
    tc.assertEqual(final["frames"] + final["dropped"] + final["bad_frames"] + final["infer_errors"] +
                   final["skipped"], rows, final)


class DriveLogContent(adv.AdvCase):
    """Images are recognised by their bytes, not their names; unusable ones are counted, logged
    with file:line and image, and leave a gap in frame_id."""

    def drive(self, log, rate="max", drop=False):
        cfg = h.base_config()
        cfg["source"].update({"pipeline": DRIVE, "drive_log": log, "rate": rate, "drop": drop, "on_eos": "exit"})
        return h.Daemon(cfg)

    def test_mixed_png_and_jpeg_any_name(self):
        n = 12
        png = tr.make_frames(self.tmp, n, "png", name="p_%04d")
        jpg = tr.make_frames(self.tmp, n, "jpg", name="j_%04d")
        frames = [png[0]] + [jpg[i] if i % 3 else png[i] for i in range(1, n)]
        log = tr.write_udacity(os.path.join(self.tmp, "drive"), frames, [0.0] * n, header=False)
        img = os.path.join(self.tmp, "drive", "IMG")
        # a JPEG named .png and a PNG named .jpg: the content decides
        names = sorted(os.listdir(img))
        os.replace(os.path.join(img, names[1]), os.path.join(img, "swap.png"))
        os.replace(os.path.join(img, names[3]), os.path.join(img, "swap.jpg"))
        with open(log) as f:
            text = f.read().replace(names[1], "swap.png").replace(names[3], "swap.jpg")
        with open(log, "w") as f:
            f.write(text)
        d = self.drive(log)
        try:
            steer, final = final_stats(self, d)
            self.assertEqual(final["status"], "eos")
            self.assertEqual((final["frames"], final["bad_frames"], final["dropped"]), (n, 0, 0), d.stderr())
            tr.check_tail(self, steer, n, min_received=1)  # the counts above say all were served
            self.assertIn("end of stream after %d frames" % n, d.stderr())
        finally:
            d.close()

    def test_frame_size_changes_mid_log(self):
        big = tr.make_frames(self.tmp, 3, "jpg", name="big_%04d")
        small = tr.make_frames(self.tmp, 3, "png", name="small_%04d", width=160, height=80)
        frames = [big[0], small[0], small[1], big[1], small[2], big[2]]
        log = tr.write_udacity(os.path.join(self.tmp, "drive"), frames, [0.0] * 6, header=False)
        for pipeline in (DRIVE, "appsrc name=src ! appsink name=sink"):  # RGB from the feed: no decoder needed
            with self.subTest(pipeline=pipeline):
                cfg = h.base_config()
                cfg["source"].update({"pipeline": pipeline, "drive_log": log, "rate": "max", "drop": False,
                                      "on_eos": "exit"})
                d = h.Daemon(cfg)
                try:
                    steer, final = final_stats(self, d)
                    self.assertEqual((final["frames"], final["bad_frames"], final["infer_errors"]), (6, 0, 0),
                                     d.stderr())
                    # six frames at rate max: on a loaded machine half of them can leave before the
                    # test's SUB has joined; the counts above say all six were served
                    tr.check_tail(self, steer, 6, min_received=1)
                finally:
                    d.close()

    def test_garbage_truncated_and_non_images_at_given_rows(self):
        n = 16
        frames = tr.make_frames(self.tmp, n, "jpg")
        log = tr.write_udacity(os.path.join(self.tmp, "drive"), frames, [0.0] * n, header=True)
        img = os.path.join(self.tmp, "drive", "IMG")
        names = sorted(os.listdir(img))
        bad = {5: "garbage", 9: "truncated", 12: "text"}
        with open(os.path.join(img, names[5]), "wb") as f:
            f.write(b"\xff\xd8\xff" + os.urandom(3000))          # JPEG magic, garbage after it
        with open(os.path.join(img, names[9]), "r+b") as f:
            f.truncate(400)                                        # a JPEG cut short
        with open(os.path.join(img, names[12]), "w") as f:
            f.write("secret-token-1234 not an image\n")            # neither JPEG nor PNG
        d = self.drive(log)
        try:
            steer, final = final_stats(self, d)
            err = d.stderr()
            self.assertEqual(final["bad_frames"], len(bad), err)
            self.assertEqual(final["frames"], n - len(bad), err)
            accounted(self, final, n)
            # frame_id = row index: the bad rows are gaps
            good = [i for i in range(n) if i not in bad]
            ids = [m["frame_id"] for m in steer]
            self.assertEqual(ids, good[len(good) - len(ids):], "frame_id must show the gaps")
            for row in bad:  # header line + row index from 0 -> csv line row + 2
                line = [ln for ln in err.splitlines() if re.search(r"driving_log\.csv:%d: center: " % (row + 2), ln)]
                self.assertEqual(len(line), 1, err)
                self.assertIn(names[row], line[0])
                self.assertIn("frame %d skipped" % row, line[0])
            self.assertNotIn("secret-token", err, "file contents echoed")
            self.assertIn("not a JPEG or PNG image", err)
            self.assertIn("end of stream after %d frames (%d bad frames skipped)" % (n - len(bad), len(bad)), err)
            self.assertIn("bad frames", final["message"])
        finally:
            d.close()

    def test_images_vanish_or_turn_into_fifo_or_dir_while_playing(self):
        n = 24
        frames = tr.make_frames(self.tmp, n, "png")
        log = tr.write_udacity(os.path.join(self.tmp, "drive"), frames, [0.0] * n, header=False, stamp=False)
        img = os.path.join(self.tmp, "drive", "IMG")
        d = self.drive(log, rate="recorded", drop=True)  # 10 Hz: 2.4 s, time to break rows 15..17
        try:
            d.wait_note("READY=1", timeout=60)
            os.unlink(os.path.join(img, "frame15.png"))
            os.unlink(os.path.join(img, "frame16.png"))
            os.mkfifo(os.path.join(img, "frame16.png"))
            os.unlink(os.path.join(img, "frame17.png"))
            os.mkdir(os.path.join(img, "frame17.png"))
            t0 = time.monotonic()
            steer, final = final_stats(self, d, timeout=60)
            self.assertLess(time.monotonic() - t0, 30, "a FIFO must not block the feed")
            err = d.stderr()
            self.assertEqual(final["bad_frames"], 3, err)
            accounted(self, final, n)
            self.assertRegex(err, r"driving_log\.csv:16: center: .*frame15\.png: cannot open: No such file")
            self.assertRegex(err, r"driving_log\.csv:17: center: .*frame16\.png: is a FIFO, expected a regular file")
            self.assertRegex(err, r"driving_log\.csv:18: center: .*frame17\.png: is a directory, expected a regular")
            self.assertFalse({15, 16, 17} & {m["frame_id"] for m in steer})
        finally:
            d.close()

    def test_fifo_image_at_start_is_a_config_error(self):
        frames = tr.make_frames(self.tmp, 3, "png")
        log = tr.write_udacity(os.path.join(self.tmp, "drive"), frames, [0.0] * 3, header=False, stamp=False)
        fifo = os.path.join(self.tmp, "drive", "IMG", "frame1.png")
        os.unlink(fifo)
        os.mkfifo(fifo)
        cfg = h.base_config()
        cfg["source"].update({"pipeline": DRIVE, "drive_log": log})
        path = self.path("fifo.yaml")
        h.write_config(path, cfg)
        r = adv.run([adv.STEERD, "--check-config", path], timeout=30)
        self.assert_fails(r, adv.EX_CONFIG, r"source\.drive_log: .*driving_log\.csv:2: center: .*frame1\.png")


class SourceErrors(adv.AdvCase):
    """A source that cannot start says why: the first error with GStreamer's detail, and for caps
    the appsink cannot take, what the pipeline offers and what steerd needs."""

    def source_error(self, pipeline):
        """steerd on this pipeline: the `source-retry` status message (the daemon stays up)."""
        cfg = h.base_config()
        cfg["source"]["pipeline"] = pipeline
        d = h.Daemon(cfg)
        try:
            msgs = d.collect(lambda m: m[0] == "status" and m[1]["status"] == "source-retry", 1, timeout=60)
            self.assertIsNone(d.proc.poll(), "a source error must not stop steerd")
            rc, secs = d.stop()
            self.assertEqual(rc, 0, d.stderr())
            self.assert_no_crash(adv.Result(rc, "", d.stderr(), secs))
            return msgs[-1][1]["message"], d.stderr()
        finally:
            d.close()

    def test_missing_filesrc_file(self):
        msg, err = self.source_error("filesrc location=/nonexistent/drive.mp4 ! decodebin ! videoconvert ! "
                                     "appsink name=sink")
        self.assertRegex(msg, r'^source error: filesrc\d+: Resource not found\. \(No such file "/nonexistent/drive\.mp4"\); '
                              r'retrying in ')
        self.assertNotIn("failed to post a proper error message", msg)
        self.assertIn('No such file "/nonexistent/drive.mp4"', err)

    def test_gray8_not_negotiated(self):
        msg, _ = self.source_error("videotestsrc ! video/x-raw,format=GRAY8,width=320,height=160 ! appsink name=sink")
        self.assertIn("source error: caps not negotiated: the pipeline offers video/x-raw, format=GRAY8; steerd needs "
                      "video/x-raw, format=RGB (add videoconvert before the appsink)", msg)

    def test_audio_not_negotiated(self):
        msg, _ = self.source_error("audiotestsrc ! appsink name=sink")
        self.assertRegex(msg, r"caps not negotiated: the pipeline offers audio/x-raw, format=.*; steerd needs "
                              r"video/x-raw, format=RGB \(the pipeline must produce video\)")

    def test_encoded_video_not_negotiated(self):
        msg, _ = self.source_error("videotestsrc ! video/x-raw,width=320,height=160 ! jpegenc ! appsink name=sink")
        self.assertIn("the pipeline offers image/jpeg; steerd needs video/x-raw, format=RGB (add a decoder", msg)


class FrameIds(adv.AdvCase):
    """frame_id never goes back: not across an end-of-stream restart, a reload that restarts the
    source, or a source error."""

    def test_eos_restart_continues_ids(self):
        n = 5
        frames = tr.make_frames(self.tmp, n, "jpg")
        log = tr.write_udacity(os.path.join(self.tmp, "drive"), frames, [0.0] * n, header=False, stamp=False)
        cfg = h.base_config()
        cfg["source"].update({"pipeline": DRIVE, "drive_log": log, "rate": "max", "drop": False, "on_eos": "restart"})
        d = h.Daemon(cfg)
        try:
            msgs = d.collect(lambda m: m[0] == "steer" and m[1]["frame_id"] >= 3 * n, 1, timeout=90)
            ids = [m["frame_id"] for t, m in msgs if t == "steer"]
            self.assertEqual(ids, list(range(ids[0], ids[0] + len(ids))), "ids continue over the replays")
            self.assertEqual(d.stop()[0], 0, d.stderr())
        finally:
            d.close()

    def test_reload_restarting_the_source_keeps_ids(self):
        cfg = h.base_config()
        d = h.Daemon(cfg)
        try:
            d.wait_note("READY=1")
            before = [m["frame_id"] for t, m in d.collect(lambda m: m[0] == "steer", 10) if t == "steer"]
            cfg["source"]["pipeline"] = cfg["source"]["pipeline"].replace("pattern=ball", "pattern=snow")
            h.write_config(d.cfg_path, cfg)
            d.signal(signal.SIGHUP)
            msgs = d.collect(lambda m: m[0] == "status" and "source restarted" in m[1]["message"], 1)
            after = [m["frame_id"] for t, m in d.collect(lambda m: m[0] == "steer", 10) if t == "steer"]
            ids = before + [m["frame_id"] for t, m in msgs if t == "steer"] + after
            self.assertTrue(all(b > a for a, b in zip(ids, ids[1:])), "frame_id went back: %s" % ids)
            self.assertEqual(d.stop()[0], 0, d.stderr())
        finally:
            d.close()


if __name__ == "__main__":
    if tr.GST_LAUNCH is None:
        print("skipped: gst-launch-1.0 not installed (Debian package gstreamer1.0-tools)")
        sys.exit(77)
    unittest.main(verbosity=2)

"""Benchmark for wizard.evidence.binding.merge_evidence, and the image figures (upload checks
of large photos, binding an image stored before normalisation).

Run:  .venv/bin/python benchmarks/bench_evidence.py [--runs 5] [--pdfs 10] [--pages 20] [--photos 2]
      .venv/bin/python benchmarks/bench_evidence.py --images [--runs 5]   (the image figures only)

Generates realistic inputs (reportlab multi-page text PDFs, a 20-page
report, 2000x1500 JPEG photos made with Pillow), merges them with stamps
several times and prints the median wall time, peak memory, input size,
output size and the size ratio.  Not part of the test suite: timings
depend on the machine.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import pikepdf  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.pdfgen import canvas  # noqa: E402

from wizard.evidence.binding import EvidenceSource, merge_evidence, plan_pages  # noqa: E402
from wizard.evidence.checks import UploadLimits, inspect_upload  # noqa: E402

WORDS = (
    "evidence indicator report annual teaching research project quality "
    "student faculty course laboratory budget outcome assessment review "
    "committee approval document statistics percentage increase plan"
).split()


def text_pdf(pages: int, seed: int, title: str) -> bytes:
    rnd = random.Random(seed)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    w, h = A4
    for p in range(pages):
        c.setFont("Helvetica-Bold", 14)
        c.drawString(60, h - 60, f"{title} - page {p + 1}")
        c.setFont("Helvetica", 10)
        y = h - 90
        while y > 60:
            c.drawString(60, y, " ".join(rnd.choice(WORDS) for _ in range(14)))
            y -= 13
        c.rect(60, 40, w - 120, 8)
        c.showPage()
    c.save()
    return buf.getvalue()


def photo_jpeg(seed: int, size=(2000, 1500)) -> bytes:
    rnd = random.Random(seed)
    im = Image.new("RGB", size, (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    d = ImageDraw.Draw(im)
    for _ in range(400):
        x, y = rnd.randrange(size[0]), rnd.randrange(size[1])
        r = rnd.randrange(10, 200)
        d.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rnd.randrange(256) for _ in range(3)))
    im = im.filter(ImageFilter.GaussianBlur(2))
    # a little noise so the JPEG has photo-like entropy
    noise = Image.effect_noise(size, 20).convert("RGB")
    im = Image.blend(im, noise, 0.15)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--pdfs", type=int, default=10)
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--photos", type=int, default=2)
    ap.add_argument("--report-pages", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="2 runs instead of 5 (make bench ARGS=--quick)")
    ap.add_argument("--images", action="store_true", help="only the image figures (time and peak RSS)")
    ap.add_argument("--case", help=argparse.SUPPRESS)  # one image case, in a fresh process
    ap.add_argument("--folder", help=argparse.SUPPRESS)  # … its inputs
    args = ap.parse_args()
    if args.quick:
        args.runs = min(args.runs, 2)
    if args.case:
        return image_case(args.case, args.folder)
    if args.images:
        bench_images(args.runs)
        return 0

    t = time.perf_counter()
    report = text_pdf(args.report_pages, 1, "Report")
    toc = text_pdf(1, 2, "Table of contents")
    items = []
    limits = UploadLimits()
    for i in range(args.pdfs):
        checked = inspect_upload(text_pdf(args.pages, 100 + i, f"Evidence {i + 1}"), f"材料{i + 1}.pdf", limits)
        items.append(EvidenceSource(checked.data, checked.kind, checked.safe_name, group_key=f"ind-{i % 4}", page_count=checked.page_count))
    for i in range(args.photos):
        checked = inspect_upload(photo_jpeg(200 + i), f"照片{i + 1}.jpg", limits)
        items.append(EvidenceSource(checked.data, checked.kind, checked.safe_name, group_key="photos", page_count=checked.page_count))
    gen_s = time.perf_counter() - t

    evidence_pages = sum(it.page_count for it in items)
    planned = plan_pages(items, first_page=1)
    input_total = len(report) + len(toc) + sum(len(it.data) for it in items)

    times = []
    out = b""
    for _ in range(args.runs):
        t = time.perf_counter()
        out = merge_evidence(report, toc, items, stamp_start=planned[0].start)
        times.append(time.perf_counter() - t)

    tracemalloc.start()
    merge_evidence(report, toc, items, stamp_start=1)
    _, peak_traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    with pikepdf.open(io.BytesIO(out)) as bound:
        out_pages = len(bound.pages)
    print(f"inputs generated in        {gen_s:.2f} s (not measured)")
    print(f"cpu count                  {os.cpu_count()}")
    print(f"report + toc pages         {args.report_pages} + 1")
    print(f"evidence                   {args.pdfs} PDFs x {args.pages} pages + {args.photos} JPEG 2000x1500"
          f" = {evidence_pages} pages")
    print(f"output pages               {out_pages}")
    print(f"runs                       {args.runs}: " + ", ".join(f"{x:.3f}" for x in times))
    print(f"median seconds             {statistics.median(times):.3f}")
    print(f"peak traced memory (1 run) {peak_traced / 2**20:.1f} MiB (tracemalloc)")
    print(f"process max RSS            {maxrss_kb / 1024:.1f} MiB (getrusage)")
    print(f"input total size           {input_total / 1024:.1f} KiB")
    print(f"output size                {len(out) / 1024:.1f} KiB")
    print(f"ratio output/input         {len(out) / input_total:.3f}")
    bench_images(args.runs)
    return 0


def photo_png(size=(4000, 3000)) -> bytes:
    """A smooth colour PNG (a photo saved as PNG): normalised to JPEG at upload."""
    g = Image.linear_gradient("L").resize(size)
    im = Image.merge("RGB", (g, g.transpose(Image.Transpose.ROTATE_180), g.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


IMAGE_CASES = ["upload 6000x4000 JPEG", "upload 4000x3000 PNG", "bind 6300x6300 PNG (legacy)",
               "bind 2 JPEG 2000x1500"]


def write_image_inputs(folder: str) -> None:
    """The image cases' inputs, made once (in the parent: making them costs far more memory
    than what is measured)."""
    blank = io.BytesIO()
    Image.new("RGB", (6300, 6300)).save(blank, "PNG")
    files = {"photo.jpg": photo_jpeg(300, size=(6000, 4000)), "photo.png": photo_png(),
             "legacy.png": blank.getvalue(), "small0.jpg": photo_jpeg(200), "small1.jpg": photo_jpeg(201)}
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as fh:
            fh.write(data)


def image_run(name: str, folder: str):
    """The callable measured for one image case, its input read from *folder*."""
    def read(file):
        with open(os.path.join(folder, file), "rb") as fh:
            return fh.read()

    if name == "upload 6000x4000 JPEG":
        jpeg = read("photo.jpg")
        return lambda: inspect_upload(jpeg, "照片.jpg")
    if name == "upload 4000x3000 PNG":
        png = read("photo.png")
        return lambda: inspect_upload(png, "照片.png")
    if name == "bind 6300x6300 PNG (legacy)":
        legacy = [EvidenceSource(read("legacy.png"), "png", "旧.png")]
        return lambda: merge_evidence(None, None, legacy)
    photos = [EvidenceSource(read(f"small{i}.jpg"), "jpeg", f"照片{i}.jpg") for i in range(2)]
    return lambda: merge_evidence(None, None, photos)


def _status(field: str) -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":")) * 1024


def _warm_up() -> None:
    """Load every module and library the image cases use, on tiny files (not measured)."""
    for fmt, kind in (("PNG", "png"), ("JPEG", "jpeg")):
        buf = io.BytesIO()
        Image.new("RGB", (1700, 200)).save(buf, fmt)  # larger than the box: scaled
        inspect_upload(buf.getvalue(), "w." + kind.replace("jpeg", "jpg"))
        merge_evidence(None, None, [EvidenceSource(buf.getvalue(), kind, "w")])


def image_case(name: str, folder: str) -> int:
    """One run of one image case in this (fresh) process, after a warm-up on tiny files: its
    wall time and its peak RSS growth (the high-water mark after the run minus the RSS before
    it; a fresh process, so memory freed by an earlier run cannot hide it).  Prints JSON."""
    run = image_run(name, folder)
    _warm_up()
    before = _status("VmRSS")
    t = time.perf_counter()
    run()
    print(json.dumps({"time": time.perf_counter() - t, "peak": _status("VmHWM") - before}))
    return 0


def bench_images(runs: int) -> None:
    """Image figures: the upload check (normalising to A4 at 200 dpi) of a 24 MP JPEG and a 12 MP PNG,
    and binding an image stored before normalisation (a 6300 × 6300 PNG): each run in a fresh
    process; median seconds and median peak RSS growth."""
    with tempfile.TemporaryDirectory() as folder:
        write_image_inputs(folder)
        for name in IMAGE_CASES:
            _bench_image_case(name, folder, runs)


def _bench_image_case(name: str, folder: str, runs: int) -> None:
    times, peaks = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--case", name, "--folder", folder],
                             capture_output=True, text=True, check=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        times.append(result["time"])
        peaks.append(result["peak"])
    print(f"image: {name:<28} median {statistics.median(times):.3f} s, "
          f"peak RSS +{statistics.median(peaks) / 2**20:.1f} MiB "
          f"(" + ", ".join(f"{x:.3f}" for x in times) + ")")


if __name__ == "__main__":
    sys.exit(main())

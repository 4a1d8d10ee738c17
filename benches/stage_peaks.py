"""Each stage's peak resident memory of a `xueji` run, sampled from outside: for a binary that does
not print its own `峰值内存` line (one built before it existed), to compare with one that does.

    python3 benches/stage_peaks.py XUEJI run DIR/sheets --id-column 学籍辅号 -o OUT

Samples /proc/PID/statm every 50 ms and lays the stages of the run's `用时` line end to end from
the process start, so a peak near a stage's edge may fall in its neighbour's window.
"""
import re
import subprocess
import sys
import threading
import time

started = time.time()
run = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
samples = []


def sample():
    while run.poll() is None:
        try:
            with open(f"/proc/{run.pid}/statm") as statm:
                samples.append((time.time() - started, int(statm.read().split()[1]) * 4096))
        except OSError:
            pass
        time.sleep(0.05)


sampler = threading.Thread(target=sample)
sampler.start()
output = run.stdout.read().decode()
run.wait()
sampler.join()
wall = time.time() - started
timed = [line for line in output.splitlines() if line.startswith(("用时", "time:"))]
if run.returncode != 0 or not timed:
    sys.exit(f"the run failed (exit {run.returncode}):\n{output}")
at, peaks = 0.0, []
for stage, seconds in re.findall(r"([^：:，,\s]+) ([0-9.]+)s", timed[-1]):
    if stage in ("合计", "total"):
        continue
    window = [rss for t, rss in samples if at <= t < at + float(seconds)]
    peaks.append(f"{stage} {max(window, default=0) / 2**30:.2f}GiB")
    at += float(seconds)
print(timed[-1])
print("峰值内存（外部采样）：" + "，".join(peaks))
print(f"wall {wall:.1f} s, highest sample {max(rss for _, rss in samples) / 2**30:.2f} GiB")

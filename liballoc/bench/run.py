#!/usr/bin/env python3
"""liballoc benchmark runner: every workload under every allocator, interleaved,
median of N runs; wall time, peak and final Rss; ratios to mimalloc; geomeans.

Synthetic workloads report their own Rss from /proc/self/smaps_rollup (peak =
max over ~100 in-process checkpoints, final = after freeing everything). Real
programs (python3, cc1) are sampled from outside every 5 ms via
/proc/PID/smaps_rollup (peak only; final is not observable from outside).
"""
import argparse, math, os, random, resource, statistics, subprocess, sys, time

LIBDIR = "/usr/lib/x86_64-linux-gnu"
SYNTH = ["larson", "prodcons", "small", "mixed", "realloc", "frag", "steady",
         "churn", "sizeswap", "huge", "thrash", "scratch", "pool"]
REAL = ["python3", "cc1"]

PY_SCRIPT = r"""
import json, re, collections
d = {('k%d' % i): [i, str(i) * (i % 5), {'x': i}] for i in range(150000)}
s = json.dumps(d)
e = json.loads(s)
c = collections.Counter(re.findall(r'[0-9]{3}', s[:3000000]))
l = sorted(e.items(), key=lambda kv: (kv[1][0] % 97, kv[0]))
t = [x.upper() for x in s[:2000000].split(',')]
print(len(s), len(l), len(t), c.most_common(1))
"""


def gen_c_source(path):
    out = ["struct S { int a, b; double c; char n[16]; };"]
    for i in range(250):
        out.append(f"""
int f{i}(struct S *s, int n) {{
  int acc = {i};
  for (int k = 0; k < n; k++) {{
    switch ((k + {i}) % 5) {{
      case 0: acc += s[k].a * {i % 7 + 1}; break;
      case 1: acc ^= s[k].b << (k & 3); break;
      case 2: acc -= (int)(s[k].c * 1.5); break;
      case 3: acc += s[k].n[k % 16]; break;
      default: acc = acc * 31 + k;
    }}
  }}
  return acc + (n > {i % 50} ? f{max(i - 1, 0)}(s, n - 1) : 0);
}}""")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_real(cmd, env):
    c0 = children_cpu()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while p.poll() is None:
        peak = max(peak, rss_kb(p.pid))
        time.sleep(0.005)
    t = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {p.stderr.read().decode()[:500]}")
    return {"time": t, "peak": peak, "final": None, "cpu": children_cpu() - c0}


def run_synth(binary, workload, env, scale):
    c0 = children_cpu()
    r = subprocess.run([binary, workload, str(scale)], env=env, capture_output=True, text=True)
    cpu = children_cpu() - c0
    if r.returncode != 0:
        raise RuntimeError(f"{binary} {workload}: {r.stderr}")
    kv = dict(x.split("=") for x in r.stdout.split()[1:])
    res = {"time": float(kv["time_s"]), "peak": int(kv["peak_kb"]), "final": int(kv["final_kb"]),
           "cpu": cpu}
    if "madvise" in kv:
        res["sys"] = (int(kv["madvise"]), int(kv["munmap"]), int(kv["mmap"]))
    return res


def geomean(xs):
    xs = [x for x in xs if x]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--only", default="")
    ap.add_argument("--allocs", default="",
                    help="comma-separated allocator columns to run (default: all found)")
    ap.add_argument("--monitor-compare", action="store_true",
                    help="add a 'liballoc-monoff' column (LIBALLOC_MONITOR=off) beside liballoc "
                         "(LIBALLOC_MONITOR=auto, the default) and print their ratio")
    ap.add_argument("--lib", action="append", default=[], metavar="NAME=PATH",
                    help="an extra LD_PRELOAD column, e.g. a liballoc.so built from an older commit, "
                         "with liballoc's environment (repeatable; name it in --allocs too "
                         "if --allocs is given)")
    ap.add_argument("--cpu", action="store_true",
                    help="also print CPU time (user + sys) per run, which a loaded machine "
                         "distorts less than wall time")
    ap.add_argument("--base", default="mimalloc",
                    help="the column ratios are computed against (default mimalloc)")
    args = ap.parse_args()
    bdir = args.builddir
    bench = os.path.join(bdir, "bench", "bench")
    bench_musl = os.path.join(bdir, "bench", "bench-musl")
    allocs = {"glibc": None, "musl": "static", "jemalloc": f"{LIBDIR}/libjemalloc.so.2",
              "tcmalloc": f"{LIBDIR}/libtcmalloc_minimal.so.4",
              "mimalloc": f"{LIBDIR}/libmimalloc.so.2",
              "liballoc": os.path.join(bdir, "liballoc.so")}
    # extra environment per column; liballoc's monitor is on (auto) by default
    alloc_env = {"liballoc": {"LIBALLOC_MONITOR": "auto"}}
    for spec in args.lib:
        name, _, path = spec.partition("=")
        allocs[name] = os.path.abspath(path)
        alloc_env[name] = dict(alloc_env["liballoc"])
    if args.monitor_compare:
        allocs["liballoc-monoff"] = allocs["liballoc"]
        alloc_env["liballoc-monoff"] = {"LIBALLOC_MONITOR": "off"}
    if args.allocs:
        keep = args.allocs.split(",")
        allocs = {a: lib for a, lib in allocs.items() if a in keep}
    for name, lib in list(allocs.items()):
        if lib == "static":
            if not os.path.exists(bench_musl):
                print(f"# {name}: {bench_musl} missing, skipped")
                del allocs[name]
        elif lib and not os.path.exists(lib):
            print(f"# {name}: {lib} missing (apt-get install the -dev package), skipped")
            del allocs[name]
    works = SYNTH + REAL
    if args.only:
        works = [w for w in works if w in args.only.split(",")]
    csrc = os.path.join(bdir, "bench", "cc1_input.c")
    gen_c_source(csrc)
    cc1 = subprocess.run(["gcc", "-print-prog-name=cc1"], capture_output=True, text=True).stdout.strip()
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else "python3"
    base_env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("LIBALLOC_")}

    res = {}  # (work, alloc) -> list of runs
    print(f"# loadavg at start: {open('/proc/loadavg').read().split()[:3]}", flush=True)
    for rep in range(args.reps):
        for w in works:
            order = list(allocs)
            random.shuffle(order)
            for a in order:
                lib = allocs[a]
                env = dict(base_env)
                if lib and lib != "static":
                    env["LD_PRELOAD"] = lib
                env.update(alloc_env.get(a, {}))
                if w in REAL:
                    if lib == "static":
                        continue
                    cmd = [py, "-c", PY_SCRIPT] if w == "python3" else \
                          [cc1, "-quiet", "-O2", csrc, "-o", "/dev/null"]
                    r = run_real(cmd, env)
                else:
                    r = run_synth(bench_musl if lib == "static" else bench, w, env, args.scale)
                res.setdefault((w, a), []).append(r)
        print(f"# rep {rep + 1}/{args.reps} done, loadavg {open('/proc/loadavg').read().split()[:3]}",
              flush=True)

    names = list(allocs)
    base = args.base
    def med(w, a, key):
        rs = res.get((w, a))
        if not rs or rs[0][key] is None:
            return None
        return statistics.median(r[key] for r in rs)

    def table(key, title, fmt, unit):
        print(f"\n### {title} (median of {args.reps}; ratio to {base} in brackets)\n")
        print("| workload | " + " | ".join(names) + " |")
        print("|---|" + "---|" * len(names))
        for w in works:
            m = med(w, base, key)
            cells = []
            for a in names:
                v = med(w, a, key)
                if v is None:
                    cells.append("-")
                else:
                    cells.append(fmt(v) + (f" ({v / m:.2f})" if m else ""))
            print(f"| {w} | " + " | ".join(cells) + " |")
        cells = []
        for a in names:
            ratios = [med(w, a, key) / med(w, base, key) for w in works
                      if med(w, a, key) and med(w, base, key)]
            cells.append(f"{geomean(ratios):.2f}" if ratios else "-")
        print("| **geomean ratio** | " + " | ".join(cells) + " |")

    table("time", "Wall time, ms", lambda v: f"{v * 1000:.0f}", "ms")
    if args.cpu:
        table("cpu", "CPU time (user + sys of the whole process), ms", lambda v: f"{v * 1000:.0f}", "ms")
    table("peak", "Peak Rss, MiB", lambda v: f"{v / 1024:.1f}", "MiB")
    table("final", "Final Rss after freeing everything, MiB", lambda v: f"{v / 1024:.1f}", "MiB")
    if args.monitor_compare and ("liballoc" in allocs) and ("liballoc-monoff" in allocs):
        print(f"\n### liballoc wall time, monitor on (LIBALLOC_MONITOR=auto) vs off "
              f"(median of {args.reps}, interleaved)\n")
        print("| workload | monitor off, ms | monitor on, ms | on / off |")
        print("|---|---|---|---|")
        ratios = []
        for w in works:
            off, on = med(w, "liballoc-monoff", "time"), med(w, "liballoc", "time")
            if off and on:
                ratios.append(on / off)
                print(f"| {w} | {off * 1000:.0f} | {on * 1000:.0f} | {on / off:.3f} |")
        print(f"| **geomean** | | | **{geomean(ratios):.3f}** |")
    if ("steady", "liballoc") in res:
        s = res[("steady", "liballoc")]
        print(f"\nliballoc OS calls in the steady-state loop (after warm-up), per run: "
              f"madvise={[r['sys'][0] for r in s]} munmap={[r['sys'][1] for r in s]} "
              f"mmap={[r['sys'][2] for r in s]}")
    print(f"# loadavg at end: {open('/proc/loadavg').read().split()[:3]}")
    print("# musl = the same benchmark statically linked with musl 1.2.3 (mallocng); "
          "geomean for musl covers the synthetic workloads only")


if __name__ == "__main__":
    main()

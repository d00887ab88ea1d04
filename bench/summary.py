"""Reads the "KV key value" lines of every benchmark of one bench/run.sh run
(stdin) and prints the summary table: workload, libgraphc, baselines,
ratio, target. Ratios are "higher is better for libgraphc"."""
import statistics
import sys

kv = {}  # key -> every value printed (one per round)
for line in sys.stdin:
    parts = line.split()
    if len(parts) == 3 and parts[0] == "KV":
        kv.setdefault(parts[1], []).append(parts[2])


def num(key):
    """Median over rounds of a numeric key; None if absent."""
    try:
        return statistics.median(float(v) for v in kv[key])
    except (KeyError, ValueError, statistics.StatisticsError):
        return None


def fmt(key, unit, digits=1):
    v = num(key)
    if v is None:
        note = kv.get(key.rsplit("_", 1)[0] + "_note")
        return "n/a" + (f" ({note[0]})" if note else "")
    return f"{v:.{digits}f} {unit}"


def bestv(prefix):
    """Best (minimum) over every run and round of <prefix>_min_ms."""
    v = [float(x) for x in kv.get(prefix + "_min_ms", [])]
    return min(v) if v else None


def best(prefix):
    v = bestv(prefix)
    return "n/a" if v is None else f"{v:.2f} ms"


def verdict(ratio, goal):
    if ratio is None:
        return "?"
    return "met" if ratio >= goal else "NOT met"


def div(a, b):
    return a / b if a is not None and b else None


def rstr(r):
    return "n/a" if r is None else f"{r:.2f}x"


rows = []
g_ratio = num("gelu_triad_ratio")
rows.append(("gelu(x*w+b) 16M f32, 2 thr",
             f"{fmt('gelu_gbs', 'GB/s')} ({fmt('gelu_ms', 'ms', 2)})",
             f"triad same run {fmt('triad_gbs', 'GB/s')}; torch eager {fmt('torch_gelu_ms', 'ms')} "
             f"(default malloc {fmt('torchdef_gelu_ms', 'ms')}); ORT {fmt('ort_gelu_ms', 'ms')}",
             f"{rstr(g_ratio)} of triad (best/best {rstr(num('gelu_triad_best_ratio'))}); "
             f"{rstr(div(num('torch_gelu_ms'), num('gelu_ms')))} vs torch; "
             f"{rstr(div(num('ort_gelu_ms'), num('gelu_ms')))} vs ORT",
             ">= 0.9x triad: " + verdict(g_ratio, 0.9)))
g2 = num("gelusym_triad_ratio")
rows.append(("same chain, symbolic f32[N] (diagnostic)",
             f"{fmt('gelusym_gbs', 'GB/s')} ({fmt('gelusym_ms', 'ms', 2)})", "triad same run", rstr(g2),
             ">= 0.9x triad: " + verdict(g2, 0.9)))
for n in ("1024", "2048"):
    r = num(f"sgemm{n}_ratio")
    rows.append((f"sgemm {n}^3 f32, 2 thr",
                 f"{fmt(f'sgemm{n}_gflops', 'GFLOP/s')} (best {fmt(f'sgemm{n}_best_gflops', 'GFLOP/s')})",
                 f"OpenBLAS cblas_sgemm {fmt(f'blas{n}_gflops', 'GFLOP/s')} "
                 f"(best {fmt(f'blas{n}_best_gflops', 'GFLOP/s')})", rstr(r),
                 ">= 0.95x OpenBLAS: " + verdict(r, 0.95)))
r_mlp = div(num("ort_mlp_ms"), num("mlp_ms"))
rows.append(("MLP 4x(Linear1024+ReLU) b64 fwd",
             f"{fmt('mlp_ms', 'ms', 2)} = {fmt('mlp_gflops', 'GFLOP/s')} (best {best('mlp')})",
             f"ORT {fmt('ort_mlp_ms', 'ms', 2)} (best {best('ort_mlp')}); "
             f"torch frozen {fmt('torch_mlp_ms', 'ms', 2)} (best {best('torch_mlp')}) "
             f"(default malloc {fmt('torchdef_mlp_ms', 'ms', 2)})",
             f"{rstr(r_mlp)} vs ORT (best/best {rstr(div(bestv('ort_mlp'), bestv('mlp')))}); "
             f"{rstr(div(num('torch_mlp_ms'), num('mlp_ms')))} vs torch",
             "faster than ORT: " + verdict(r_mlp, 1.0)))
r_enc = div(num("ort_encoder_ms"), num("encoder_ms"))
rows.append(("TransformerEncoderLayer d256 h4 S128 B8 fwd",
             f"{fmt('encoder_ms', 'ms', 2)} (best {best('encoder')})",
             f"ORT {fmt('ort_encoder_ms', 'ms', 2)} (best {best('ort_encoder')}); "
             f"torch eager {fmt('torch_encoder_ms', 'ms', 2)} (best {best('torch_encoder')}) "
             f"(default malloc {fmt('torchdef_encoder_ms', 'ms', 2)})",
             f"{rstr(r_enc)} vs ORT (best/best {rstr(div(bestv('ort_encoder'), bestv('encoder')))}); "
             f"{rstr(div(num('torch_encoder_ms'), num('encoder_ms')))} vs torch",
             "faster than ORT: " + verdict(r_enc, 1.0)))
for key, name in (("gelu", "gelu chain"), ("sgemm", "matmul"), ("mlp", "MLP"), ("encoder", "encoder layer")):
    cold, warm = num(f"{key}_compile_cold_ms"), num(f"{key}_compile_warm_ms")
    target = ""
    if key == "mlp":
        ok = cold is not None and warm is not None and cold < 1000 and warm < 20
        target = "< 1 s cold, < 20 ms warm: " + ("met" if ok else "NOT met")
    rows.append((f"compile {name}", f"cold {fmt(f'{key}_compile_cold_ms', 'ms')}",
                 f"warm (cache hit) {fmt(f'{key}_compile_warm_ms', 'ms', 2)}", "", target))

head = ("workload", "libgraphc", "baseline(s), same run", "ratio (>1 = graphc better)", "target")
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for r in rows:
    print("| " + " | ".join(r) + " |")

# ruff: noqa: E501, E741, B007
# Reference script kept as written by the person who gathered benchmarks/data/memory/published.md.
# Parameter counts from public shapes + accelerate estimate-memory outputs.
def llama(V, H, L, nh, nkv, I, tied, hd=None):
    hd = hd or H // nh
    layer = H * nh * hd + 2 * H * nkv * hd + nh * hd * H + 3 * H * I + 2 * H
    base = V * H + L * layer + H  # LlamaModel (what accelerate's AutoModel builds)
    full = base + (0 if tied else V * H)  # *ForCausalLM
    return base, full


def t5(V, d, L, h, dkv, dff, tied, gated=True):
    inner = h * dkv
    ff = (3 if gated else 2) * d * dff
    enc = L * (4 * d * inner + ff + 2 * d) + 32 * h + d
    dec = L * (8 * d * inner + ff + 3 * d) + 32 * h + d
    base = V * d + enc + dec  # T5Model / MT5Model (AutoModel)
    full = base + (0 if tied else V * d)
    return base, full


def bloom(V, H, L):
    layer = 2 * H + (3 * H * H + 3 * H) + (H * H + H) + 2 * H + (4 * H * H + 4 * H) + (4 * H * H + H)
    base = V * H + 2 * H + L * layer + 2 * H
    return base, base


models = {
    "bigscience/T0_3B": t5(32128, 2048, 24, 32, 64, 5120, False),
    "bigscience/mt0-xxl": t5(250112, 4096, 24, 64, 64, 10240, False),
    "bigscience/bloomz-7b1": bloom(250880, 4096, 30),
    "meta-llama/Llama-2-7b-hf": llama(32000, 4096, 32, 32, 32, 11008, False),
    "huggyllama/llama-7b": llama(32000, 4096, 32, 32, 32, 11008, False),
    "huggyllama/llama-13b": llama(32000, 5120, 40, 40, 40, 13824, False),
    "huggyllama/llama-30b (33B)": llama(32000, 6656, 60, 52, 52, 17920, False),
    "huggyllama/llama-65b": llama(32000, 8192, 80, 64, 64, 22016, False),
    "meta-llama/Llama-2-70b-hf": llama(32000, 8192, 80, 64, 8, 28672, False),
    "meta-llama/Meta-Llama-3-8B / Llama-3.1-8B": llama(128256, 4096, 32, 32, 8, 14336, False),
    "meta-llama/Llama-3.1-70B / Llama-3.3-70B": llama(128256, 8192, 80, 64, 8, 28672, False),
    "meta-llama/Llama-3.1-405B": llama(128256, 16384, 126, 128, 8, 53248, False),
    "meta-llama/Llama-3.2-3B": llama(128256, 3072, 28, 24, 8, 8192, True),
}


def cb(size):
    for x in ["bytes", "KB", "MB", "GB", "TB"]:
        if size < 1024.0:
            return f"{round(size, 2)} {x}"
        size /= 1024.0
    return f"{round(size, 2)} PB"


print(
    "| model | params, AutoModel (what accelerate counts) | params, full *For...LM | accel fp32 total | accel fp32 'Training using Adam' | accel fp16 total | accel fp16 'Training using Adam' | accel int8 total | accel int4 total | (old <=v0.28 int8 / int4 training) |"
)
print("|---|---|---|---|---|---|---|---|---|---|")
for k, (b, f) in models.items():
    fp32 = 4 * b
    print(
        f"| {k} | {b:,} | {f:,} | {cb(fp32)} | {cb(4 * fp32)} | {cb(fp32 / 2)} | {cb(2 * fp32)} | {cb(fp32 / 4)} | {cb(fp32 / 8)} | {cb(fp32)} / {cb(fp32 / 2)} |"
    )
print()
print("Same formula applied to the FULL *ForCausalLM / *ForConditionalGeneration count (lm_head included):")
print(
    "| model | fp16 weights | fp16 'Training using Adam' (8 B/param) | fp32 'Training using Adam' (16 B/param) |"
)
print("|---|---|---|---|")
for k, (b, f) in models.items():
    print(f"| {k} | {cb(2 * f)} | {cb(8 * f)} | {cb(16 * f)} |")

#!/usr/bin/env python3
"""PyTorch peer of bench/ddpm_bench.cpp: the same UNet, training step and DDIM loop, in Python.

ddpm_bench writes a model's config (models/unet_config.h to_json), its weights (safetensors) and
one forward pass (input, conditioning, output) into a folder and runs this script on them with
the same threads, batch sizes and step counts. The script

  1. rebuilds the network as diffusers 0.21.4 UNet2DModel does (src/diffusers/models/unet_2d.py,
     unet_2d_blocks.py, resnet.py, attention_processor.py with AttnProcessor, embeddings.py),
     restricted to what this project's `layout: diffusers` configs use, and loads the weights
     with strict=True, so every module name and shape must match ours;
  2. replays our forward pass and reports the largest |difference| of the outputs;
  3. times one training step (q(x_t|x_0), forward, MSE on ε, backward, torch.optim.AdamW) and
     one DDIM sampling run (η = 0, x̂_0 clipped, leading spacing, torch.no_grad), warm-up
     first, then the median over repeats;

and prints one JSON object on stdout. --device, --precision (torch.autocast; fp16 training with
GradScaler) and --compile (torch.compile, PyTorch 2) select the GPU comparisons. Needs only
torch (1.13 or later) and numpy: the safetensors reader
is the ten lines below, since the `safetensors` and `diffusers` packages are not installed.
"""
import argparse
import contextlib
import ctypes
import json
import math
import statistics
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------------------------------------
# safetensors (https://github.com/huggingface/safetensors): u64 header length, JSON header,
# little-endian tensor bytes.

_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
           "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = np.dtype(_DTYPES[info["dtype"]])
        array = np.frombuffer(data, dtype=dtype, count=(end - begin) // dtype.itemsize,
                              offset=base + begin)
        tensors[name] = torch.from_numpy(array.reshape(info["shape"]).copy())
    return tensors


# ---------------------------------------------------------------------------------------------
# The network: diffusers 0.21.4 UNet2DModel, module names = state-dict keys.

def timestep_embedding(timesteps, dim, flip_sin_to_cos, downscale_freq_shift, max_period=10000):
    """diffusers get_timestep_embedding (embeddings.py)."""
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(0, half, dtype=torch.float32,
                                                    device=timesteps.device)
    exponent = exponent / (half - downscale_freq_shift)
    emb = timesteps[:, None].float() * torch.exp(exponent)[None, :]  # [B, half]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if dim % 2 == 1:
        emb = F.pad(emb, (0, 1, 0, 0))
    return emb  # [B, dim]


class TimestepEmbedding(nn.Module):
    def __init__(self, in_channels, time_embed_dim):
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, time_embed_dim)
        self.linear_2 = nn.Linear(time_embed_dim, time_embed_dim)

    def forward(self, sample):
        return self.linear_2(F.silu(self.linear_1(sample)))


class GroupNorm(nn.GroupNorm):
    """nn.GroupNorm computed in float32 under autocast, as autocast's CUDA policy does and as
    ddpm's group_norm_act does; torch 1.13's CPU autocast leaves group_norm to a kernel that
    refuses a bfloat16 input beside float32 weights."""

    def forward(self, x):
        if x.dtype in (torch.bfloat16, torch.float16):
            x = x.float()
        return super().forward(x)


class ResnetBlock2D(nn.Module):
    """diffusers ResnetBlock2D (resnet.py), SiLU, GroupNorm."""

    def __init__(self, in_channels, out_channels, temb_channels, groups, eps, dropout,
                 output_scale_factor, time_embedding_norm):
        super().__init__()
        self.output_scale_factor = output_scale_factor
        self.time_embedding_norm = time_embedding_norm
        self.norm1 = GroupNorm(groups, in_channels, eps=eps, affine=True)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        proj = 2 * out_channels if time_embedding_norm == "scale_shift" else out_channels
        self.time_emb_proj = nn.Linear(temb_channels, proj)
        self.norm2 = GroupNorm(groups, out_channels, eps=eps, affine=True)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.conv_shortcut = (nn.Conv2d(in_channels, out_channels, 1)
                              if in_channels != out_channels else None)

    def forward(self, input_tensor, temb):
        h = self.conv1(F.silu(self.norm1(input_tensor)))
        temb = self.time_emb_proj(F.silu(temb))[:, :, None, None]
        if self.time_embedding_norm == "default":
            h = self.norm2(h + temb)
        else:
            scale, shift = torch.chunk(temb, 2, dim=1)
            h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        if self.conv_shortcut is not None:
            input_tensor = self.conv_shortcut(input_tensor)
        return (input_tensor + h) / self.output_scale_factor


class Attention(nn.Module):
    """diffusers Attention + AttnProcessor (attention_processor.py) for a [B, C, H, W] input:
    baddbmm(β = 0, α = scale) → float32 softmax → bmm, heads folded into the batch."""

    def __init__(self, channels, head_dim, groups, eps, rescale_output_factor):
        super().__init__()
        self.heads = channels // head_dim
        self.scale = head_dim ** -0.5
        self.rescale_output_factor = rescale_output_factor
        self.group_norm = (GroupNorm(groups, channels, eps=eps, affine=True)
                           if groups is not None else None)
        self.to_q = nn.Linear(channels, channels)
        self.to_k = nn.Linear(channels, channels)
        self.to_v = nn.Linear(channels, channels)
        self.to_out = nn.ModuleList([nn.Linear(channels, channels), nn.Dropout(0.0)])

    def head_to_batch_dim(self, t):
        b, n, c = t.shape
        h = self.heads
        return t.reshape(b, n, h, c // h).permute(0, 2, 1, 3).reshape(b * h, n, c // h)

    def batch_to_head_dim(self, t):
        bh, n, d = t.shape
        h = self.heads
        return t.reshape(bh // h, h, n, d).permute(0, 2, 1, 3).reshape(bh // h, n, d * h)

    def forward(self, x):
        residual = x
        b, c, hh, ww = x.shape
        h = x.view(b, c, hh * ww).transpose(1, 2)  # [B, HW, C]
        if self.group_norm is not None:
            h = self.group_norm(h.transpose(1, 2)).transpose(1, 2)
        q = self.head_to_batch_dim(self.to_q(h))
        k = self.head_to_batch_dim(self.to_k(h))
        v = self.head_to_batch_dim(self.to_v(h))
        scores = torch.baddbmm(torch.empty(q.shape[0], q.shape[1], k.shape[1], dtype=q.dtype,
                                           device=q.device),
                               q, k.transpose(-1, -2), beta=0, alpha=self.scale)
        probs = scores.float().softmax(dim=-1).to(q.dtype)  # upcast_softmax
        h = self.batch_to_head_dim(torch.bmm(probs, v))  # [B, HW, C]
        h = self.to_out[1](self.to_out[0](h))
        h = h.transpose(-1, -2).reshape(b, c, hh, ww)
        return (h + residual) / self.rescale_output_factor


class Downsample2D(nn.Module):
    def __init__(self, channels, padding):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=padding)

    def forward(self, x):
        if self.padding == 0:
            x = F.pad(x, (0, 1, 0, 1), mode="constant", value=0)
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DownBlock2D(nn.Module):
    """DownBlock2D / AttnDownBlock2D."""

    def __init__(self, resnets, attentions, downsample):
        super().__init__()
        if attentions is not None:
            self.attentions = nn.ModuleList(attentions)
        self.resnets = nn.ModuleList(resnets)
        if downsample is not None:
            self.downsamplers = nn.ModuleList([downsample])

    def forward(self, h, temb):
        skips = ()
        attentions = getattr(self, "attentions", None)
        for j, resnet in enumerate(self.resnets):
            h = resnet(h, temb)
            if attentions is not None:
                h = attentions[j](h)
            skips += (h,)
        if hasattr(self, "downsamplers"):
            h = self.downsamplers[0](h)
            skips += (h,)
        return h, skips


class MidBlock2D(nn.Module):
    """UNetMidBlock2D: resnet, attention, resnet."""

    def __init__(self, resnets, attention):
        super().__init__()
        if attention is not None:
            self.attentions = nn.ModuleList([attention])
        self.resnets = nn.ModuleList(resnets)

    def forward(self, h, temb):
        h = self.resnets[0](h, temb)
        if hasattr(self, "attentions"):
            h = self.attentions[0](h)
        for resnet in self.resnets[1:]:
            h = resnet(h, temb)
        return h


class UpBlock2D(nn.Module):
    """UpBlock2D / AttnUpBlock2D: each resnet takes cat(h, last skip)."""

    def __init__(self, resnets, attentions, upsample):
        super().__init__()
        if attentions is not None:
            self.attentions = nn.ModuleList(attentions)
        self.resnets = nn.ModuleList(resnets)
        if upsample is not None:
            self.upsamplers = nn.ModuleList([upsample])

    def forward(self, h, skips, temb):
        attentions = getattr(self, "attentions", None)
        for j, resnet in enumerate(self.resnets):
            h = torch.cat([h, skips[-1]], dim=1)
            skips = skips[:-1]
            h = resnet(h, temb)
            if attentions is not None:
                h = attentions[j](h)
        if hasattr(self, "upsamplers"):
            h = self.upsamplers[0](h)
        return h, skips


class UNet2DModel(nn.Module):
    """diffusers UNet2DModel for this project's UNetConfig JSON (layout "diffusers", GroupNorm,
    timestep conditioning injected in every block, nearest/conv resampling)."""

    def __init__(self, c):
        super().__init__()
        expected = {"layout": "diffusers", "norm": "group", "conditioning": "timestep",
                    "injection": "every-block", "upsampling": "nearest", "downsampling": "conv",
                    "conv_in_kernel": 3, "conv_out_kernel": 3, "norm_out": True,
                    "center_input_sample": False}
        for key, value in expected.items():
            if c[key] != value:
                raise SystemExit(f"peer_pytorch.py supports {key} = {value!r} only, got {c[key]!r}")
        self.c = c
        boc = c["block_out_channels"]
        levels = len(boc)
        groups, eps, ts = c["norm_num_groups"], c["norm_eps"], c["resnet_time_scale_shift"]
        temb_channels = 4 * boc[0]

        def head_dim(channels):
            return c["attention_head_dim"] or channels  # 0 / null: one head

        def resnet(cin, cout, scale=1.0):
            return ResnetBlock2D(cin, cout, temb_channels, groups, eps, c["dropout"], scale, ts)

        def attention(channels, with_norm=True, rescale=1.0):
            return Attention(channels, head_dim(channels), groups if with_norm else None, eps,
                             rescale)

        self.conv_in = nn.Conv2d(c["in_channels"], boc[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(boc[0], temb_channels)

        ch, skips, down = boc[0], [boc[0]], []
        for i in range(levels):
            out = boc[i]
            resnets = []
            for j in range(c["layers_per_block"]):
                resnets.append(resnet(ch if j == 0 else out, out))
                skips.append(out)
            ch = out
            attn = c["down_block_types"][i] == "AttnDownBlock2D"
            sampler = None
            if i < levels - 1:
                sampler = Downsample2D(out, c["downsample_padding"])
                skips.append(out)
            down.append(DownBlock2D(resnets, [attention(out) for _ in resnets] if attn else None,
                                    sampler))
        self.down_blocks = nn.ModuleList(down)

        mid, s = boc[-1], c["mid_block_scale_factor"]
        self.mid_block = MidBlock2D(
            [resnet(ch, mid, s), resnet(mid, mid, s)],
            attention(mid, ts == "default", s) if c["add_attention"] else None)
        ch = mid

        up = []
        for i in range(levels):
            out = boc[levels - 1 - i]
            resnets = []
            for j in range(c["layers_per_block"] + 1):
                resnets.append(resnet((ch if j == 0 else out) + skips.pop(), out))
            ch = out
            attn = c["up_block_types"][i] == "AttnUpBlock2D"
            up.append(UpBlock2D(resnets, [attention(out) for _ in resnets] if attn else None,
                                Upsample2D(out) if i < levels - 1 else None))
        self.up_blocks = nn.ModuleList(up)
        assert not skips, skips

        self.conv_norm_out = GroupNorm(groups, ch, eps=eps, affine=True)
        self.conv_out = nn.Conv2d(ch, c["out_channels"], 3, padding=1)

    def forward(self, sample, timesteps):
        c = self.c
        emb = timestep_embedding(timesteps.reshape(-1).expand(sample.shape[0]),
                                 c["block_out_channels"][0], c["flip_sin_to_cos"],
                                 c["freq_shift"])
        temb = self.time_embedding(emb.to(sample.dtype))
        h = self.conv_in(sample)
        skips = (h,)
        for block in self.down_blocks:
            h, res = block(h, temb)
            skips += res
        h = self.mid_block(h, temb)
        for block in self.up_blocks:
            h, skips = block(h, skips, temb)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


# ---------------------------------------------------------------------------------------------
# Diffusion: DDPM linear β (float64, as core/beta_schedule.cpp), q(x_t|x_0), DDIM η = 0.

def alphas_cumprod_linear(T, beta_start=1e-4, beta_end=0.02):
    scale = 1000.0 / T
    betas = torch.linspace(scale * beta_start, scale * beta_end, T, dtype=torch.float64)
    return torch.cumprod(1.0 - betas, dim=0)


def leading_timesteps(T, steps):
    """diffusers DDIMScheduler.set_timesteps, timestep_spacing = "leading", steps_offset 0."""
    ratio = T // steps
    return [int(i * ratio) for i in range(steps)][::-1]


def ddim_sample(model, alphas_cumprod, timesteps, x, autocast):
    """DDIM eq. (12) with η = 0, x̂_0 clipped to [−1, 1], ᾱ = 1 after the last step; the network
    under `autocast`, the update in float32."""
    for i, t in enumerate(timesteps):
        a = alphas_cumprod[t].item()
        a_prev = alphas_cumprod[timesteps[i + 1]].item() if i + 1 < len(timesteps) else 1.0
        with autocast():
            eps = model(x, torch.full((x.shape[0],), float(t), device=x.device)).float()
        x0 = ((x - math.sqrt(1 - a) * eps) / math.sqrt(a)).clamp(-1, 1)
        x = math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps
    return x


def reset_peak_rss():
    """Linux: freed heap memory goes back to the system (glibc malloc_trim, as ddpm_bench does),
    then VmHWM restarts from the current resident set (proc(5), clear_refs value 5)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_mib():
    """VmHWM of this process in MiB (0 where unavailable), as ddpm_bench reads its own."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def timed(work, warmup, repeats, device):
    """Seconds of each of `repeats` calls of work(), after `warmup` untimed calls; on a GPU each
    call ends when the device has finished its work."""
    def finish():
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    reset_peak_rss()
    for _ in range(warmup):
        work()
        finish()
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        work()
        finish()
        seconds.append(time.perf_counter() - t0)
    return seconds


def op_category(name):
    """bench/op_profile.cpp's op_category, so both sides are broken down alike."""
    if "conv" in name:
        return "convolution"
    if "bmm" in name or "softmax" in name:
        return "attention (QK, softmax, PV)"
    if name in ("aten::addmm", "aten::mm"):
        return "linear layers"
    if "group_norm" in name or "batch_norm" in name:
        return "normalization"
    if "silu" in name:
        return "SiLU"
    if "upsample" in name or "pool" in name:
        return "resampling"
    if any(k in name for k in ("lerp", "addcdiv", "addcmul", "sqrt")) or "Optimizer" in name:
        return "optimizer (AdamW)"
    return "elementwise, copies, other"


def profile(work, repeats):
    """Self time per category (ms per repeat) of work() under torch.autograd.profiler, as
    ddpm_bench's profile_ops measures ours; the wall time per repeat with the profiler on."""
    with torch.autograd.profiler.profile() as prof:
        t0 = time.perf_counter()
        for _ in range(repeats):
            work()
        wall_ms = (time.perf_counter() - t0) * 1e3 / repeats
    def in_optimizer(evt):
        while evt is not None:
            if evt.name.startswith("Optimizer.step"):
                return True
            evt = evt.cpu_parent
        return False

    categories = {}
    for evt in prof.function_events:
        if not evt.name.startswith("aten::") and not evt.name.startswith("Optimizer.step"):
            continue
        # Every operator torch.optim.AdamW runs counts as the optimizer (ours is one kernel).
        name = "optimizer (AdamW)" if in_optimizer(evt) else op_category(evt.name)
        categories[name] = categories.get(name, 0.0) + evt.self_cpu_time_total / 1e3 / repeats
    return {"total_ms": wall_ms, "categories": categories}


def summary(batch, seconds):
    """Timings of one task; peak_rss_mib is the resident-set high-water mark since timed()."""
    median = statistics.median(seconds)
    return {"batch": batch, "seconds": seconds, "median_s": median,
            "images_per_s": batch / median, "peak_rss_mib": peak_rss_mib()}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", required=True, help="UNetConfig JSON written by ddpm_bench")
    p.add_argument("--weights", required=True, help="model.safetensors written by ddpm_bench")
    p.add_argument("--check", required=True, help="safetensors with x, c and ours' output")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--train-batch", type=int, required=True)
    p.add_argument("--sample-batch", type=int, required=True)
    p.add_argument("--sample-steps", type=int, required=True)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--weight-decay", type=float, required=True)
    p.add_argument("--timesteps", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip", default="", help="comma-separated: train, sample (timings to skip)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"],
                   help="torch.autocast dtype (fp16 training with torch.cuda.amp.GradScaler)")
    p.add_argument("--compile", action="store_true", help="run the network through torch.compile")
    p.add_argument("--profile", action="store_true",
                   help="also report self time per operator category (train: 3 steps, sample: 1 run)")
    args = p.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    with open(args.config) as f:
        config = json.load(f)
    device = torch.device(args.device)
    model = UNet2DModel(config)
    model.load_state_dict(read_safetensors(args.weights), strict=True)
    model.to(device)
    net = torch.compile(model) if args.compile else model
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[args.precision]

    def autocast():
        # fp32: no autocast object at all (torch 1.13 refuses a float32 CPU autocast dtype even
        # when disabled).
        if args.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=dtype)
    shape = (config["in_channels"], config["sample_size"], config["sample_size"])
    result = {"torch_version": torch.__version__, "threads": torch.get_num_threads(),
              "parameters": sum(p.numel() for p in model.parameters())}

    # 1. Same input, same weights → same output (eval mode: no dropout).
    check = read_safetensors(args.check)
    model.eval()
    with torch.no_grad():
        out = model(check["x"].to(device), check["c"].to(device)).cpu()
    result["check"] = {"max_abs_diff": (out - check["out"]).abs().max().item(),
                       "max_abs_output": check["out"].abs().max().item()}

    alphas_cumprod = alphas_cumprod_linear(args.timesteps)

    # 2. Training step: DDPM Algorithm 1 on a fixed batch, MSE on ε, torch.optim.AdamW.
    if "train" not in skip:
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
        x0 = (torch.rand(args.train_batch, *shape) * 2 - 1).to(device)
        sqrt_ab = alphas_cumprod.sqrt().float().to(device)
        sqrt_1m_ab = (1 - alphas_cumprod).sqrt().float().to(device)
        scaler = torch.cuda.amp.GradScaler(enabled=args.precision == "fp16")

        def train_step():
            t = torch.randint(0, args.timesteps, (args.train_batch,), device=device)
            noise = torch.randn_like(x0)
            x_t = (sqrt_ab[t].view(-1, 1, 1, 1) * x0 +
                   sqrt_1m_ab[t].view(-1, 1, 1, 1) * noise)  # DDPM eq. (4)
            with autocast():
                out = net(x_t, t.float())
            loss = F.mse_loss(out.float(), noise)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()

        result["train"] = summary(args.train_batch,
                                  timed(train_step, args.warmup, args.repeats, device))
        if args.profile:
            result.setdefault("profile", {})["train"] = profile(train_step, 3)

    # 3. DDIM sampling: `sample_steps` network evaluations on one batch, no autograd.
    if "sample" not in skip:
        model.eval()
        timesteps = leading_timesteps(args.timesteps, args.sample_steps)
        x_T = torch.randn(args.sample_batch, *shape).to(device)

        def sample():
            with torch.no_grad():
                ddim_sample(net, alphas_cumprod, timesteps, x_T, autocast)

        result["sample"] = summary(args.sample_batch,
                                   timed(sample, args.warmup, args.repeats, device))
        if args.profile:
            result.setdefault("profile", {})["sample"] = profile(sample, 1)

    print(json.dumps(result))


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# The hostile-input table of docs/hostile-input.md (issue #13): each broken input given to the
# built `ddpm` program, with its exit status, its `error:` line and its peak memory
# (/usr/bin/time -v, "Maximum resident set size"). Prints a Markdown table.
#   scripts/hostile_input_table.sh [build/ddpm] > table.md
set -uo pipefail
cd "$(dirname "$0")/.."
ddpm=$(realpath "${1:-build/ddpm}")
tiny=$(realpath tests/fixtures/diffusers-0.21.4/tiny-unet)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The inputs: written by Python's standard library only (struct, json, zlib, gzip).
/usr/bin/python3 - "$work" "$tiny" <<'PY'
import gzip, json, os, shutil, struct, sys, zlib
work, tiny = sys.argv[1], sys.argv[2]
def put(path, data):
    path = os.path.join(work, path); os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, 'wb').write(data if isinstance(data, bytes) else data.encode())
def st(header, data=b''):
    h = json.dumps(header).encode()
    return struct.pack('<Q', len(h)) + h + data
f32 = lambda n: struct.pack('<%df' % n, *([0.0] * n))
# safetensors given as --init-noise
put('st/empty.safetensors', b'')
put('st/huge-header.safetensors', struct.pack('<Q', 2**63) + b'{}')
put('st/not-json.safetensors', struct.pack('<Q', 6) + b'{x: 1}')
put('st/dtype.safetensors', st({'x_T': {'dtype': 'F128', 'shape': [1], 'data_offsets': [0, 16]}}, bytes(16)))
put('st/shape-bytes.safetensors', st({'x_T': {'dtype': 'F32', 'shape': [1, 3, 16, 16], 'data_offsets': [0, 4]}}, bytes(4)))
put('st/huge-shape.safetensors', st({'x_T': {'dtype': 'F32', 'shape': [2**40, 2**40], 'data_offsets': [0, 4]}}, bytes(4)))
put('st/offsets.safetensors', st({'x_T': {'dtype': 'F32', 'shape': [1], 'data_offsets': [0, 2**62]}}, bytes(4)))
put('st/overlap.safetensors', st({'a': {'dtype': 'F32', 'shape': [2], 'data_offsets': [0, 8]},
                                  'x_T': {'dtype': 'F32', 'shape': [2], 'data_offsets': [4, 12]}}, bytes(12)))
put('st/wrong-name.safetensors', st({'noise': {'dtype': 'F32', 'shape': [1, 3, 16, 16], 'data_offsets': [0, 3072]}}, f32(768)))
put('st/wrong-shape.safetensors', st({'x_T': {'dtype': 'F32', 'shape': [1, 3, 8, 8], 'data_offsets': [0, 768]}}, f32(192)))
put('st/wrong-dtype.safetensors', st({'x_T': {'dtype': 'I32', 'shape': [1, 3, 16, 16], 'data_offsets': [0, 3072]}}, bytes(3072)))
# IDX: a Fashion-MNIST folder whose training images claim 65535 x 256 x 256 bytes (4 GiB)
idx = lambda magic, sizes, data=b'': struct.pack('>I', magic) + b''.join(struct.pack('>I', s) for s in sizes) + data
for name, data in [('train-images-idx3-ubyte.gz', idx(0x803, [65535, 256, 256])),
                   ('train-labels-idx1-ubyte.gz', idx(0x801, [1], b'\0')),
                   ('t10k-images-idx3-ubyte.gz', idx(0x803, [1, 28, 28], bytes(784))),
                   ('t10k-labels-idx1-ubyte.gz', idx(0x801, [1], b'\0'))]:
    put('idx-huge/' + name, gzip.compress(data))
put('idx-magic/train-images-idx3-ubyte.gz', gzip.compress(idx(0xd03, [1, 28, 28], bytes(784))))
for name in ['train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']:
    shutil.copy(os.path.join(work, 'idx-huge', name), os.path.join(work, 'idx-magic', name))
# images in a --data folder
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
def png(w, h, rows=None):
    raw = rows if rows is not None else b''.join(b'\0' + bytes(3 * w) for _ in range(h))
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) +
            chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
put('img-empty/a.png', b'')
put('img-truncated/a.png', png(16, 16)[:60])
put('img-huge-png/a.png', png(60000, 60000, rows=b''))
sof = b'\xff\xc0' + struct.pack('>HBHHB', 17, 8, 60000, 60000, 3) + b'\x01\x11\x00\x02\x11\x00\x03\x11\x00'
put('img-huge-jpg/a.jpg', b'\xff\xd8' + sof + b'\xff\xd9')
put('img-gif/a.png', b'GIF89a\x01\x00\x01\x00\x00\x00\x00;')
jpg = open('fuzz/corpus/image/rgb-8x8.jpg', 'rb').read()
put('img-truncated-jpg/a.jpg', jpg[:len(jpg) // 2])
put('img-fuzz-jpg/a.jpg', open('tests/fixtures/images/fuzz-progressive-huffman-overflow.jpg', 'rb').read())
# model folders: the tiny-unet fixture with one file broken
cfg = json.load(open(os.path.join(tiny, 'config.json')))
def model(name, config=None, scheduler=None, weights=None):
    d = os.path.join(work, 'models', name); os.makedirs(os.path.join(d, 'scheduler'))
    put(f'models/{name}/config.json', config if config is not None else json.dumps(cfg))
    put(f'models/{name}/scheduler/scheduler_config.json', scheduler if scheduler is not None else
        open(os.path.join(tiny, 'scheduler', 'scheduler_config.json')).read())
    w = open(os.path.join(tiny, 'diffusion_pytorch_model.safetensors'), 'rb').read()
    put(f'models/{name}/diffusion_pytorch_model.safetensors', weights if weights is not None else w)
    return w
w = model('ok')
model('not-json', config='{"sample_size": 16,')
model('sample-size', config=json.dumps({**cfg, 'sample_size': 1000000000}))
model('channels', config=json.dumps({**cfg, 'in_channels': -3}))
model('zero-channels', config=json.dumps({**cfg, 'block_out_channels': [0, 64]}))
model('levels', config=json.dumps({**cfg, 'block_out_channels': [32] * 70}))
model('type', config=json.dumps({**cfg, 'layers_per_block': '1'}))
model('class', config=json.dumps({**cfg, '_class_name': 'UNet2DConditionModel'}))
model('sched-class', scheduler=json.dumps({'_class_name': 'KarrasVeScheduler'}))
model('sched-steps', scheduler=json.dumps({'_class_name': 'DDIMScheduler', 'num_train_timesteps': 10**12}))
model('weights-cut', weights=w[:len(w) // 2])
# run configs given as --config
put('cfg/not-json.json', '{ training: 3 }')
put('cfg/zero-channels.json', json.dumps({'model': {'in_channels': 0}}))
put('cfg/wrong-type.json', json.dumps({'training': {'lr': 'fast'}}))
put('cfg/unknown.json', json.dumps({'training': {'learning_rate': 1e-4}}))
PY

out="$work/out"
row() {  # row "case" args...
  local name=$1
  shift
  local log="$work/log"
  (cd "$work" && /usr/bin/time -v "$@" >"$log.out" 2>"$log.err")
  local status
  status=$(sed -n 's/.*Exit status: //p' "$log.err")
  local signal
  signal=$(sed -n 's/.*Command terminated by signal //p' "$log.err")
  local rss
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log.err")
  local message
  message=$(grep -h '^error: ' "$log.out" "$log.err" | head -1 | sed "s|$work/||g; s/|/\\\\|/g")
  local lines
  lines=$(grep -hc '^error: ' "$log.out" "$log.err" | paste -sd+ | bc)
  [ -n "$signal" ] && status="signal $signal"
  printf '| %s | %s | %s | %s MiB | `%s` |\n' "$name" "$status" "$lines" "$((rss / 1024))" \
    "${message:0:220}"
}

sample=("$ddpm" sample --model "$tiny" --n 1 --out "$out/s.png")
train=("$ddpm" train --out "$out/run" --steps 1)
echo "| case | exit | error lines | peak RSS | message (temp folder removed) |"
echo "|---|---|---|---|---|"
row "baseline: --help (no error)" "$ddpm" --help
for f in empty huge-header not-json dtype shape-bytes huge-shape offsets overlap wrong-name \
  wrong-shape wrong-dtype; do
  row "safetensors --init-noise: $f" "${sample[@]}" --init-noise "$work/st/$f.safetensors"
done
row "IDX: header claims 4 GiB (16 bytes)" env DDPM_FASHION_MNIST_DIR="$work/idx-huge" "${train[@]}"
row "IDX: float magic 0x0d03" env DDPM_FASHION_MNIST_DIR="$work/idx-magic" "${train[@]}"
for d in img-empty img-truncated img-huge-png img-huge-jpg img-gif img-truncated-jpg img-fuzz-jpg; do
  row "image folder: $d" "${train[@]}" --data "$work/$d" --image-size 16
done
for m in not-json sample-size channels zero-channels levels type class sched-class sched-steps \
  weights-cut; do
  row "diffusers model: $m" "$ddpm" sample --model "$work/models/$m" --n 1 --out "$out/s.png"
done
for c in not-json zero-channels wrong-type unknown; do
  row "--config: $c" "${train[@]}" --config "$work/cfg/$c.json"
done
row "CLI: --n -1" "${sample[@]}" --n -1
row "CLI: --steps 0 (DDIM)" "${sample[@]}" --steps 0
row "CLI: --steps 5000 (T = 1000)" "${sample[@]}" --steps 5000
row "CLI: --batch-size 0" "${sample[@]}" --batch-size 0
row "CLI: --image-size 100000" "${train[@]}" --image-size 100000
row "CLI: --num-train-timesteps 1e10" "${train[@]}" --num-train-timesteps 10000000000
row "CLI: train --steps -5" "$ddpm" train --out "$out/run" --steps -5

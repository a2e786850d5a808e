#!/usr/bin/python3
"""Converts pytorch-fid's FID Inception weights to the .safetensors file `ddpm fid --inception`
reads.

  1. Download pt_inception-2015-12-05-6726825d.pth (95 MB) on a machine with internet access:
       https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth
     (pytorch-fid's FID_WEIGHTS_URL: TensorFlow's 2015-12-05 Inception graph, ported.)
  2. /usr/bin/python3 scripts/convert_fid_inception.py pt_inception-2015-12-05-6726825d.pth \
         pt_inception-2015-12-05.safetensors

Tensor names stay pytorch-fid's module names (Conv2d_1a_3x3.conv.weight, Mixed_5b.branch1x1.bn.
running_var, ..., fc.weight); BatchNorm's num_batches_tracked counters are dropped. The names and
shapes are checked against torchvision's Inception3(num_classes=1008, aux_logits=False), whose
modules pytorch-fid's FID blocks keep (they patch only forward()). Needs python3-torch and
python3-torchvision (scripts/setup.sh installs both); not the safetensors package.
"""
import hashlib
import json
import struct
import sys

import torch
import torchvision

EXPECTED_SHA256_PREFIX = "6726825d"  # pytorch-fid names the file after its hash's first digits


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    offset = 0
    for name in sorted(tensors):
        nbytes = tensors[name].numel() * 4
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in sorted(tensors):
            f.write(tensors[name].contiguous().numpy().astype("<f4").tobytes())


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source, target = sys.argv[1], sys.argv[2]
    with open(source, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if not digest.startswith(EXPECTED_SHA256_PREFIX):
        print(f"warning: {source} has sha256 {digest[:8]}..., not pytorch-fid's "
              f"{EXPECTED_SHA256_PREFIX}...", file=sys.stderr)
    state = torch.load(source, map_location="cpu")
    tensors = {k: v.float() for k, v in state.items() if not k.endswith("num_batches_tracked")}
    reference = torchvision.models.inception_v3(num_classes=1008, aux_logits=False, weights=None,
                                                init_weights=False)
    expected = {k: v.shape for k, v in reference.state_dict().items()
                if not k.endswith("num_batches_tracked")}
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in expected if k in tensors and tensors[k].shape != expected[k])
    if missing or extra or wrong:
        sys.exit(f"{source} is not pytorch-fid's FID Inception: missing {missing[:5]}, "
                 f"unexpected {extra[:5]}, mis-shaped {wrong[:5]}")
    write_safetensors(target, tensors, {"source": source.split("/")[-1], "sha256": digest,
                                        "converted_by": "scripts/convert_fid_inception.py"})
    print(f"wrote {target}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Installs every Debian package ddpm.cpp needs to build, test, run and benchmark.
# Idempotent: when everything is already installed it prints nothing and exits 0.
set -euo pipefail

packages=(
  build-essential cmake ccache pkg-config
  libtorch-dev            # LibTorch 1.13 (CPU, oneDNN, OpenMP)
  libgloo-dev             # the Gloo headers behind c10d::ProcessGroupGloo (training/process_group.h)
  nlohmann-json3-dev libcli11-dev libfmt-dev
  libstb-dev libpng-dev libjpeg-dev zlib1g-dev
  libyaml-dev             # ermongroup/ddim's config.yml (src/io/yaml.cpp)
  libcairo2-dev fonts-dejavu-core   # PNG plots with real text (src/io/plot.cpp)
  libcpp-httplib-dev libjs-chart.js # `ddpm serve`: HTTP server and the page's charts (src/dashboard/)
  chromium                # the dashboard's browser test (tests/dashboard/), run when installed
  libgtest-dev
  clang-format            # make format-check (.clang-format; Debian 12: clang-format 14)
  clang libclang-rt-dev   # make fuzz: libFuzzer and the sanitizer runtimes for clang
  libopenblas0-openmp     # optimised BLAS behind LibTorch (the default reference BLAS is ~2x slower)
  dataset-fashion-mnist   # the built-in default dataset (IDX .gz files)
  python3-torch python3-numpy   # the PyTorch peer for bench/
  python3-torchvision     # Inception3 reference for tests/fixtures/make_inception_fixture.py
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

echo "setup: installing ${missing[*]}"
sudo_cmd=()
[[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"

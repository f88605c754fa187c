#!/usr/bin/env bash
# Builds fc-local's offline runtime image (Debian minbase + nodejs + python3 with debugpy, numpy
# and wand + a headless JRE + ImageMagick and GraphicsMagick) without a registry: debootstrap a
# rootfs from the Debian mirror this machine's apt already uses, then `docker import`.
# Cached by tag: a second run with the image present returns at once.
#
# Usage: scripts/build-runtime-image.sh [--full] [TAG]    (default fc-local/runtime:offline-6)
#   --full  also FC's heavy Python built-ins (scipy, matplotlib, opencv, scrapy), tagged
#           <TAG>-full: fc-local runs a Python function that imports one of them on it (2 GB).
# Env:   FC_LOCAL_MIRROR  a Debian mirror URL to use instead of the one in the apt sources
#        FC_LOCAL_SUITE   the Debian suite (default: this machine's VERSION_CODENAME)
set -euo pipefail

full=0
if [ "${1:-}" = --full ]; then full=1; shift; fi
tag="${1:-${FC_LOCAL_RUNTIME_IMAGE:-fc-local/runtime:offline-6}}"
# FC's built-in modules need ImageMagick and GraphicsMagick (gm, wand), numpy and wand for Python.
# pip: `fc-local build --docker` installs a Python function's requirements.txt with it (pip install -t).
# php-cli and PSR-7 (guzzlehttp/psr7) for the php7.2 runtime.
packages="nodejs,python3,python3-pip,php-cli,php-guzzlehttp-psr7,openjdk-17-jre-headless,ca-certificates,imagemagick,graphicsmagick,python3-numpy,python3-wand"
if [ "$full" = 1 ]; then
  tag="$tag-full"
  packages="$packages,python3-scipy,python3-matplotlib,python3-opencv"
fi
# debugpy for --debug-port: unpacked from its packages, without their gdb dependency (only used
# to attach to a running pid, which fc-local never does).
debugpy_packages="python3-debugpy python3-pydevd python3-bytecode python3-coverage"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "runtime image $tag already present"
  exit 0
fi

# oss2 and tablestore (FC's Python built-ins too) have no Debian package: they come from the
# Python package index pip is set up for, where it answers.
pypi=0
if python3 -m pip --version >/dev/null 2>&1 && timeout 60 python3 -m pip download --quiet --no-deps -d "$(mktemp -d)" oss2 >/dev/null 2>&1; then
  pypi=1
fi
suite="${FC_LOCAL_SUITE:-}"
if [ -z "$suite" ] && [ -r /etc/os-release ]; then
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
fi
[ -n "$suite" ] || { echo "cannot tell the Debian suite; set FC_LOCAL_SUITE" >&2; exit 1; }

# The mirror: the first non-security Debian URI in the apt sources (deb822 or one-line format).
mirror="${FC_LOCAL_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' | grep -v -- '-security' | head -n1 || true)
fi
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' | grep -v -- '-security' | head -n1 || true)
fi
[ -n "$mirror" ] || { echo "no Debian mirror found in the apt sources; set FC_LOCAL_MIRROR" >&2; exit 1; }

command -v debootstrap >/dev/null || { echo "debootstrap is not installed (apt-get install -y debootstrap)" >&2; exit 1; }

work=$(mktemp -d /var/tmp/fc-local-rootfs.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "building $tag: debootstrap $suite (minbase + $packages)"
debootstrap --variant=minbase --include="$packages" "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
extract="$debugpy_packages"
if [ "$full" = 1 ]; then
  # scrapy: unpacked with the packages it needs that the rootfs lacks, not configured (Debian's
  # python3-bcrypt, one of them, fails to configure under debootstrap; Python needs no configure).
  installed=$(chroot "$work/rootfs" dpkg-query -W -f '${Package}\n')
  closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances python3-scrapy 2>/dev/null | grep -v '^ ' | grep -v '^<' | sort -u)
  extract="$extract $(comm -23 <(echo "$closure") <(echo "$installed" | sort -u) | tr '\n' ' ')"
fi
(cd "$work" && { apt-get download $extract >/dev/null 2>&1 || { apt-get update -qq && apt-get download $extract >/dev/null; }; })
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/rootfs"; done
if [ "$pypi" = 1 ]; then
  cp /etc/resolv.conf "$work/rootfs/etc/resolv.conf"
  chroot "$work/rootfs" python3 -m pip install --quiet --break-system-packages oss2 tablestore ||
    echo "warning: oss2 and tablestore could not be installed: importing them in a function says how to package them" >&2
  : >"$work/rootfs/etc/resolv.conf"
else
  echo "no Python package index answers here: oss2 and tablestore are not in $tag (importing them in a function says how to package them)"
fi
# Slim the image: caches and docs are not needed to run functions.
rm -rf "$work/rootfs/var/cache/apt/archives"/*.deb "$work/rootfs/var/lib/apt/lists"/* \
  "$work/rootfs/usr/share/doc" "$work/rootfs/usr/share/man" "$work/rootfs/usr/share/locale"
tar -C "$work/rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'WORKDIR /code' - "$tag" >/dev/null
docker run --rm "$tag" sh -c 'node --version && python3 --version && python3 -c "import debugpy, numpy, wand.image" && gm version | head -n1 && convert -version | head -n1 && java -version 2>&1 | head -n1 && php -r "require \"/usr/share/php/GuzzleHttp/Psr7/autoload.php\"; echo PHP_VERSION, \" with guzzlehttp/psr7\\n\";"'
[ "$full" = 1 ] && docker run --rm --network none "$tag" python3 -c "import scipy, matplotlib, cv2, scrapy; print('full: scipy', scipy.__version__, 'matplotlib', matplotlib.__version__, 'opencv', cv2.__version__, 'scrapy', scrapy.__version__)"
echo "built $tag"

#!/bin/sh
# Builds the podman test images offline (no registry): a busybox-static root
# plus the statically linked bs_misbehave helper, imported with `podman import`.
#
#   build_test_image.sh BUSYBOX MISBEHAVE_STATIC WORKDIR IMAGE
#
# Makes IMAGE:latest (CMD /bin/sh) and IMAGE:entrypoint (ENTRYPOINT
# ["/bin/echo", "entrypoint-says"]). Re-imports only when the inputs changed
# (stamp file in WORKDIR). Then probes `podman run --rm IMAGE:latest true` and
# writes the outcome to WORKDIR/probe.txt: "ok", or the reason podman cannot
# run containers here (the tests then skip, printing it). Exits non-zero only
# when podman works but the image cannot be built.
# Writes nothing outside WORKDIR except podman's own storage.
set -eu
busybox=$1 misbehave=$2 work=$3 image=$4
mkdir -p "$work"
probe="$work/probe.txt"
rm -f "$probe"

if ! command -v podman >/dev/null 2>&1; then
  echo "podman not found in PATH" > "$probe"
  echo "podman tests will be skipped: podman not found in PATH"
  exit 0
fi
[ -x "$busybox" ] || { echo "busybox-static not found at $busybox (apt-get install busybox-static)" >&2; exit 1; }

# The ulimits of containers.conf must be within this shell's hard limits.
check_limit() {  # NAME "LINE IN /proc/self/limits" NEEDED
  have=$(awk -v l="$2" 'index($0, l) == 1 { print $(NF - 1) }' /proc/self/limits)
  if [ "$have" != unlimited ] && [ "$have" -lt "$3" ]; then
    echo "hard limit $1 is $have, below the $3 that tests/podman/containers.conf sets" > "$probe"
    cat "$probe" >&2
    exit 1
  fi
}
check_limit nofile "Max open files" 1024
check_limit nproc "Max processes" 4096

stamp="$work/image.stamp"
want=$(cat "$busybox" "$misbehave" "$0" | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
   podman image exists "$image:latest" && podman image exists "$image:entrypoint"; then
  echo "test images up to date"
else
  root="$work/rootfs"
  rm -rf "$root"
  mkdir -p "$root/bin" "$root/usr/local/bin" "$root/etc" "$root/proc" "$root/sys" \
           "$root/dev" "$root/data" "$root/tmp"
  chmod 1777 "$root/tmp"
  cp "$busybox" "$root/bin/busybox"
  for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  cp "$misbehave" "$root/usr/local/bin/bs_misbehave"
  echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
  echo "root:x:0:" > "$root/etc/group"
  tar -C "$root" -cf "$work/rootfs.tar" .
  podman import -q --change 'CMD ["/bin/sh"]' \
    --change 'ENV PATH=/usr/local/bin:/bin' "$work/rootfs.tar" "$image:latest" >/dev/null
  podman import -q --change 'ENTRYPOINT ["/bin/echo", "entrypoint-says"]' \
    --change 'ENV PATH=/usr/local/bin:/bin' "$work/rootfs.tar" "$image:entrypoint" >/dev/null
  rm -rf "$root" "$work/rootfs.tar"
  echo "$want" > "$stamp"
  echo "imported $image:latest and $image:entrypoint"
fi

if err=$(podman run --rm --pull=never "$image:latest" true 2>&1 </dev/null); then
  echo ok > "$probe"
else
  printf 'podman cannot run containers here: %s\n' "$err" > "$probe"
  cat "$probe"
fi

# Sourced by the Arm64 scripts here: qemu-user and Arm64's C libraries, and how to run an Arm64 executable with them.

# Installs qemu-user-static and Arm64's C libraries when missing (Debian packages).
arm64_setup() {
  local need=()
  command -v qemu-aarch64-static >/dev/null 2>&1 || need+=(qemu-user-static)
  [ -e /usr/aarch64-linux-gnu/lib/libc.so.6 ] || need+=(libc6-arm64-cross)
  [ -e /usr/aarch64-linux-gnu/lib/libstdc++.so.6 ] || need+=(libstdc++6-arm64-cross)
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]} (Arm64 emulation)" >&2
    apt-get update -qq && apt-get install -y -qq "${need[@]}"
  fi
}

# Publishes project $1 self-contained for linux-arm64 into folder $2, extra msbuild arguments after them (the Arm64
# runtime comes from NuGet: no Arm64 dotnet is needed). Prints the build's output only when it fails.
arm64_publish() {
  local project=$1 out=$2
  shift 2
  if ! dotnet publish "$project" -c Release -r linux-arm64 --self-contained -p:InvariantGlobalization=true \
    -p:PublishReadyToRun=false -o "$out" "$@" >"$out.log" 2>&1; then
    cat "$out.log"
    return 1
  fi
  rm -f "$out.log"
}

# Runs an Arm64 executable under qemu-user. W^X makes the runtime map its code twice, which qemu-user 7.2 handles
# poorly: off under emulation.
arm64_exec() {
  DOTNET_EnableWriteXorExecute=0 qemu-aarch64-static -L /usr/aarch64-linux-gnu "$@"
}
